"""FileStore specifics: the mlruns layout on disk, atomic writes, the run lookup cache, several processes
on one folder, .trash, and keys that must never escape their folder. (The behaviour every store shares
is in test_contract.py.)"""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import pathlib
import threading

import pytest
import yaml

from tracklet.exceptions import InvalidParameterValue, ResourceDoesNotExist
from tracklet.tracking.entities import Metric, Param, RunStatus, RunTag, ViewType
from tracklet.tracking.stores import file_io
from tracklet.tracking.stores.file import FileStore

T0 = 1_700_000_000_000
RUN_META_KEYS = {
    "artifact_uri",
    "end_time",
    "entry_point_name",
    "experiment_id",
    "lifecycle_stage",
    "run_id",
    "run_uuid",
    "run_name",
    "source_name",
    "source_type",
    "source_version",
    "start_time",
    "status",
    "tags",
    "user_id",
}
EXPERIMENT_META_KEYS = {
    "artifact_location",
    "creation_time",
    "experiment_id",
    "last_update_time",
    "lifecycle_stage",
    "name",
}


@pytest.fixture
def root(tmp_path) -> pathlib.Path:
    return tmp_path / "mlruns"


@pytest.fixture
def store(root) -> FileStore:
    return FileStore(str(root))


def _meta(path: pathlib.Path) -> dict:
    return yaml.safe_load((path / "meta.yaml").read_text())


def _mp():
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


def _all_files(root: pathlib.Path) -> list[str]:
    return [os.path.join(d, f) for d, _, files in os.walk(root) for f in files]


# ============================================================================ layout


def test_default_experiment_and_trash_created(root, store):
    assert (root / ".trash").is_dir()
    meta = _meta(root / "0")
    assert set(meta) == EXPERIMENT_META_KEYS
    assert meta["name"] == "Default" and meta["lifecycle_stage"] == "active"
    assert meta["artifact_location"] == (root / "0").as_uri()
    assert "experiment_id: '0'" in (root / "0" / "meta.yaml").read_text()  # a quoted string, as MLflow writes it
    FileStore(str(root))  # opening again keeps it
    assert sorted(p.name for p in root.iterdir() if p.is_dir()) == [".trash", "0"]


def test_run_layout_on_disk(root, store):
    eid = store.create_experiment("layout", tags=[RunTag("team", "cv"), RunTag("a/b", "nested")])
    assert (root / eid / "tags" / "team").read_text() == "cv"
    assert (root / eid / "tags" / "a" / "b").read_text() == "nested"
    run = store.create_run(eid, "alice", T0, [RunTag("k", "v")], "my-run")
    rid = run.info.run_id
    run_dir = root / eid / rid
    assert len(rid) == 32 and int(rid, 16) >= 0
    for sub in ("metrics", "params", "tags", "artifacts"):
        assert (run_dir / sub).is_dir()
    meta = _meta(run_dir)
    assert set(meta) == RUN_META_KEYS
    assert meta["status"] == 1 and meta["source_type"] == 4 and meta["tags"] == []
    assert meta["run_id"] == meta["run_uuid"] == rid and meta["run_name"] == "my-run"
    assert meta["experiment_id"] == eid and meta["user_id"] == "alice" and meta["start_time"] == T0
    assert meta["artifact_uri"] == f"{(root / eid).as_uri()}/{rid}/artifacts"
    assert (run_dir / "tags" / "mlflow.runName").read_text() == "my-run"

    store.log_batch(
        rid,
        [
            Metric("acc", 0.5, T0, 0),
            Metric("acc", math.nan, T0 + 1, 1),
            Metric("loss/train", math.inf, T0, 2),
            Metric("neg", -math.inf, T0, 0),
            Metric("int", 3, T0, 0),
        ],
        [Param("lr", "0.01"), Param("none", None)],
        [RunTag("note", "line1\nline2")],
    )
    assert (run_dir / "metrics" / "acc").read_text() == f"{T0} 0.5 0\n{T0 + 1} nan 1\n"
    assert (run_dir / "metrics" / "loss" / "train").read_text() == f"{T0} inf 2\n"
    assert (run_dir / "metrics" / "neg").read_text() == f"{T0} -inf 0\n"
    assert (run_dir / "metrics" / "int").read_text() == f"{T0} 3.0 0\n"
    assert (run_dir / "params" / "lr").read_bytes() == b"0.01"
    assert (run_dir / "params" / "none").read_bytes() == b""
    assert (run_dir / "tags" / "note").read_bytes() == b"line1\nline2"

    store.update_run_info(rid, RunStatus.FINISHED, T0 + 9, None)
    meta = _meta(run_dir)
    assert meta["status"] == 3 and meta["end_time"] == T0 + 9
    store.set_tag(rid, RunTag("mlflow.runName", "renamed"))
    assert _meta(run_dir)["run_name"] == "renamed"


