"""Artifacts never leave a run's artifact root: encoded traversal in ``runs:/`` URIs, symbolic links planted
inside the root, and uploads of hostile local directories (issue 7). Over the SQLite and the file store."""

from __future__ import annotations

import os
import warnings

import pytest

from tracklet.exceptions import InvalidParameterValue, ResourceDoesNotExist, TrackletException
from tracklet.flavors.mlmodel import download_model
from tracklet.tracking import fluent
from tracklet.tracking.artifacts import parse_runs_uri
from tracklet.tracking.artifacts.local import local_path_from_uri
from tracklet.tracking.client import TrackletClient


@pytest.fixture(params=["sqlite", "file"])
def client(request, tmp_path):
    uri = f"sqlite:///{tmp_path}/t.db" if request.param == "sqlite" else str(tmp_path / "mlruns")
    fluent.set_tracking_uri(uri)  # download_model resolves runs:/ through the current tracking URI
    return TrackletClient(uri)


@pytest.fixture
def victim(tmp_path):
    """A file and a directory outside every store, with content that must never change or leak."""
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "victim.txt").write_text("secret")
    return outside


def _run_root(client) -> tuple[str, str]:
    run = client.create_run("0")
    rid = run.info.run_id
    client.log_text(rid, "hello", "hello.txt")
    return rid, local_path_from_uri(client.get_run(rid).info.artifact_uri)


def _tree(path) -> set[str]:
    out = set()
    for base, dirs, files in os.walk(path):
        for name in dirs + files:
            out.add(os.path.relpath(os.path.join(base, name), path))
    return out


# ---------------------------------------------------------------------- runs:/ URIs
HOSTILE_PATHS = [
    "%2e%2e/%2e%2e/%2e%2e/%2e%2e/outside",
    "%2E%2E/%2E%2E/x",
    "model/%2e%2e/%2e%2e/%2e%2e",
    "%252e%252e/%252e%252e/x",  # double encoding
    "..%2f..%2fx",
    "..%5c..%5cx",
    "%5c%5cserver%5cshare",
    "/etc",
    "%2fetc",
    "model%00.txt",
    "C:%5cwindows",
]


@pytest.mark.parametrize("path", HOSTILE_PATHS)
def test_runs_uri_hostile_paths_are_refused(client, path):
    rid, _ = _run_root(client)
    with pytest.raises(InvalidParameterValue):
        download_model(f"runs:/{rid}/{path}")
    with pytest.raises(InvalidParameterValue):
        parse_runs_uri(f"runs:/{rid}/{path}")


def test_runs_uri_encoded_dotdot_cannot_reach_another_run(client, tmp_path):
    rid, _ = _run_root(client)
    other = client.create_run("0")
    client.log_text(other.info.run_id, "other's model", "model/MLmodel")
    other_root = local_path_from_uri(other.info.artifact_uri)
    # the relative path from rid's artifact root to the other run's model
    rel = os.path.relpath(os.path.join(other_root, "model"), local_path_from_uri(client.get_run(rid).info.artifact_uri))
    assert rel.startswith("..")
    encoded = "/".join("%2e%2e" if p == ".." else p for p in rel.split(os.sep))
    with pytest.raises(InvalidParameterValue, match="artifact"):
        download_model(f"runs:/{rid}/{encoded}")
    with pytest.raises(InvalidParameterValue):
        download_model(f"runs:/{rid}/{encoded}", dst_path=str(tmp_path / "dl"))
    assert not (tmp_path / "dl").exists()


def test_runs_uri_decodes_once_and_still_loads_what_is_inside(client, tmp_path):
    rid, root = _run_root(client)
    client.log_text(rid, "m", "my model/MLmodel")
    client.log_text(rid, "p", "50%/MLmodel")
    assert download_model(f"runs:/{rid}/my%20model") == os.path.join(root, "my model")
    assert download_model(f"runs:/{rid}/my model/") == os.path.join(root, "my model")
    assert download_model(f"runs:///{rid}/my%20model") == os.path.join(root, "my model")
    assert download_model(f"runs:/{rid}/50%") == os.path.join(root, "50%")
    copied = download_model(f"runs:/{rid}/my%20model", dst_path=str(tmp_path / "dl"))
    assert open(os.path.join(copied, "MLmodel")).read() == "m"
    with pytest.raises(ResourceDoesNotExist, match="No model"):
        download_model(f"runs:/{rid}/missing")
    # get_artifact_uri encodes the path so that decoding it once gives the same path back
    uri = client.get_artifact_uri(rid, "my model/MLmodel")
    if uri.startswith("file:"):
        assert local_path_from_uri(uri) == os.path.join(root, "my model", "MLmodel")
    assert local_path_from_uri(client.get_artifact_uri(rid, "%2e%2e")) == os.path.join(root, "%2e%2e")


