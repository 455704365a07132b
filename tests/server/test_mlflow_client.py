"""Compatibility with the real ``mlflow`` package both ways: its client logging to tracklet server (runs, artifacts,
MLflow 3 logged models), and tracklet's REST store logging to a real ``mlflow server``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.server.test_cli import free_port
from tracklet.tracking.entities import Metric, Param, RunTag
from tracklet.tracking.stores.rest import RestStore

mlflow = pytest.importorskip("mlflow")
T0 = 1_700_000_000_000


@pytest.fixture
def mlflow_client_env(monkeypatch, live_url):
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    monkeypatch.setenv("DO_NOT_TRACK", "true")
    mlflow.set_tracking_uri(live_url)
    yield live_url
    while mlflow.active_run():
        mlflow.end_run()
    mlflow.set_tracking_uri(None)
    mlflow.tracking.fluent._active_experiment_id = None  # mlflow caches the experiment of the last server


def test_mlflow_client_logs_runs_and_artifacts(mlflow_client_env, backing_store, destination, tmp_path):
    mlflow.set_experiment("from-mlflow")
    with mlflow.start_run(run_name="mlflow-run") as run:
        mlflow.log_param("alpha", 0.5)
        mlflow.log_params({"beta": "x", "gamma": 3})
        for step in range(3):
            mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
        mlflow.log_metrics({"acc": 0.9, "f1": 0.8})
        mlflow.set_tag("team", "vision")
        mlflow.log_dict({"k": 1}, "cfg/config.json")
        (tmp_path / "notes.txt").write_text("hi")
        mlflow.log_artifact(str(tmp_path / "notes.txt"), "docs")
    run_id = run.info.run_id
    ours = backing_store.get_run(run_id)  # what landed in tracklet's store
    assert ours.info.run_name == "mlflow-run" and ours.info.status == "FINISHED"
    assert ours.data.params == {"alpha": "0.5", "beta": "x", "gamma": "3"}
    assert ours.data.metrics == {"loss": 1.0 / 3, "acc": 0.9, "f1": 0.8}
    assert ours.data.tags["team"] == "vision" and ours.data.tags["mlflow.user"]
    assert [m.step for m in backing_store.get_metric_history(run_id, "loss")] == [0, 1, 2]
    eid = ours.info.experiment_id
    assert (destination / eid / run_id / "artifacts" / "docs" / "notes.txt").read_text() == "hi"

    client = mlflow.MlflowClient()
    theirs = client.get_run(run_id)  # and mlflow reads it back
    assert theirs.data.params == ours.data.params and theirs.data.metrics == ours.data.metrics
    assert [m.value for m in client.get_metric_history(run_id, "loss")] == [1.0, 0.5, 1.0 / 3]
    assert sorted(f.path for f in client.list_artifacts(run_id)) == ["cfg", "docs"]
    assert mlflow.artifacts.load_dict(f"runs:/{run_id}/cfg/config.json") == {"k": 1}
    found = mlflow.search_runs(experiment_names=["from-mlflow"], filter_string="metrics.acc > 0.5")
    assert list(found["run_id"]) == [run_id]
    assert client.get_experiment_by_name("from-mlflow").experiment_id == eid
    client.delete_run(run_id)
    assert backing_store.get_run(run_id).info.lifecycle_stage == "deleted"


def test_mlflow_client_forcing_multipart_transfers_falls_back_to_streaming(
    mlflow_client_env, destination, tmp_path, monkeypatch
):
    """A client that forces multipart upload/download gets MLflow's "not supported" answer from mpu/create
    and presigned, and then streams the file through the proxy in one PUT / GET, as against MLflow's server
    with a local artifact destination."""
    monkeypatch.setenv("MLFLOW_ENABLE_PROXY_MULTIPART_UPLOAD", "true")
    monkeypatch.setenv("MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE", "1024")
    monkeypatch.setenv("MLFLOW_ENABLE_PROXY_MULTIPART_DOWNLOAD", "true")
    payload = os.urandom(3 * 1024 * 1024)
    (tmp_path / "weights.bin").write_bytes(payload)
    mlflow.set_experiment("multipart")
    with mlflow.start_run() as run:
        mlflow.log_artifact(str(tmp_path / "weights.bin"), "big")
    eid, run_id = run.info.experiment_id, run.info.run_id
    assert (destination / eid / run_id / "artifacts" / "big" / "weights.bin").read_bytes() == payload
    local = mlflow.artifacts.download_artifacts(f"runs:/{run_id}/big/weights.bin", dst_path=str(tmp_path / "dl"))
    assert open(local, "rb").read() == payload


def test_mlflow_sklearn_log_model_and_load(mlflow_client_env, backing_store):
    np = pytest.importorskip("numpy")
    linear_model = pytest.importorskip("sklearn.linear_model")
    X = np.arange(30, dtype=float).reshape(10, 3)
    y = X @ np.array([1.0, 2.0, 3.0])
    model = linear_model.LinearRegression().fit(X, y)
    mlflow.set_experiment("models")
    with mlflow.start_run() as run:
        # explicit requirements skip mlflow's slow inference subprocess
        info = mlflow.sklearn.log_model(model, name="model", input_example=X[:2], pip_requirements=["scikit-learn"])
    assert info.model_id.startswith("m-")
    stored = backing_store.logged_models.get(info.model_id)
    assert stored.status == "READY" and stored.source_run_id == run.info.run_id and stored.name == "model"
    assert backing_store.logged_models.run_outputs(run.info.run_id) == [(info.model_id, 0)]
    expected = model.predict(X[:3])
    loaded = mlflow.pyfunc.load_model(f"models:/{info.model_id}")
    assert np.allclose(loaded.predict(X[:3]), expected)
    by_run = mlflow.sklearn.load_model(f"runs:/{run.info.run_id}/model")  # resolved through search_logged_models
    assert np.allclose(by_run.predict(X[:3]), expected)
    found = mlflow.search_logged_models(experiment_ids=[stored.experiment_id], output_format="list")
    assert [m.model_id for m in found] == [info.model_id]


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory):
    """A real ``mlflow server`` (SQLite backend, proxied artifacts) on 127.0.0.1."""
    root = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
    env = dict(os.environ, MLFLOW_DISABLE_TELEMETRY="true", DO_NOT_TRACK="true")
    args = [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    args += ["--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}", "--artifacts-destination", str(root / "art")]
    proc = subprocess.Popen(
        args, cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, start_new_session=True
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    try:
        while True:
            if proc.poll() is not None:
                pytest.skip(f"mlflow server did not start: {proc.stderr.read().decode()[-500:]}")
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("mlflow server did not answer within 180 s")
                time.sleep(0.25)
        yield url
    finally:  # mlflow server starts worker processes: stop the whole group it leads
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(30)


def test_tracklet_rest_store_against_mlflow_server(mlflow_server, tmp_path):
    import tracklet

    store = RestStore(mlflow_server)
    eid = store.create_experiment("from-tracklet", tags=[RunTag("team", "a")])
    assert store.get_experiment_by_name("from-tracklet").tags == {"team": "a"}
    assert store.get_experiment_by_name("missing") is None
    run = store.create_run(eid, "me", T0, [RunTag("k", "v")], "tracklet-run")
    rid = run.info.run_id
    store.log_batch(rid, [Metric("m", float(i), T0 + i, i) for i in range(5)], [Param("p", "1")], [RunTag("t", "x")])
    store.log_metric(rid, Metric("nan", float("nan"), T0, 0))
    got = store.get_run(rid)
    assert got.info.run_name == "tracklet-run" and got.data.params == {"p": "1"} and got.data.metrics["m"] == 4.0
    assert [m.step for m in store.get_metric_history(rid, "m")] == [0, 1, 2, 3, 4]
    page = store.search_runs([eid], "metrics.m > 3", 1, 10, ["metrics.m DESC"], None)
    assert [r.info.run_id for r in page] == [rid]
    with pytest.raises(Exception) as err:
        store.log_param(rid, Param("p", "2"))
    assert err.value.error_code == "INVALID_PARAMETER_VALUE"
    store.update_run_info(rid, "FINISHED", T0 + 10, None)
    assert store.get_run(rid).info.status == "FINISHED"

    tracklet.set_tracking_uri(mlflow_server)  # the fluent API with artifacts through mlflow's proxy
    tracklet.set_experiment("from-tracklet")
    with tracklet.start_run() as active:
        tracklet.log_metric("x", 1.0)
        tracklet.log_dict({"a": 1}, "d/a.json")
    client = mlflow.MlflowClient(mlflow_server)
    assert [f.path for f in client.list_artifacts(active.info.run_id, "d")] == ["d/a.json"]
    assert [f.path for f in tracklet.MlflowClient().list_artifacts(active.info.run_id)] == ["d"]
    store.close()
