"""``log_model(name=...)`` through a tracklet server (the REST store): the model lands in the server's artifact
store, tracklet and MLflow 3.17 both load ``models:/<id>``, and the fluent logged-model API answers."""

import mlflow
import numpy as np
from sklearn.linear_model import LinearRegression

import tracklet


def test_log_model_with_name_through_a_tracklet_server(live_url, monkeypatch):
    X = np.arange(30, dtype=float).reshape(10, 3)
    model = LinearRegression().fit(X, X @ np.array([1.0, 2.0, 3.0]))
    tracklet.set_tracking_uri(live_url)
    with tracklet.start_run() as run:
        info = tracklet.sklearn.log_model(model, name="lr")
        kept = tracklet.sklearn.log_model(model, "in_run")
    assert info.model_uri == f"models:/{info.model_id}" and tracklet.last_logged_model().model_id == kept.model_id
    found = tracklet.search_logged_models(filter_string="name = 'lr'", output_format="list")
    assert [(m.model_id, m.status, m.source_run_id) for m in found] == [(info.model_id, "READY", run.info.run_id)]
    expected = model.predict(X[:3])
    for uri in (info.model_uri, f"runs:/{run.info.run_id}/lr", kept.model_uri, f"runs:/{run.info.run_id}/in_run"):
        assert np.allclose(tracklet.pyfunc.load_model(uri).predict(X[:3]), expected)
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    mlflow.set_tracking_uri(live_url)
    try:
        by_id = mlflow.pyfunc.load_model(f"models:/{info.model_id}")
    finally:
        mlflow.set_tracking_uri(None)
    assert np.allclose(by_id.predict(X[:3]), expected)
