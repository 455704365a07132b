"""The ``mlruns`` folder is shared with MLflow: MLflow reads what tracklet's FileStore writes, and the reverse.

Uses the real ``mlflow`` package (skipped when it is not installed). MLflow 3 refuses its file store
unless ``MLFLOW_ALLOW_FILE_STORE=true``, so the fixture sets it.
"""

from __future__ import annotations

import json
import math
import warnings

import pytest

pytest.importorskip("mlflow")

from tracklet.tracking.entities import Metric, Param, RunStatus, RunTag, ViewType  # noqa: E402
from tracklet.tracking.stores.file import FileStore  # noqa: E402

T0 = 1_700_000_000_000


@pytest.fixture
def mlruns(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    return tmp_path / "mlruns"


def mlflow_client(root):
    from mlflow.tracking import MlflowClient

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return MlflowClient(tracking_uri=root.as_uri())


def _num(v):
    return "nan" if isinstance(v, float) and math.isnan(v) else v


def run_view(run) -> dict:
    """The fields both systems share, NaN made comparable."""
    info = run.info
    return {
        "run_id": info.run_id,
        "experiment_id": info.experiment_id,
        "user_id": info.user_id,
        "status": info.status,
        "start_time": info.start_time,
        "end_time": info.end_time,
        "artifact_uri": info.artifact_uri,
        "lifecycle_stage": info.lifecycle_stage,
        "run_name": info.run_name,
        "metrics": {k: _num(v) for k, v in run.data.metrics.items()},
        "params": dict(run.data.params),
        "tags": dict(run.data.tags),
    }


def experiment_view(exp) -> dict:
    return {
        "experiment_id": exp.experiment_id,
        "name": exp.name,
        "artifact_location": exp.artifact_location,
        "lifecycle_stage": exp.lifecycle_stage,
        "tags": dict(exp.tags),
        "creation_time": exp.creation_time,
        "last_update_time": exp.last_update_time,
    }


def history_view(metrics) -> list:
    """MLflow returns history in file (append) order, tracklet by (step, timestamp): compare sorted."""
    ordered = sorted(metrics, key=lambda m: (m.step, m.timestamp))
    return [(m.key, _num(m.value), m.timestamp, m.step) for m in ordered]


def _experiments(client_or_store, view_type):
    if isinstance(client_or_store, FileStore):
        found = client_or_store.search_experiments(view_type=view_type)
    else:
        found = client_or_store.search_experiments(view_type=view_type)
    return sorted((experiment_view(e) for e in found), key=lambda e: e["experiment_id"])


def test_mlflow_reads_what_tracklet_writes(mlruns):
    store = FileStore(str(mlruns))
    eid = store.create_experiment("shared", tags=[RunTag("team", "vision")])
    run = store.create_run(eid, "alice", T0, [RunTag("k", "v")], "first-run")
    rid = run.info.run_id
    store.log_batch(
        rid,
        [
            Metric("loss", 1.0, T0, 0),
            Metric("loss", 0.5, T0 + 1, 1),
            Metric("loss", math.nan, T0 + 2, 2),
            Metric("acc/train", 0.25, T0, 0),
            Metric("inf", math.inf, T0, 3),
            Metric("ninf", -math.inf, T0, 0),
        ],
        [Param("lr", "0.01"), Param("model", "rf")],
        [RunTag("note", "multi\nline"), RunTag("mlflow.source.name", "train.py")],
    )
    store.update_run_info(rid, RunStatus.FINISHED, T0 + 100, None)
    store.record_logged_model(rid, {"artifact_path": "model", "flavors": {"python_function": {}}})
    deleted = store.create_run(eid, "bob", T0 + 5, [], "deleted-run")
    store.log_metric(deleted.info.run_id, Metric("loss", 3.0, T0, 0))
    store.delete_run(deleted.info.run_id)
    gone = store.create_experiment("gone")
    gone_run = store.create_run(gone, "carol", T0, [], "in-gone")
    store.delete_experiment(gone)

    client = mlflow_client(mlruns)
    for view in (ViewType.ACTIVE_ONLY, ViewType.DELETED_ONLY, ViewType.ALL):
        assert _experiments(client, view) == _experiments(store, view)
    assert client.get_experiment_by_name("gone").lifecycle_stage == "deleted"

    for run_id in (rid, deleted.info.run_id, gone_run.info.run_id):
        assert run_view(client.get_run(run_id)) == run_view(store.get_run(run_id))
    mlflow_run = client.get_run(rid)
    assert mlflow_run.info.status == "FINISHED" and mlflow_run.info.run_name == "first-run"
    assert mlflow_run.data.params == {"lr": "0.01", "model": "rf"}
    assert mlflow_run.data.tags["note"] == "multi\nline"
    assert json.loads(mlflow_run.data.tags["mlflow.log-model.history"])[0]["artifact_path"] == "model"
    assert client.get_run(gone_run.info.run_id).info.lifecycle_stage == "deleted"

    for key in ("loss", "acc/train", "inf", "ninf"):
        assert history_view(client.get_metric_history(rid, key)) == history_view(store.get_metric_history(rid, key))
    assert [m.step for m in client.get_metric_history(rid, "loss")] == [0, 1, 2]

    def ids(runs):
        return sorted(r.info.run_id for r in runs)

    for view in (ViewType.ACTIVE_ONLY, ViewType.DELETED_ONLY, ViewType.ALL):
        assert ids(client.search_runs([eid], run_view_type=view)) == ids(
            store.search_runs([eid], None, view, 100, None, None)
        )
    found = client.search_runs([eid], "params.model = 'rf' and metrics.`acc/train` > 0.2")
    assert [r.info.run_id for r in found] == [rid]


def test_tracklet_reads_what_mlflow_writes(mlruns):
    client = mlflow_client(mlruns)
    eid = client.create_experiment("from-mlflow", tags={"team": "nlp"})
    run = client.create_run(eid, start_time=T0, tags={"k": "v"}, run_name="mlflow-run")
    rid = run.info.run_id
    client.log_metric(rid, "loss", 1.0, timestamp=T0, step=0)
    client.log_metric(rid, "loss", 0.25, timestamp=T0 + 1, step=7)
    client.log_metric(rid, "loss", math.nan, timestamp=T0 + 2, step=3)
    client.log_metric(rid, "a/b", -math.inf, timestamp=T0, step=0)
    client.log_param(rid, "alpha", "0.5")
    client.set_tag(rid, "stage", "dev")
    client.set_terminated(rid, "FAILED", end_time=T0 + 50)
    deleted = client.create_run(eid, run_name="will-be-deleted")
    client.delete_run(deleted.info.run_id)
    other = client.create_experiment("mlflow-deleted")
    other_run = client.create_run(other, run_name="inside")
    client.delete_experiment(other)

    store = FileStore(str(mlruns))
    for view in (ViewType.ACTIVE_ONLY, ViewType.DELETED_ONLY, ViewType.ALL):
        assert _experiments(store, view) == _experiments(client, view)
    exp = store.get_experiment_by_name("from-mlflow")
    assert exp.experiment_id == eid and exp.tags == {"team": "nlp"}

    for run_id in (rid, deleted.info.run_id, other_run.info.run_id):
        assert run_view(store.get_run(run_id)) == run_view(client.get_run(run_id))
    got = store.get_run(rid)
    assert got.info.status == RunStatus.FAILED and got.info.run_name == "mlflow-run"
    assert got.data.metrics["loss"] == 0.25  # step 7 is the latest
    assert got.data.params == {"alpha": "0.5"}
    assert store.get_run(deleted.info.run_id).info.lifecycle_stage == "deleted"
    assert store.get_run(other_run.info.run_id).info.lifecycle_stage == "deleted"
    for key in ("loss", "a/b"):
        assert history_view(store.get_metric_history(rid, key)) == history_view(client.get_metric_history(rid, key))

    found = store.search_runs(
        [eid],
        "params.alpha = '0.5' and attributes.status = 'FAILED'",
        ViewType.ACTIVE_ONLY,
        10,
        ["metrics.loss DESC"],
        None,
    )
    assert [r.info.run_id for r in found] == [rid]
    assert [r.info.run_id for r in store.search_runs([eid], None, ViewType.DELETED_ONLY, 10, None, None)] == [
        deleted.info.run_id
    ]


def test_each_side_continues_the_others_runs(mlruns):
    """tracklet logs into an MLflow run, MLflow into a tracklet run; restore works across both."""
    client = mlflow_client(mlruns)
    mlflow_eid = client.create_experiment("m")
    mlflow_rid = client.create_run(mlflow_eid, run_name="m-run").info.run_id
    client.log_metric(mlflow_rid, "x", 1.0, timestamp=T0, step=0)

    store = FileStore(str(mlruns))
    store.log_batch(mlflow_rid, [Metric("x", 2.0, T0 + 1, 1)], [Param("p", "1")], [RunTag("mlflow.runName", "renamed")])
    tracklet_rid = store.create_run(mlflow_eid, "t", T0, [], "t-run").info.run_id
    client.log_metric(tracklet_rid, "y", 5.0, timestamp=T0, step=2)
    client.log_param(tracklet_rid, "q", "z")
    client.set_terminated(tracklet_rid)

    assert [(m.value, m.step) for m in client.get_metric_history(mlflow_rid, "x")] == [(1.0, 0), (2.0, 1)]
    assert client.get_run(mlflow_rid).info.run_name == "renamed"
    assert client.get_run(mlflow_rid).data.params == {"p": "1"}
    run = store.get_run(tracklet_rid)
    assert run.data.metrics == {"y": 5.0} and run.data.params == {"q": "z"}
    assert run.info.status == RunStatus.FINISHED

    # MLflow deletes, tracklet restores (and the reverse); MLflow ids stay readable by tracklet
    client.delete_experiment(mlflow_eid)
    assert store.get_experiment(mlflow_eid).lifecycle_stage == "deleted"
    store.restore_experiment(mlflow_eid)
    assert client.get_experiment(mlflow_eid).lifecycle_stage == "active"
    assert client.get_run(mlflow_rid).info.lifecycle_stage == "active"
    store.delete_experiment(mlflow_eid)
    client.restore_experiment(mlflow_eid)
    assert store.get_run(tracklet_rid).info.lifecycle_stage == "active"
    new_eid = store.create_experiment("after-mlflow-ids")
    assert int(new_eid) > int(mlflow_eid)
    assert client.get_experiment(new_eid).name == "after-mlflow-ids"