def test_soft_delete_writes_deleted_time_restore_removes_it(root, store):
    run = store.create_run("0", "u", T0, [], "r")
    run_dir = root / "0" / run.info.run_id
    store.delete_run(run.info.run_id)
    meta = _meta(run_dir)
    assert meta["lifecycle_stage"] == "deleted" and isinstance(meta["deleted_time"], int)
    store.restore_run(run.info.run_id)
    meta = _meta(run_dir)
    assert meta["lifecycle_stage"] == "active" and "deleted_time" not in meta


def test_deleted_experiment_moves_to_trash_and_back(root, store):
    eid = store.create_experiment("trash-me")
    rid = store.create_run(eid, "u", T0, [], "r").info.run_id
    store.log_metric(rid, Metric("m", 1.0, T0, 0))
    store.delete_experiment(eid)
    assert not (root / eid).exists()
    assert _meta(root / ".trash" / eid)["lifecycle_stage"] == "deleted"
    assert _meta(root / ".trash" / eid / rid)["lifecycle_stage"] == "deleted"
    assert store.get_run(rid).data.metrics == {"m": 1.0}  # found in its new place
    store.restore_experiment(eid)
    assert not (root / ".trash" / eid).exists()
    assert _meta(root / eid)["lifecycle_stage"] == "active"
    assert store.get_run(rid).info.lifecycle_stage == "active"
    # ids keep counting past experiments in .trash
    store.delete_experiment(eid)
    assert int(store.create_experiment("next")) == int(eid) + 1


def test_atomic_writes_leave_no_temp_files_and_readers_never_see_partial_meta(root, store):
    rid = store.create_run("0", "u", T0, [], "r").info.run_id
    meta_path = root / "0" / rid / "meta.yaml"
    problems = []
    stop = threading.Event()

    def reader():
        while not stop.is_set():
            try:
                meta = yaml.safe_load(meta_path.read_text())
                if not meta or meta["run_id"] != rid:
                    problems.append(meta)
            except Exception as exc:  # pragma: no cover - reported below
                problems.append(exc)

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for i in range(40):
            store.update_run_info(rid, None, None, f"name-{i}")
            store.set_tag(rid, RunTag("t", "x" * (i % 7)))
    finally:
        stop.set()
        thread.join()
    assert problems == []
    store.record_logged_model(rid, {"artifact_path": "m"})
    store.set_experiment_tag("0", RunTag("e", "1"))
    store.rename_experiment(store.create_experiment("x"), "y")
    assert [f for f in _all_files(root) if os.path.basename(f).startswith(file_io.TMP_PREFIX)] == []


def test_rejected_batch_writes_no_file(root, store):
    rid = store.create_run("0", "u", T0, [], "r").info.run_id
    store.log_param(rid, Param("p", "1"))
    before = sorted(_all_files(root / "0" / rid))
    with pytest.raises(InvalidParameterValue):
        store.log_batch(rid, [Metric("m", 1.0, T0, 0)], [Param("new", "x"), Param("p", "2")], [RunTag("t", "v")])
    with pytest.raises(InvalidParameterValue):
        store.log_batch(rid, [Metric("ok", 1.0, T0, 0), Metric("ok/sub", 1.0, T0, 0)], [], [])
    assert sorted(_all_files(root / "0" / rid)) == before


# ============================================================================ reading foreign and legacy files


