"""One contract for every artifact repository (issue 16): the local store, S3 (moto's real S3-protocol server on
127.0.0.1), FTP (pyftpdlib), SFTP (paramiko's SSH server, tests/tracking/_sftp_server.py), Azure Blob through
``wasbs://`` and ``abfss://`` (Azurite), GCS (fake-gcs-server), all on 127.0.0.1, and HDFS's repository over
pyarrow's local file system (no namenode can run here: tests/tracking/_artifact_servers.py). Each test gets a
fresh root; servers start once per session. Every scheme the registry knows must be one of these kinds."""

from __future__ import annotations

import hashlib
import os
import sys
import threading
import warnings

import pytest

import tracklet
from tracklet.exceptions import InvalidParameterValue, ResourceDoesNotExist, TrackletException
from tracklet.tracking.artifacts import REPOSITORIES, get_artifact_repository

from ._artifact_servers import KIND_OF_SCHEME, KINDS, _local_tree, _tree_bytes, _write, experiment_location


def test_every_registered_scheme_runs_the_contract():
    """A repository added to the registry without a kind here fails: the contract suite must cover it."""
    assert set(REPOSITORIES) == set(KIND_OF_SCHEME)
    assert set(KIND_OF_SCHEME.values()) <= set(KINDS)


# ---------------------------------------------------------------------- the contract
def test_files_nested_listing_and_download(root_uri, tmp_path):
    uri, _ = root_uri
    repo = get_artifact_repository(uri)
    f = _write(tmp_path / "src" / "f.txt", "hello")
    repo.log_artifact(f)
    repo.log_artifact(f, "a/b")
    assert [(x.path, x.is_dir) for x in repo.list_artifacts()] == [("a", True), ("f.txt", False)]
    assert [(x.path, x.is_dir) for x in repo.list_artifacts("a")] == [("a/b", True)]
    assert [(x.path, x.file_size) for x in repo.list_artifacts("a/b")] == [("a/b/f.txt", 5)]
    assert repo.list_artifacts("missing") == [] and repo.list_artifacts("f.txt") == []
    got = repo.download_artifacts("a/b/f.txt", str(tmp_path / "dl"))
    assert got == str(tmp_path / "dl" / "a" / "b" / "f.txt") and open(got).read() == "hello"
    with pytest.raises(ResourceDoesNotExist):
        repo.download_artifacts("nope", str(tmp_path / "dl"))
    repo.log_artifact(_write(tmp_path / "src2" / "f.txt", "replaced"), "a/b")
    assert open(repo.download_artifacts("a/b/f.txt")).read() == "replaced"


def test_directories_unicode_names_roundtrip(root_uri, tmp_path):
    uri, _ = root_uri
    repo = get_artifact_repository(uri)
    src = tmp_path / "src"
    files = {"données/ü ñ.txt": "accents", "x/y/z.bin": b"\x00\xff" * 100, "top.json": "{}", "x/empty": b""}
    files |= {f"many/f{i:02d}.txt": str(i) for i in range(30)}
    for rel, data in files.items():
        _write(src / rel, data)
    repo.log_artifacts(str(src), "up")
    assert {x.path for x in repo.list_artifacts("up")} == {"up/données", "up/x", "up/top.json", "up/many"}
    assert [x.path for x in repo.list_artifacts("up/données")] == ["up/données/ü ñ.txt"]
    dest = repo.download_artifacts("up", str(tmp_path / "dl"))
    expected = {k: (v.encode() if isinstance(v, str) else v) for k, v in files.items()}
    assert _tree_bytes(dest) == expected
    everything = repo.download_artifacts("", str(tmp_path / "all"))
    assert _tree_bytes(everything) == {f"up/{k}": v for k, v in expected.items()}


def test_large_file_roundtrip(root_uri, tmp_path):
    uri, _ = root_uri
    repo = get_artifact_repository(uri)
    data = os.urandom(1 << 20) * 20  # 20 MiB: several multipart chunks on S3
    path = _write(tmp_path / "src" / "model.bin", data)
    repo.log_artifact(path, "m")
    got = repo.download_artifacts("m/model.bin", str(tmp_path / "dl"))
    assert os.path.getsize(got) == len(data)
    assert hashlib.sha256(open(got, "rb").read()).digest() == hashlib.sha256(data).digest()
    assert not [n for n in os.listdir(os.path.dirname(got)) if n.startswith(".tracklet-tmp-")]


HOSTILE = ["..", "../x", "/abs", "a/../../x", "a\x00b", "..\\x", "x/../../.."]


@pytest.mark.parametrize("path", HOSTILE)
def test_hostile_artifact_paths_never_reach_the_store(root_uri, tmp_path, path):
    uri, everything = root_uri
    repo = get_artifact_repository(uri)
    f = _write(tmp_path / "src" / "f.txt", "x")
    repo.log_artifact(f)
    before = everything()
    for call in (
        lambda: repo.log_artifact(f, path),
        lambda: repo.log_artifacts(str(tmp_path / "src"), path),
        lambda: repo.list_artifacts(path),
        lambda: repo.download_artifacts(path, str(tmp_path / "dl")),
        lambda: repo.delete_artifacts(path),
    ):
        with pytest.raises(InvalidParameterValue):
            call()
    assert everything() == before


