"""Models MLflow 3 logs as logged models (``log_model(name=...)``) load with tracklet: ``models:/<model_id>`` and
``runs:/<run_id>/<name>``, from an ``mlruns`` folder MLflow wrote and from tracklet server."""

from __future__ import annotations

import pytest

import tracklet
import tracklet.pyfunc
import tracklet.sklearn

mlflow = pytest.importorskip("mlflow")
np = pytest.importorskip("numpy")
linear_model = pytest.importorskip("sklearn.linear_model")


@pytest.fixture
def fitted():
    X = np.arange(30, dtype=float).reshape(10, 3)
    return linear_model.LinearRegression().fit(X, X @ np.array([1.0, 2.0, 3.0])), X


def log_with_mlflow(tracking_uri: str, model, monkeypatch) -> tuple[str, str]:
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # mlflow 3.17 refuses mlruns folders unless asked
    mlflow.set_tracking_uri(tracking_uri)
    try:
        mlflow.set_experiment("mlflow3-models")
        with mlflow.start_run() as run:
            info = mlflow.sklearn.log_model(model, name="model", pip_requirements=["scikit-learn"])
    finally:
        mlflow.set_tracking_uri(None)
        mlflow.tracking.fluent._active_experiment_id = None
    return run.info.run_id, info.model_id


def check_loads(fitted_model, X, run_id: str, model_id: str) -> None:
    expected = fitted_model.predict(X[:3])
    assert np.allclose(tracklet.pyfunc.load_model(f"models:/{model_id}").predict(X[:3]), expected)
    assert np.allclose(tracklet.sklearn.load_model(f"runs:/{run_id}/model").predict(X[:3]), expected)


def test_mlflow3_file_store_models_load_with_tracklet(tmp_path, fitted, monkeypatch):
    model, X = fitted
    mlruns = tmp_path / "mlruns"
    run_id, model_id = log_with_mlflow(mlruns.as_uri(), model, monkeypatch)
    tracklet.set_tracking_uri(str(mlruns))
    assert tracklet.MlflowClient().store.logged_models.get(model_id).status == "READY"
    check_loads(model, X, run_id, model_id)


def test_models_logged_through_tracklet_server_load_with_tracklet(live_url, fitted, monkeypatch):
    model, X = fitted
    run_id, model_id = log_with_mlflow(live_url, model, monkeypatch)
    tracklet.set_tracking_uri(live_url)
    check_loads(model, X, run_id, model_id)
    from tracklet.exceptions import InvalidParameterValue, ResourceDoesNotExist

    with pytest.raises(ResourceDoesNotExist):
        tracklet.pyfunc.load_model("models:/m-00000000000000000000000000000000")
    with pytest.raises(InvalidParameterValue, match="registry"):
        tracklet.pyfunc.load_model("models:/my-registered-model/1")