def test_legacy_mlflow_1x_run_is_read(root, store):
    """1.x wrote no run_name (the tag held it), an int experiment_id, and 2-field metric lines."""
    run_dir = root / "0" / ("a" * 32)
    for sub in ("metrics", "params", "tags", "artifacts"):
        (run_dir / sub).mkdir(parents=True)
    (run_dir / "meta.yaml").write_text(
        "artifact_uri: /somewhere/artifacts\nend_time: null\nentry_point_name: ''\nexperiment_id: 0\n"
        f"lifecycle_stage: active\nname: ''\nrun_uuid: {'a' * 32}\nsource_name: ''\nsource_type: 4\n"
        "source_version: ''\nstart_time: 1600000000000\nstatus: 3\ntags: []\nuser_id: old\n"
    )
    (run_dir / "metrics" / "acc").write_text("1600000000001 0.5\n1600000000002 0.75\n")
    (run_dir / "tags" / "mlflow.runName").write_text("legacy-name")
    run = store.get_run("a" * 32)
    assert run.info.run_name == "legacy-name" and run.info.status == RunStatus.FINISHED
    assert run.info.experiment_id == "0" and run.info.user_id == "old"
    assert run.data.metrics == {"acc": 0.75}
    assert [(m.value, m.step) for m in store.get_metric_history("a" * 32, "acc")] == [(0.5, 0), (0.75, 0)]
    found = store.search_runs(["0"], "attributes.run_name = 'legacy-name'", ViewType.ALL, 10, None, None)
    assert [r.info.run_id for r in found] == ["a" * 32]


def test_appends_by_other_writers_are_seen_and_partial_lines_ignored(root, store):
    rid = store.create_run("0", "u", T0, [], "r").info.run_id
    store.log_metric(rid, Metric("m", 1.0, T0, 0))
    assert store.get_run(rid).data.metrics == {"m": 1.0}
    path = root / "0" / rid / "metrics" / "m"
    with open(path, "a") as f:
        f.write(f"{T0} 2.0 1\n{T0} 3.0 2")  # the last line is still being written
    assert store.get_run(rid).data.metrics == {"m": 2.0}
    assert len(store.get_metric_history(rid, "m")) == 2
    with open(path, "a") as f:
        f.write("\n")
    assert store.get_run(rid).data.metrics == {"m": 3.0}
    assert store.search_runs(["0"], "metrics.m = 3", ViewType.ACTIVE_ONLY, 10, None, None)[0].info.run_id == rid


def test_malformed_and_foreign_folders_are_ignored(root, store):
    (root / "77").mkdir()  # an experiment folder caught before its meta.yaml was written
    (root / "models").mkdir()  # MLflow's file model registry
    (root / "0" / ("b" * 32)).mkdir()  # a run folder without meta.yaml
    (root / "0" / "datasets").mkdir()
    assert [e.experiment_id for e in store.search_experiments(view_type=ViewType.ALL)] == ["0"]
    with pytest.raises(ResourceDoesNotExist):
        store.get_experiment("77")
    with pytest.raises(ResourceDoesNotExist):
        store.get_run("b" * 32)
    rid = store.create_run("0", "u", T0, [], "r").info.run_id
    assert [r.info.run_id for r in store.search_runs(["0"], None, ViewType.ALL, 10, None, None)] == [rid]
    assert int(store.create_experiment("after-77")) == 78


def test_flat_meta_parser_agrees_with_yaml():
    values = [
        "",
        "0",
        "01",
        "-3",
        "1.5",
        "1e3",
        "true",
        "No",
        "null",
        "~",
        "a b",
        "a: b",
        "a #b",
        "x'y",
        "'q'",
        '"q"',
        "file:///tmp/a b",
        "run-1",
        "2023-01-01",
        "0x1F",
        "0b1",
        "1:20",
        ".inf",
        "é",
        "a\nb",
        " lead",
        "trail ",
        "word " * 30,
        "-x",
        "[a]",
        "a\tb",
        "4f2a9c",
        "123",
        None,
        7,
        [],
        {},
    ]
    for value in values:
        text = file_io.dump_yaml({"k": value, "status": 3, "experiment_id": "12"})
        parsed = file_io.parse_flat_yaml(text)
        expected = yaml.safe_load(text)
        if parsed is not None:
            assert parsed == expected and type(parsed["k"]) is type(expected["k"]), value
        loaded = file_io.load_yaml_text(text)
        assert loaded == expected


# ============================================================================ lookup cache, other instances, processes