def test_pyfunc_load_model_cannot_load_another_runs_model(client):
    pytest.importorskip("sklearn")
    import numpy as np
    from sklearn.linear_model import LinearRegression

    import tracklet.pyfunc
    import tracklet.sklearn

    X = np.arange(12.0).reshape(6, 2)
    mine, other = client.create_run("0").info.run_id, client.create_run("0").info.run_id
    fluent.set_tracking_uri(client.tracking_uri)
    with fluent.start_run(run_id=other):
        tracklet.sklearn.log_model(LinearRegression().fit(X, X[:, 0]), "model")
    assert tracklet.pyfunc.load_model(f"runs:/{other}/model").predict(X).shape == (6,)
    # both runs live in experiment 0: <root>/0/<mine>/artifacts/../../<other>/artifacts/model
    with pytest.raises(InvalidParameterValue):
        tracklet.pyfunc.load_model(f"runs:/{mine}/%2e%2e/%2e%2e/{other}/artifacts/model")


# ---------------------------------------------------------------------- symbolic links inside the root
def test_write_replaces_a_planted_link_instead_of_writing_through_it(client, victim):
    rid, root = _run_root(client)
    os.symlink(victim / "victim.txt", os.path.join(root, "notes.txt"))
    client.log_text(rid, "x", "notes.txt")
    assert (victim / "victim.txt").read_text() == "secret"
    assert not os.path.islink(os.path.join(root, "notes.txt"))
    assert open(os.path.join(root, "notes.txt")).read() == "x"


def test_writes_never_go_through_a_directory_link(client, victim, tmp_path):
    rid, root = _run_root(client)
    os.symlink(victim, os.path.join(root, "sub"))
    src_dir = tmp_path / "src"
    src_dir.mkdir()
    (src_dir / "f.txt").write_text("payload")
    with pytest.raises(InvalidParameterValue, match="symbolic link"):
        client.log_text(rid, "x", "sub/f.txt")
    with pytest.raises(InvalidParameterValue, match="symbolic link"):
        client.log_artifact(rid, str(src_dir / "f.txt"), "sub/deeper")
    with pytest.raises(InvalidParameterValue, match="symbolic link"):
        client.log_artifacts(rid, str(src_dir), "sub")
    with pytest.raises(InvalidParameterValue, match="symbolic link"):
        client.log_dict(rid, {"a": 1}, "sub/d.json")
    assert _tree(victim) == {"victim.txt"}


def test_downloads_and_listings_never_read_outside_the_root(client, victim, tmp_path):
    rid, root = _run_root(client)
    os.symlink(victim / "victim.txt", os.path.join(root, "leak.txt"))
    os.symlink(victim, os.path.join(root, "leakdir"))
    os.makedirs(os.path.join(root, "d"))
    os.symlink("../hello.txt", os.path.join(root, "d", "inside-link"))  # a link is never an artifact
    os.mkfifo(os.path.join(root, "d", "fifo"))  # would block a reader forever
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dest = client.download_artifacts(rid, "", str(tmp_path / "dl"))
    assert _tree(dest) == {"hello.txt", "d"}
    assert any("leak.txt" in str(w.message) and "leakdir" in str(w.message) for w in caught)
    assert {f.path for f in client.list_artifacts(rid)} == {"hello.txt", "d"}
    assert client.list_artifacts(rid, "d") == []
    for path in ("leak.txt", "leakdir", "leakdir/victim.txt", "d/fifo"):
        with pytest.raises(InvalidParameterValue):
            client.download_artifacts(rid, path, str(tmp_path / "dl2"))
    with pytest.raises(InvalidParameterValue, match="symbolic link"):
        client.list_artifacts(rid, "leakdir")
    assert not os.path.exists(tmp_path / "dl2" / "leak.txt")


def test_model_with_a_planted_link_is_copied_without_it(client, victim):
    rid, root = _run_root(client)
    client.log_text(rid, "flavors: {}", "model/MLmodel")
    assert download_model(f"runs:/{rid}/model") == os.path.join(root, "model")  # plain tree: used in place
    os.symlink(victim / "victim.txt", os.path.join(root, "model", "model.pkl"))
    with pytest.warns(UserWarning, match="model.pkl"):
        local = download_model(f"runs:/{rid}/model")
    assert not local.startswith(root) and _tree(local) == {"MLmodel"}