def test_delete_stays_inside_the_prefix(root_uri, tmp_path):
    uri, everything = root_uri
    repo = get_artifact_repository(uri)
    sibling = get_artifact_repository(uri + "-old")  # ".../artifacts-old" shares the prefix ".../artifacts"
    f = _write(tmp_path / "src" / "f.txt", "x")
    sibling.log_artifact(f)
    for sub in ("a", "a/b", "c"):
        repo.log_artifact(f, sub)
    repo.delete_artifacts("a/b")
    assert [x.path for x in repo.list_artifacts("a")] == ["a/f.txt"]
    repo.delete_artifacts("a")
    assert [x.path for x in repo.list_artifacts()] == ["c"]
    repo.delete_artifacts()
    repo.delete_artifacts()  # nothing left: not an error
    assert repo.list_artifacts() == []
    assert [x.path for x in sibling.list_artifacts()] == ["f.txt"]
    assert len(everything()) == 1


def test_concurrent_writers(root_uri, tmp_path):
    uri, _ = root_uri
    errors = []

    def writer(i):
        try:
            src = tmp_path / f"src{i}"
            for j in range(8):
                _write(src / f"f{j}.txt", f"{i}-{j}")
            get_artifact_repository(uri).log_artifacts(str(src), "shared")
            get_artifact_repository(uri).log_artifact(str(src / "f0.txt"), f"own{i}")
        except Exception as exc:  # reported below, with the thread's own error
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    repo = get_artifact_repository(uri)
    assert {x.path for x in repo.list_artifacts("shared")} == {f"shared/f{j}.txt" for j in range(8)}
    contents = _tree_bytes(repo.download_artifacts("", str(tmp_path / "dl")))
    assert all(v.decode().split("-")[1] == k.split("/")[1][1] for k, v in contents.items() if k.startswith("shared"))
    assert {k for k in contents if k.startswith("own")} == {f"own{i}/f0.txt" for i in range(4)}


def test_uploading_a_directory_with_a_link_loop_writes_nothing(root_uri, tmp_path):
    uri, everything = root_uri
    repo = get_artifact_repository(uri)
    src = tmp_path / "src"
    _write(src / "a" / "f.txt", "x")
    os.symlink(src, src / "a" / "loop")
    before = everything()
    with pytest.raises(InvalidParameterValue, match="loop"):
        repo.log_artifacts(str(src))
    assert everything() == before


def test_a_failed_directory_upload_leaves_nothing_visible(root_uri, tmp_path):
    """A real read failure in the middle of a directory upload (a file that stats as regular but whose reads fail
    with EIO, /proc/self/mem): what was already sent is removed, what was there before stays."""
    if not os.path.exists("/proc/self/mem"):
        pytest.skip("needs Linux's /proc")
    uri, everything = root_uri
    repo = get_artifact_repository(uri)
    repo.log_artifact(_write(tmp_path / "old" / "keep.txt", "kept"), "dir")
    before = everything()
    src = tmp_path / "src"
    for i in range(40):
        _write(src / f"f{i:02d}.txt", str(i))
    (src / "m").mkdir()
    os.symlink("/proc/self/mem", src / "m" / "unreadable.bin")
    with pytest.raises(TrackletException, match="unreadable.bin"):
        repo.log_artifacts(str(src), "dir")
    assert everything() == before
    assert [f.path for f in repo.list_artifacts("dir")] == ["dir/keep.txt"]