def test_runs_created_by_another_instance_are_found(root, store):
    other = FileStore(str(root))
    eid = other.create_experiment("from-other")
    rid = other.create_run(eid, "u", T0, [], "r").info.run_id
    store.log_metric(rid, Metric("m", 1.0, T0, 0))  # a cache miss: found by the scan, then cached
    assert store._layout.run_experiment[rid] == eid
    assert other.get_run(rid).data.metrics == {"m": 1.0}
    other.delete_experiment(eid)  # the run moves to .trash behind this store's back
    assert store.get_run(rid).info.lifecycle_stage == "deleted"
    other.restore_experiment(eid)
    other.update_run_info(rid, RunStatus.FAILED, T0 + 1, None)
    assert store.get_run(rid).info.status == RunStatus.FAILED


def _create_run_in_child(root: str, queue) -> None:
    s = FileStore(root)
    rid = s.create_run("0", "child", T0, [], "from-child").info.run_id
    s.log_batch(rid, [Metric("m", 5.0, T0, 0)], [Param("p", "child")], [])
    queue.put(rid)


def test_run_created_by_another_process_is_found(root, store):
    ctx = _mp()
    queue = ctx.Queue()
    proc = ctx.Process(target=_create_run_in_child, args=(str(root), queue))
    proc.start()
    rid = queue.get(timeout=60)
    proc.join(60)
    run = store.get_run(rid)
    assert run.info.run_name == "from-child" and run.data.metrics == {"m": 5.0} and run.data.params == {"p": "child"}


def _log_from_process(root: str, rid: str, worker: int, barrier) -> None:
    s = FileStore(root)
    barrier.wait()
    for b in range(20):
        s.log_batch(
            rid,
            [Metric("shared", float(worker), T0 + b, worker * 1000 + b * 10 + i) for i in range(10)],
            [Param(f"w{worker}-{b}", str(b))],
            [RunTag(f"last-{worker}", str(b))],
        )
        s.record_logged_model(rid, {"artifact_path": f"{worker}-{b}"})