def test_delete_removes_a_link_not_its_target(client, victim):
    rid, root = _run_root(client)
    os.symlink(victim, os.path.join(root, "leakdir"))
    from tracklet.tracking.artifacts import get_artifact_repository

    repo = get_artifact_repository(client.get_run(rid).info.artifact_uri)
    repo.delete_artifacts("leakdir")
    assert not os.path.lexists(os.path.join(root, "leakdir")) and _tree(victim) == {"victim.txt"}
    os.symlink(victim, os.path.join(root, "leakdir"))
    repo.delete_artifacts()
    assert not os.path.exists(root) and _tree(victim) == {"victim.txt"}


# ---------------------------------------------------------------------- hostile local directories
def _assert_nothing_logged(client, rid, root):
    assert {f.path for f in client.list_artifacts(rid)} == {"hello.txt"}
    assert sorted(os.listdir(root)) == ["hello.txt"]  # no staging directory left behind either


def test_log_artifacts_symlink_loop_is_a_clear_error_and_writes_nothing(client, tmp_path):
    rid, root = _run_root(client)
    src = tmp_path / "src"
    (src / "a").mkdir(parents=True)
    (src / "a" / "f.txt").write_text("f")
    os.symlink(src, src / "a" / "loop")
    with pytest.raises(InvalidParameterValue, match="loop"):
        client.log_artifacts(rid, str(src))
    _assert_nothing_logged(client, rid, root)
    with pytest.raises(InvalidParameterValue, match="loop"):
        client.log_artifact(rid, str(src), "nested")
    _assert_nothing_logged(client, rid, root)


@pytest.mark.parametrize("kind", ["dangling", "self", "fifo"])
def test_log_artifacts_bad_entry_writes_nothing(client, tmp_path, kind):
    rid, root = _run_root(client)
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_text("a")  # sorted before the bad entry: must not be copied either
    if kind == "dangling":
        os.symlink(tmp_path / "missing", src / "b")
    elif kind == "self":
        os.symlink("b", src / "b")
    else:
        os.mkfifo(src / "b")
    with pytest.raises(InvalidParameterValue, match="nothing was logged"):
        client.log_artifacts(rid, str(src), "up")
    _assert_nothing_logged(client, rid, root)


def test_log_artifacts_follows_links_of_the_users_own_directory(client, tmp_path):
    rid, _ = _run_root(client)
    data = tmp_path / "data"
    data.mkdir()
    (data / "big.bin").write_bytes(b"\x00" * 10)
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    os.symlink(data / "big.bin", src / "link.bin")
    os.symlink(data, src / "sub" / "data")
    client.log_artifacts(rid, str(src), "up")
    listed = {f.path: f.file_size for f in client.list_artifacts(rid, "up/sub/data")}
    assert listed == {"up/sub/data/big.bin": 10}
    assert {f.path for f in client.list_artifacts(rid, "up")} == {"up/link.bin", "up/sub"}


def test_log_artifacts_conflict_with_an_existing_artifact_writes_nothing(client, tmp_path):
    rid, root = _run_root(client)
    src = tmp_path / "src"
    (src / "hello.txt").mkdir(parents=True)  # a directory where a file artifact exists
    (src / "hello.txt" / "x").write_text("x")
    (src / "a.txt").write_text("a")
    with pytest.raises(InvalidParameterValue):
        client.log_artifacts(rid, str(src))
    _assert_nothing_logged(client, rid, root)


def test_errors_are_tracklet_exceptions(client, tmp_path):
    rid, _ = _run_root(client)
    with pytest.raises(TrackletException):
        client.log_artifacts(rid, str(tmp_path / "nope"))
    with pytest.raises(TrackletException):
        client.log_artifact(rid, str(tmp_path / "nope"))


def test_staging_names_are_reserved(client, tmp_path):
    rid, root = _run_root(client)
    with pytest.raises(InvalidParameterValue, match="reserved"):
        client.log_text(rid, "x", "a/.tracklet-tmp-1/f.txt")
    src = tmp_path / "src"
    src.mkdir()
    (src / ".tracklet-tmp-x").write_text("x")
    with pytest.raises(InvalidParameterValue, match="reserved"):
        client.log_artifacts(rid, str(src))
    _assert_nothing_logged(client, rid, root)


def test_gc_removes_the_artifacts_and_the_emptied_run_folder(client):
    rid, root = _run_root(client)
    client.delete_run(rid)
    assert list(client.gc(run_ids=[rid])) == [rid]
    assert not os.path.exists(root) and not os.path.exists(os.path.dirname(root))
    with pytest.raises(ResourceDoesNotExist):
        client.get_run(rid)
