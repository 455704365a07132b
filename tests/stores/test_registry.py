"""Tracking URI -> store: paths and URIs quoted and unquoted once, and every URI that cannot give a store
raises a TrackletException naming the URI and what to do (never a raw traceback, never a silent fallback)."""

from __future__ import annotations

import importlib.util
import os
from urllib.parse import quote

import pytest

import tracklet
from tracklet.exceptions import InvalidParameterValue, TrackletException
from tracklet.tracking.artifacts.local import local_path_from_uri
from tracklet.tracking.client import TrackletClient
from tracklet.tracking.stores import registry


@pytest.fixture(autouse=True)
def _fresh_cache():
    registry.clear_cache()
    yield
    registry.clear_cache()


def _artifact_file(client: TrackletClient, run_id: str, name: str) -> str:
    return os.path.join(local_path_from_uri(client.get_run(run_id).info.artifact_uri), name)


@pytest.mark.parametrize("dirname", ["a#b", "p%41q", "s?x", "sp ace", "h#1%2?3"])
@pytest.mark.parametrize("kind", ["sqlite", "file"])
def test_special_characters_in_the_store_folder(tmp_path, kind, dirname):
    folder = tmp_path / dirname
    if kind == "sqlite":
        uri = registry.sqlite_uri(str(folder / "t.db"))
        assert uri == "sqlite:///" + quote(str(folder / "t.db"))
    else:
        uri = folder.as_uri()
    client = TrackletClient(uri)
    ids = [client.create_run("0").info.run_id for _ in range(2)]
    for n, rid in enumerate(ids):
        client.log_text(rid, f"run {n}", "x.txt")
    # each run's artifact lands in its own folder under the store's folder, and reads back
    for n, rid in enumerate(ids):
        path = _artifact_file(client, rid, "x.txt")
        assert path.startswith(str(folder) + os.sep)
        with open(path) as f:
            assert f.read() == f"run {n}"
    if kind == "sqlite":
        assert (folder / "t.db").is_file()
        assert (folder / "tracklet-artifacts").is_dir()
    assert sorted(os.listdir(tmp_path)) == [dirname]  # nothing created beside it


def test_sqlite_uri_is_percent_decoded_once_for_database_and_artifacts(tmp_path):
    # as SQLAlchemy (and MLflow) read it: %41 is "A" -- the database and the artifacts agree on the folder
    client = TrackletClient(f"sqlite:///{tmp_path}/p%41q/t.db")
    rid = client.create_run("0").info.run_id
    client.log_text(rid, "hi", "x.txt")
    assert (tmp_path / "pAq" / "t.db").is_file()
    assert _artifact_file(client, rid, "x.txt").startswith(str(tmp_path / "pAq" / "tracklet-artifacts"))
    assert sorted(os.listdir(tmp_path)) == ["pAq"]


def test_relative_sqlite_uri_in_a_folder_with_special_characters(tmp_path, monkeypatch):
    work = tmp_path / "w#1%41?"
    work.mkdir()
    monkeypatch.chdir(work)
    client = TrackletClient("sqlite:///t.db")
    rid = client.create_run("0").info.run_id
    client.log_text(rid, "hi", "x.txt")
    assert (work / "t.db").is_file()
    assert _artifact_file(client, rid, "x.txt").startswith(str(work / "tracklet-artifacts"))
    assert sorted(os.listdir(tmp_path)) == [work.name]


def test_a_question_mark_that_is_no_query_is_an_error(tmp_path):
    with pytest.raises(InvalidParameterValue, match="%3F"):
        registry.get_store(f"sqlite:///{tmp_path}/s?x/t.db")
    assert os.listdir(tmp_path) == []  # no database created as <dir>/s


def test_corrupted_sqlite_file_names_the_file(tmp_path):
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"this is not a database, just some text" * 200)
    with pytest.raises(TrackletException, match="bad.db") as err:
        registry.get_store(registry.sqlite_uri(str(bad)))
    assert "not a database" in str(err.value)


def test_sqlite_file_corrupted_while_open_names_the_file(tmp_path):
    path = tmp_path / "t.db"
    store = registry.get_store(registry.sqlite_uri(str(path)))
    rid = store.create_run("0", "u", 0, [], "r").info.run_id
    store.close()
    for suffix in ("-wal", "-shm"):
        if os.path.exists(str(path) + suffix):
            os.remove(str(path) + suffix)
    path.write_bytes(b"garbage" * 1000)
    with pytest.raises(TrackletException, match="t.db"):
        store.get_run(rid)


@pytest.mark.parametrize(
    "uri, message",
    [
        ("sqlite:///", "names no database file"),
        ("sqlite://", "names no database file"),
        ("   ", "blank"),
        ("", "blank"),
        ("\t\n", "blank"),
    ],
)
def test_uris_that_name_no_store_are_errors(tmp_path, monkeypatch, uri, message):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InvalidParameterValue, match=message):
        registry.get_store(uri)
    assert os.listdir(tmp_path) == []


def test_blank_tracking_uri_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TRACKLET_TRACKING_URI", "   ")
    tracklet.set_tracking_uri(None)  # the suite's autouse fixture set one
    with pytest.raises(InvalidParameterValue, match="blank"):
        TrackletClient().create_run("0")
    assert os.listdir(tmp_path) == []


def test_in_memory_sqlite_must_be_asked_for(tmp_path):
    store = registry.get_store("sqlite:///:memory:")
    assert store.get_experiment("0").name == "Default"


def test_sqlite_in_an_unwritable_place(tmp_path):
    blocker = tmp_path / "plain"
    blocker.write_text("a file where a folder should be")
    with pytest.raises(InvalidParameterValue, match="cannot be created"):
        registry.get_store(registry.sqlite_uri(str(blocker / "sub" / "t.db")))


def test_sqlite_database_that_cannot_be_opened(tmp_path):
    (tmp_path / "dir.db").mkdir()  # a folder where the database file should be
    with pytest.raises(TrackletException, match="dir.db"):
        registry.get_store(registry.sqlite_uri(str(tmp_path / "dir.db")))


def test_plain_file_as_file_store(tmp_path):
    blocker = tmp_path / "plain"
    blocker.write_text("x")
    for uri in (str(blocker), blocker.as_uri()):
        with pytest.raises(InvalidParameterValue, match="not a directory"):
            registry.get_store(uri)
    with pytest.raises(InvalidParameterValue, match="Cannot create a file store"):
        registry.get_store(str(blocker / "sub"))


@pytest.mark.skipif(importlib.util.find_spec("pg8000") is not None, reason="pg8000 is installed")
def test_postgres_driver_missing_names_the_extra():
    with pytest.raises(InvalidParameterValue, match=r'pip install "tracklet\[postgres\]"'):
        registry.get_store("postgresql+pg8000://user@127.0.0.1:1/db")