def test_two_processes_logging_to_one_run_lose_nothing(root, store):
    rid = store.create_run("0", "u", T0, [], "shared").info.run_id
    ctx = _mp()
    barrier = ctx.Barrier(2)
    procs = [ctx.Process(target=_log_from_process, args=(str(root), rid, w, barrier)) for w in (1, 2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0]
    history = store.get_metric_history(rid, "shared")
    assert len(history) == 400
    assert sorted(m.step for m in history) == sorted(
        w * 1000 + b * 10 + i for w in (1, 2) for b in range(20) for i in range(10)
    )
    data = store.get_run(rid).data
    assert len(data.params) == 40
    assert data.tags["last-1"] == data.tags["last-2"] == "19"
    models = json.loads(data.tags["mlflow.log-model.history"])
    assert sorted(m["artifact_path"] for m in models) == sorted(f"{w}-{b}" for w in (1, 2) for b in range(20))


def test_concurrent_conflicting_params_one_wins(store):
    rid = store.create_run("0", "u", T0, [], "r").info.run_id
    outcomes = []

    def worker(value):
        try:
            store.log_param(rid, Param("p", value))
            outcomes.append(("ok", value))
        except InvalidParameterValue:
            outcomes.append(("rejected", value))

    threads = [threading.Thread(target=worker, args=(str(i),)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [v for kind, v in outcomes if kind == "ok"]
    assert len(winners) == 1 and store.get_run(rid).data.params == {"p": winners[0]}


# ============================================================================ path safety


def test_keys_never_escape_their_folder(root, store):
    rid = store.create_run("0", "u", T0, [], "r").info.run_id
    run_dir = root / "0" / rid
    for bad in ("../x", "/abs", "a/../../x", "a//b", "..", "."):
        with pytest.raises(InvalidParameterValue):
            store.log_batch(rid, [Metric(bad, 1.0, T0, 0)], [], [])
        with pytest.raises(InvalidParameterValue):
            store.log_param(rid, Param(bad, "v"))
        with pytest.raises(InvalidParameterValue):
            store.set_tag(rid, RunTag(bad, "v"))
        with pytest.raises(InvalidParameterValue):
            store.set_experiment_tag("0", RunTag(bad, "v"))
    assert store.get_metric_history(rid, "../meta.yaml") == []
    assert store.get_metric_history(rid, "../../meta.yaml") == []
    with pytest.raises(ResourceDoesNotExist):
        store.delete_tag(rid, "../meta.yaml")
    with pytest.raises(ResourceDoesNotExist):
        store.delete_experiment_tag("0", "../meta.yaml")
    assert (run_dir / "meta.yaml").exists() and (root / "0" / "meta.yaml").exists()
    assert store.search_runs(["0"], "params.`../meta.yaml` LIKE '%'", ViewType.ALL, 10, None, None) == []
    for bad_id in ("../0", "..", "0/..", "a/b"):
        with pytest.raises(ResourceDoesNotExist):
            store.get_run(bad_id)
        with pytest.raises(ResourceDoesNotExist):
            store.get_experiment(bad_id)
        assert store.search_runs([bad_id], None, ViewType.ALL, 10, None, None) == []
    assert sorted(p.name for p in root.iterdir()) == [".lock", ".trash", "0"]


def test_key_that_is_a_prefix_of_another_key_is_rejected(root, store):
    rid = store.create_run("0", "u", T0, [], "r").info.run_id
    store.log_metric(rid, Metric("a", 1.0, T0, 0))
    with pytest.raises(InvalidParameterValue, match="prefix"):
        store.log_metric(rid, Metric("a/b", 1.0, T0, 0))
    store.log_metric(rid, Metric("c/d", 1.0, T0, 0))
    with pytest.raises(InvalidParameterValue, match="prefix"):
        store.log_metric(rid, Metric("c", 1.0, T0, 0))
    store.log_param(rid, Param("p/q", "1"))
    with pytest.raises(InvalidParameterValue):
        store.log_param(rid, Param("p", "1"))
    store.set_tag(rid, RunTag("t/u", "1"))
    store.delete_tag(rid, "t/u")  # removes the emptied folder too, so "t" is free again
    store.set_tag(rid, RunTag("t", "1"))
    assert store.get_run(rid).data.metrics == {"a": 1.0, "c/d": 1.0}


def test_file_uri_root_and_artifact_root(tmp_path):
    store = FileStore("file://" + str(tmp_path / "uri-root"))
    assert store.root_directory == str(tmp_path / "uri-root")
    assert (tmp_path / "uri-root" / "0" / "meta.yaml").exists()
    custom = FileStore(str(tmp_path / "other"), str(tmp_path / "art"))
    eid = custom.create_experiment("e")
    assert custom.get_experiment(eid).artifact_location == f"{(tmp_path / 'art').as_uri()}/{eid}"
    remote = FileStore(str(tmp_path / "third"), "s3://bucket/prefix/")
    assert remote.get_experiment(remote.create_experiment("e")).artifact_location == "s3://bucket/prefix/1"


def test_a_run_moved_mid_write_is_never_recreated_at_its_old_place(root, store):
    eid = store.create_experiment("moving")
    rid = store.create_run(eid, "u", T0, [], "r").info.run_id
    old_dir = str(root / eid / rid)
    store.delete_experiment(eid)  # moves the folder, as another process could between lookup and write
    with pytest.raises(FileNotFoundError):
        file_io.create_file(os.path.join(old_dir, "metrics", "a", "m"), b"1 1.0 0\n", old_dir)
    with pytest.raises(FileNotFoundError):
        file_io.atomic_write(os.path.join(old_dir, "params", "p"), "v", old_dir)
    assert not (root / eid).exists()
    store.restore_experiment(eid)
    store.log_metric(rid, Metric("m", 1.0, T0, 0))
    assert store.get_run(rid).data.metrics == {"m": 1.0}


# ============================================================================ what the file system can store


@pytest.mark.parametrize("kind", ["metric", "param", "tag"])
def test_key_whose_utf8_name_exceeds_255_bytes_is_rejected_before_any_write(root, store, kind):
    rid = store.create_run("0", "u", T0, [], "r").info.run_id
    before = sorted(_all_files(root))
    long_key = "é" * 250  # 250 characters (within the key limit), 500 bytes: no file system takes that name
    entry = {"metric": Metric(long_key, 1.0, T0, 0), "param": Param(long_key, "v"), "tag": RunTag(long_key, "v")}
    batch = {"metric": [], "param": [], "tag": []}
    batch[kind].append(entry[kind])
    with pytest.raises(InvalidParameterValue, match=f"{kind} key .*255 bytes"):
        store.log_batch(
            rid,
            [Metric("ok", 1.0, T0, 0)] + batch["metric"],
            [Param("p", "1")] + batch["param"],
            [RunTag("t", "1")] + batch["tag"],
        )
    assert sorted(_all_files(root)) == before
    store.log_batch(rid, [Metric("é" * 127 + "/" + "é" * 122, 1.0, T0, 0)], [], [])  # short parts are fine


@pytest.mark.parametrize(
    "call",
    [
        lambda s, rid: s.log_batch(rid, [Metric("ok", 1.0, T0, 0)], [Param("p", "x\ud800")], []),
        lambda s, rid: s.log_batch(rid, [Metric("ok", 1.0, T0, 0)], [], [RunTag("t", "\udfff")]),
        lambda s, rid: s.log_batch(rid, [], [], [RunTag("mlflow.runName", "n\ud800")]),
        lambda s, rid: s.update_run_info(rid, "FINISHED", T0, "n\ud800"),
        lambda s, rid: s.create_run("0", "u\ud800", T0, [], "r"),
        lambda s, rid: s.create_run("0", "u", T0, [RunTag("a", "1"), RunTag("b", "\ud800")], "r"),
        lambda s, rid: s.create_run("0", "u", T0, [], "r\ud800"),
        lambda s, rid: s.create_experiment("x\ud800"),
        lambda s, rid: s.create_experiment("x", tags=[RunTag("a", "1"), RunTag("b", "\ud800")]),
        lambda s, rid: s.create_experiment("x", artifact_location="/tmp/\ud800"),
        lambda s, rid: s.set_experiment_tag("0", RunTag("t", "\ud800")),
        lambda s, rid: s.rename_experiment("0", "x\ud800"),
    ],
)
def test_lone_surrogates_are_rejected_before_any_write(root, store, call):
    rid = store.create_run("0", "u", T0, [], "r").info.run_id
    before = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    with pytest.raises(InvalidParameterValue, match="surrogate"):
        call(store, rid)
    after = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    assert after == before
    assert sorted(p.name for p in root.iterdir()) == [".lock", ".trash", "0"]  # no orphan experiment folder
    assert store.create_experiment("next") == "1"  # and no id used up


HISTORY_FILES = {
    "in step order": b"1 0.5 0\n2 nan 1\n3 inf 2\n4 -inf 3\n5 -0.0 4\n",
    "out of order, tied steps": b"9 1.0 2\n3 2.0 0\n5 3.0 2\n4 4.0 2\n1 5.0 0\n1 6.0 0\n",
    "legacy two-field line": b"1 0.5 0\n2 0.25\n3 0.125 1\n",
    "unbalanced: a short line and a long one": b"1 2\n3 4 5 6\n7 8.0 9\n",
    "double space": b"1  2.0 3\n4 5.0 6\n",
    "tab separators": b"1\t2.0\t3\n4 5.0 6\n",
    "not a number": b"1 2.0 3\nx 5.0 6\n7 8.0 9\n",
    "partial last line": b"1 2.0 3\n4 5.0",
    "empty": b"",
    "only a partial line": b"17 0.5",
}


@pytest.mark.parametrize("data", HISTORY_FILES.values(), ids=HISTORY_FILES.keys())
def test_history_fast_parse_agrees_with_the_line_parser(data):
    """The column parser (well-formed files) and the line parser (anything else) read a file alike: rows
    ordered by (step, timestamp), ties in file order, malformed lines skipped and counted."""
    from tracklet.tracking.stores import file_cache

    lines, bad = file_cache.parse_metric_lines(data)
    lines.sort(key=lambda r: (r[2], r[0]))
    expected = [(v, ts, step) for ts, v, step in lines]
    columns, bad_fast = file_cache.parse_history(data)
    assert bad_fast == bad
    assert repr(list(zip(*columns, strict=True))) == repr(expected)  # repr: NaN != NaN, -0.0 == 0.0


def test_a_long_history_reads_back_in_order(root, store):
    run_id = store.create_run("0", "u", 0, [], "r").info.run_id
    points = [Metric("m", float(i) / 7, 1_000 + i, i) for i in range(5_000)]
    points[100] = Metric("m", math.nan, 1_100, 100)
    for half in (points[::2], points[1::2]):  # the odd steps appended after: the file is not in step order
        for i in range(0, len(half), 1_000):
            store.log_batch(run_id, half[i : i + 1_000], [], [])
    history = store.get_metric_history(run_id, "m")
    assert [(m.step, m.timestamp) for m in history] == [(p.step, p.timestamp) for p in points]
    assert math.isnan(history[100].value) and history[4_999].value == 4_999 / 7