# ---------------------------------------------------------------------- object keys written by someone else
def test_s3_hostile_keys_are_skipped_never_written_outside(s3, tmp_path):
    bucket = s3.tracklet_bucket
    for key in ("run/artifacts/ok.txt", "run/artifacts/../../evil.txt", "run/artifacts/a//b.txt", "run/artifacts/./c"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    s3.put_object(Bucket=bucket, Key="run/artifacts/dir/", Body=b"")  # a "folder" marker
    repo = get_artifact_repository(f"s3://{bucket}/run/artifacts")
    dest = tmp_path / "deep" / "dl"
    with pytest.warns(UserWarning, match="evil"):
        got = repo.download_artifacts("", str(dest))
    assert _local_tree(got) == {"ok.txt"}
    assert _local_tree(tmp_path) == {"deep/dl/ok.txt"}
    with pytest.warns(UserWarning, match="unsafe names"):
        listed = {x.path for x in repo.list_artifacts()}
    assert listed == {"ok.txt", "a", "dir"}


# ---------------------------------------------------------------------- missing extras
@pytest.mark.parametrize(
    "uri,module,extra",
    [
        ("s3://b/x", "boto3", "s3"),
        ("ftp://h/x", "fsspec", "ftp"),
        ("sftp://h/x", "paramiko", "sftp"),
        ("wasbs://c@acct.blob.core.windows.net/x", "azure.storage.blob", "azure"),
        ("abfss://c@acct.dfs.core.windows.net/x", "azure.storage.blob", "azure"),
        ("gs://b/x", "google.cloud.storage", "gcs"),
        ("hdfs://nn:8020/x", "pyarrow.fs", "hdfs"),
    ],
)
def test_missing_extra_is_named(monkeypatch, uri, module, extra):
    monkeypatch.setitem(sys.modules, module, None)  # what the import system does for an absent package
    with pytest.raises(InvalidParameterValue, match=rf"pip install 'tracklet\[{extra}\]'"):
        get_artifact_repository(uri)


def test_unsupported_scheme_is_a_clear_error():
    with pytest.raises(InvalidParameterValue, match="supported"):
        get_artifact_repository("gopher://h/x")


# ---------------------------------------------------------------------- through the tracking API
@pytest.mark.parametrize("remote", ["s3", "ftp", "sftp", "azure", "gcs", "hdfs"])
def test_runs_of_an_experiment_on_a_remote_store(remote, request, tmp_path):
    location = experiment_location(request, remote)
    client = tracklet.MlflowClient()
    eid = client.create_experiment("remote", artifact_location=location)
    keep, gone = client.create_run(eid).info.run_id, client.create_run(eid).info.run_id
    for rid in (keep, gone):
        client.log_text(rid, rid, "notes/id.txt")
        client.log_dict(rid, {"a": 1}, "d.json")
    assert client.get_run(keep).info.artifact_uri == f"{location}/{keep}/artifacts"
    assert {f.path for f in client.list_artifacts(keep)} == {"notes", "d.json"}
    assert open(client.download_artifacts(keep, "notes/id.txt", str(tmp_path))).read() == keep
    client.delete_run(gone)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert list(client.gc(run_ids=[gone])) == [gone]
    assert get_artifact_repository(f"{location}/{gone}/artifacts").list_artifacts() == []
    assert {f.path for f in client.list_artifacts(keep)} == {"notes", "d.json"}


@pytest.mark.parametrize("remote", ["s3", "azure", "gcs", "hdfs"])
def test_model_logs_and_loads_through_a_remote_store(remote, request):
    pytest.importorskip("sklearn")
    import numpy as np
    from sklearn.linear_model import LinearRegression

    import tracklet.pyfunc
    import tracklet.sklearn

    eid = tracklet.create_experiment(f"{remote}-models", artifact_location=experiment_location(request, remote))
    X = np.arange(12.0).reshape(6, 2)
    with tracklet.start_run(experiment_id=eid) as run:
        tracklet.sklearn.log_model(LinearRegression().fit(X, X[:, 0]), "model")
    loaded = tracklet.pyfunc.load_model(f"runs:/{run.info.run_id}/model")
    assert np.allclose(loaded.predict(X), X[:, 0])
    with pytest.raises(InvalidParameterValue):
        tracklet.pyfunc.load_model(f"runs:/{run.info.run_id}/%2e%2e/%2e%2e/x")


def test_sftp_refuses_an_unknown_host_key_and_a_wrong_password(sftp_server, monkeypatch, tmp_path):
    from tracklet.exceptions import TrackletException

    _root, port, known_hosts = sftp_server
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.ssh/known_hosts either
    monkeypatch.delenv("TRACKLET_SFTP_KNOWN_HOSTS", raising=False)
    monkeypatch.delenv("MLFLOW_SFTP_KNOWN_HOSTS", raising=False)
    with pytest.raises(TrackletException, match="host key"):
        get_artifact_repository(f"sftp://user:p%40ss%20word@127.0.0.1:{port}/x")
    monkeypatch.setenv("TRACKLET_SFTP_KNOWN_HOSTS", known_hosts)
    with pytest.raises(TrackletException, match="Cannot connect"):
        get_artifact_repository(f"sftp://user:wrong@127.0.0.1:{port}/x")


def test_s3_file_and_folder_of_the_same_name_is_a_clear_error(s3, tmp_path):
    from tracklet.exceptions import TrackletException

    bucket = s3.tracklet_bucket
    s3.put_object(Bucket=bucket, Key="r/artifacts/a", Body=b"file")
    s3.put_object(Bucket=bucket, Key="r/artifacts/a/b", Body=b"inside")
    repo = get_artifact_repository(f"s3://{bucket}/r/artifacts")
    with pytest.raises(TrackletException, match="download of"):
        repo.download_artifacts("", str(tmp_path / "dl"))
    assert open(repo.download_artifacts("a", str(tmp_path / "one"))).read() == "file"


def test_messages_never_show_a_password(root_uri, tmp_path):
    uri, _ = root_uri
    repo = get_artifact_repository(uri)
    with pytest.raises(ResourceDoesNotExist) as info:
        repo.download_artifacts("nope", str(tmp_path / "dl"))
    assert "word" not in str(info.value) and "p%40ss" not in str(info.value)
