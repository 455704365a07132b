"""TrackletClient: the explicit-run-id API (default SQLite store in the test's temp dir)."""

import os
import time

import pytest

import tracklet
from tracklet.entities import Metric, Param, RunStatus, RunTag, ViewType
from tracklet.exceptions import (
    InvalidParameterValue,
    ResourceAlreadyExists,
    ResourceDoesNotExist,
    TrackletException,
)


@pytest.fixture
def client():
    return tracklet.MlflowClient()


def test_experiment_lifecycle(client):
    eid = client.create_experiment("exp", tags={"k": "v"})
    exp = client.get_experiment(eid)
    assert exp.name == "exp" and exp.tags == {"k": "v"} and exp.lifecycle_stage == "active"
    with pytest.raises(ResourceAlreadyExists, match="exp"):
        client.create_experiment("exp")
    client.rename_experiment(eid, "exp2")
    assert client.get_experiment_by_name("exp2").experiment_id == eid
    assert client.get_experiment_by_name("exp") is None
    client.set_experiment_tag(eid, "k2", "v2")
    assert client.get_experiment(eid).tags == {"k": "v", "k2": "v2"}
    client.delete_experiment(eid)
    assert client.get_experiment(eid).lifecycle_stage == "deleted"
    assert eid not in {e.experiment_id for e in client.search_experiments()}
    assert eid in {e.experiment_id for e in client.search_experiments(view_type=ViewType.DELETED_ONLY)}
    client.restore_experiment(eid)
    assert client.get_experiment(eid).lifecycle_stage == "active"
    with pytest.raises(ResourceDoesNotExist):
        client.get_experiment("987654")
    with pytest.raises(InvalidParameterValue, match="experiment name"):
        client.create_experiment("")


def test_run_lifecycle_and_batch(client):
    run = client.create_run("0", run_name="r", tags={"a": "b"})
    rid = run.info.run_id
    assert run.info.status == "RUNNING" and run.info.run_name == "r"
    ts = int(time.time() * 1000) - 10_000
    client.log_batch(
        rid,
        metrics=[Metric("m", float(i), ts + i, i) for i in range(5)],
        params=[Param("p", "1")],
        tags=[RunTag("t", "x")],
    )
    client.log_metric(rid, "m", 10.0, step=2)  # not the latest step: latest stays step 4
    assert client.get_run(rid).data.metrics["m"] == 4.0
    assert [(m.step, m.value) for m in client.get_metric_history(rid, "m")][:3] == [
        (0, 0.0),
        (1, 1.0),
        (2, 2.0),
    ]
    with pytest.raises(InvalidParameterValue):
        client.log_batch(rid, metrics=[Metric("ok", 1.0, ts, 0)], params=[Param("p", "2")])
    assert "ok" not in client.get_run(rid).data.metrics  # rejected batch wrote nothing
    client.set_tag(rid, "mlflow.runName", "renamed")
    assert client.get_run(rid).info.run_name == "renamed"
    client.delete_tag(rid, "t")
    assert "t" not in client.get_run(rid).data.tags
    client.update_run(rid, name="again")
    assert client.get_run(rid).data.tags["mlflow.runName"] == "again"
    client.set_terminated(rid, "FAILED")
    info = client.get_run(rid).info
    assert info.status == RunStatus.FAILED and info.end_time is not None
    with pytest.raises(InvalidParameterValue, match="run status"):
        client.set_terminated(rid, "DONE")


def test_delete_restore_and_gc(client, tmp_path):
    run = client.create_run("0")
    rid = run.info.run_id
    f = tmp_path / "f.txt"
    f.write_text("x")
    client.log_artifact(rid, str(f))
    art_root = run.info.artifact_uri.replace("file://", "")
    assert os.path.exists(os.path.join(art_root, "f.txt"))
    client.delete_run(rid)
    assert client.get_run(rid).info.lifecycle_stage == "deleted"
    with pytest.raises(TrackletException):
        client.log_param(rid, "p", "1")
    client.restore_run(rid)
    client.log_param(rid, "p", "1")
    with pytest.raises(InvalidParameterValue, match="not deleted"):
        client.gc(run_ids=[rid])
    client.delete_run(rid)
    assert client.gc() == [rid]
    with pytest.raises(ResourceDoesNotExist):
        client.get_run(rid)
    assert not os.path.exists(os.path.join(art_root, "f.txt"))


def test_search_runs_paging(client):
    ids = {client.create_run("0").info.run_id for _ in range(7)}
    seen, token = [], None
    while True:
        page = client.search_runs(["0"], max_results=3, page_token=token)
        assert len(page) <= 3
        seen += [r.info.run_id for r in page]
        token = page.token
        if not token:
            break
    assert len(seen) == 7 and set(seen) == ids


def test_unknown_run_and_bad_ids(client):
    with pytest.raises(ResourceDoesNotExist):
        client.get_run("0123456789abcdef0123456789abcdef")
    with pytest.raises(InvalidParameterValue, match="run ID"):
        client.get_run("../etc")


def test_tracking_uri_file_store(tmp_path):
    c = tracklet.MlflowClient(str(tmp_path / "mlruns"))
    run = c.create_run("0")
    c.log_metric(run.info.run_id, "m", 1.5)
    assert c.get_run(run.info.run_id).data.metrics == {"m": 1.5}
    assert os.path.isdir(tmp_path / "mlruns" / "0" / run.info.run_id / "metrics")


def test_default_store_prefers_existing_mlruns(tmp_path, monkeypatch):
    from tracklet.tracking.stores.registry import default_tracking_uri

    monkeypatch.chdir(tmp_path)
    assert default_tracking_uri() == "sqlite:///tracklet.db"
    (tmp_path / "mlruns").mkdir()
    assert default_tracking_uri() == str(tmp_path / "mlruns")
    (tmp_path / "tracklet.db").write_bytes(b"")
    assert default_tracking_uri() == "sqlite:///tracklet.db"


@pytest.mark.parametrize("kind", ["sqlite", "file"])
def test_one_client_shared_by_threads_loses_nothing(kind, tmp_path):
    import threading

    if kind == "file":
        c = tracklet.MlflowClient(str(tmp_path / "mlruns"))
    else:
        c = tracklet.MlflowClient()
    rid = c.create_run("0").info.run_id

    def work(t):
        for i in range(100):
            c.log_metric(rid, f"m{t}", float(i), step=i)
        c.log_param(rid, f"p{t}", str(t))

    threads = [threading.Thread(target=work, args=(t,)) for t in range(6)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    run = c.get_run(rid)
    assert len(run.data.params) == 6
    for t in range(6):
        assert len(c.get_metric_history(rid, f"m{t}")) == 100
