"""A corrupted file store is reported, not fatal: an unreadable run or experiment meta.yaml is skipped by
listings with one warning naming the file; asking for it by id raises a TrackletException naming it."""

from __future__ import annotations

import shutil
import warnings

import pytest

from tracklet.exceptions import TrackletException
from tracklet.tracking.entities import Metric, ViewType
from tracklet.tracking.stores.file import FileStore, StoreCorruptionWarning

T0 = 1_700_000_000_000


def _truncate(path):
    text = path.read_text()
    path.write_text(text[: len(text) // 2])


def _to_directory(path):
    path.unlink()
    path.mkdir()
    (path / "x").write_text("x")


CORRUPTIONS = {
    "invalid-yaml": lambda p: p.write_text("run_id: [unclosed\nstatus: {\n"),
    "truncated": _truncate,
    "non-utf8": lambda p: p.write_bytes(b"run_id: \xff\xfe\x80\nstatus: 1\n"),
    "a-directory": _to_directory,
    "unknown-yaml-tag": lambda p: p.write_text("!!python/object/apply:os.system ['echo hi']\n"),
    "empty": lambda p: p.write_text(""),
    "not-a-mapping": lambda p: p.write_text("- a\n- b\n"),
    "mistyped": lambda p: p.write_text(p.read_text().replace("start_time: ", "start_time: soon-")),
}


def _warnings_naming(record, path) -> list:
    return [w for w in record if issubclass(w.category, StoreCorruptionWarning) and str(path) in str(w.message)]


@pytest.fixture
def root(tmp_path):
    return tmp_path / "mlruns"


@pytest.mark.parametrize("corrupt", sorted(CORRUPTIONS))
def test_a_corrupted_run_meta_is_skipped_by_search_and_named_by_get_run(root, corrupt):
    store = FileStore(str(root))
    good = store.create_run("0", "u", T0, [], "good").info.run_id
    bad = store.create_run("0", "u", T0, [], "bad").info.run_id
    store.log_metric(good, Metric("m", 1.0, T0, 0))
    meta = root / "0" / bad / "meta.yaml"
    CORRUPTIONS[corrupt](meta)
    store = FileStore(str(root))  # nothing cached
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        for _ in range(3):
            found = store.search_runs(["0"], "attributes.status != 'x'", ViewType.ALL, 10, None, None)
            assert [r.info.run_id for r in found] == [good]
            assert [r.info.run_id for r in store.search_runs(["0"], None, ViewType.ALL, 10, None, None)] == [good]
    assert len(_warnings_naming(record, meta)) == 1, [str(w.message) for w in record]
    with pytest.raises(TrackletException, match="corrupted") as info:
        store.get_run(bad)
    assert str(meta) in str(info.value)
    assert store.get_run(good).data.metrics == {"m": 1.0}


EXPERIMENT_CORRUPTIONS = {
    **{
        k: CORRUPTIONS[k] for k in ("invalid-yaml", "truncated", "non-utf8", "a-directory", "unknown-yaml-tag", "empty")
    },
    "mistyped": lambda p: p.write_text(p.read_text().replace("creation_time: ", "creation_time: x")),
}


@pytest.mark.parametrize("corrupt", sorted(EXPERIMENT_CORRUPTIONS))
def test_a_corrupted_experiment_meta_is_skipped_by_search_experiments(root, corrupt):
    store = FileStore(str(root))
    good = store.create_experiment("good")
    bad = store.create_experiment("bad")
    meta = root / bad / "meta.yaml"
    EXPERIMENT_CORRUPTIONS[corrupt](meta)
    store = FileStore(str(root))
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        for _ in range(2):
            ids = [e.experiment_id for e in store.search_experiments(ViewType.ALL, order_by=["creation_time"])]
            assert sorted(ids) == ["0", good]
        assert store.get_experiment_by_name("good").experiment_id == good
        assert int(store.create_experiment("next")) == int(bad) + 1  # the id stays taken
    assert len(_warnings_naming(record, meta)) == 1, [str(w.message) for w in record]
    with pytest.raises(TrackletException, match="corrupted") as info:
        store.get_experiment(bad)
    assert str(meta) in str(info.value)


def test_garbage_metric_lines_are_skipped_with_one_warning(root):
    store = FileStore(str(root))
    run_id = store.create_run("0", "u", T0, [], "r").info.run_id
    store.log_metric(run_id, Metric("m", 1.0, T0, 0))
    path = root / "0" / run_id / "metrics" / "m"
    with open(path, "ab") as f:
        f.write(b"garbage\n\xff\xfe 1 2\n1 2 3 4 5\n" + f"{T0} 2.0 1\n".encode())
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        for _ in range(2):
            assert store.get_run(run_id).data.metrics == {"m": 2.0}
            assert [m.value for m in store.get_metric_history(run_id, "m")] == [1.0, 2.0]
    assert len(_warnings_naming(record, path)) == 1, [str(w.message) for w in record]


def test_a_run_folder_without_meta_is_skipped_silently(root):
    """A run being created (meta.yaml is written last) is not a corruption."""
    store = FileStore(str(root))
    run_id = store.create_run("0", "u", T0, [], "r").info.run_id
    shutil.copytree(root / "0" / run_id, root / "0" / ("c" * 32))
    (root / "0" / ("c" * 32) / "meta.yaml").unlink()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(store.search_runs(["0"], None, ViewType.ALL, 10, None, None)) == 1


def test_a_corrupted_dataset_meta_is_skipped_with_one_warning(root):
    from tracklet.tracking.entities import Dataset, DatasetInput, RunTag

    store = FileStore(str(root))
    run_id = store.create_run("0", "u", T0, [], "r").info.run_id
    for name in ("iris", "wine"):
        dataset = Dataset(name=name, digest="d", source_type="code", source="{}")
        store.log_inputs(run_id, [DatasetInput(dataset, (RunTag("mlflow.data.context", "train"),))])
    bad = next(p for p in (root / "0" / "datasets").glob("*/meta.yaml") if "iris" in p.read_text())
    bad.write_bytes(b"name: [iris\n")
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        for _ in range(2):
            inputs = store.get_run(run_id).inputs.dataset_inputs
            assert [i.dataset.name for i in inputs] == ["wine"]
            found = store.search_runs(["0"], "datasets.name = 'wine'", ViewType.ALL, 10, None, None)
            assert [r.info.run_id for r in found] == [run_id]
    assert len(_warnings_naming(record, bad)) == 1, [str(w.message) for w in record]
