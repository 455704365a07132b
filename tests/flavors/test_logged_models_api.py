"""MLflow 3 logged models from tracklet's Python API: ``log_model(name=...)``, ``models:/<id>``,
``last_logged_model`` / ``get_logged_model`` / ``search_logged_models``, on SQLite and the file store."""

import json

import mlflow
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

import tracklet
from tracklet.exceptions import ResourceDoesNotExist, TrackletException


@pytest.fixture(params=["sqlite", "file"])
def store_uri(request, tmp_path):
    uri = f"sqlite:///{tmp_path}/db.sqlite" if request.param == "sqlite" else str(tmp_path / "mlruns")
    tracklet.set_tracking_uri(uri)
    return uri


@pytest.fixture
def clf(iris_like):
    _, y, df = iris_like
    return LogisticRegression(max_iter=200).fit(df, y)


def test_log_model_with_name_is_a_logged_model(store_uri, iris_like, clf):
    _, _, df = iris_like
    with tracklet.start_run() as run:
        info = tracklet.sklearn.log_model(clf, name="clf", input_example=df.head(2))
    run_id = run.info.run_id
    assert info.model_id.startswith("m-") and info.model_uri == f"models:/{info.model_id}"
    assert (info.run_id, info.artifact_path, info.name) == (run_id, "clf", "clf")
    assert "sklearn" in info.flavors and info.signature is not None and info.creation_timestamp > 0
    model = tracklet.get_logged_model(info.model_id)
    assert (model.status, model.source_run_id, model.name) == ("READY", run_id, "clf")
    assert model.artifact_location.rstrip("/").endswith(f"models/{info.model_id}/artifacts")
    assert tracklet.last_logged_model().model_id == info.model_id
    # MLflow 3's layout: the files are the model's, not the run's; runs:/<run>/<name> still finds them
    assert "clf" not in {a.path for a in tracklet.MlflowClient().list_artifacts(run_id)}
    expected = clf.predict(df)
    for uri in (info.model_uri, f"runs:/{run_id}/clf"):
        np.testing.assert_array_equal(tracklet.pyfunc.load_model(uri).predict(df), expected)
        np.testing.assert_array_equal(tracklet.sklearn.load_model(uri).predict(df), expected)
    assert tracklet.models.Model.load(info.model_uri).model_id == info.model_id  # MLflow 3 writes it in MLmodel
    history = json.loads(tracklet.get_run(run_id).data.tags["mlflow.log-model.history"])
    assert [h["model_uuid"] for h in history] == [info.model_uuid]


def test_positional_and_artifact_path_stay_in_the_run(store_uri, iris_like, clf):
    _, _, df = iris_like
    with tracklet.start_run() as run:
        positional = tracklet.sklearn.log_model(clf, "model")
        nested = tracklet.sklearn.log_model(clf, artifact_path="deep/er")
    run_id = run.info.run_id
    names = {a.path for a in tracklet.MlflowClient().list_artifacts(run_id, "model")}
    assert {"model/MLmodel", "model/model.pkl"} <= names  # the run's artifacts, as tracklet always wrote them
    for info, path in ((positional, "model"), (nested, "deep/er")):
        assert info.model_uri == f"models:/{info.model_id}" and info.artifact_path == path
        for uri in (info.model_uri, f"runs:/{run_id}/{path}"):
            np.testing.assert_array_equal(tracklet.pyfunc.load_model(uri).predict(df), clf.predict(df))
    assert tracklet.get_logged_model(nested.model_id).name == "er"  # a model name has no "/"
    assert tracklet.last_logged_model().model_id == nested.model_id


def test_search_logged_models(store_uri, iris_like, clf):
    with tracklet.start_run() as run:
        first = tracklet.sklearn.log_model(clf, name="a")
        second = tracklet.sklearn.log_model(clf, name="b")
    found = tracklet.search_logged_models(output_format="list")
    assert [m.model_id for m in found] == [second.model_id, first.model_id]  # newest first
    assert [m.name for m in tracklet.search_logged_models(filter_string="name = 'a'", output_format="list")] == ["a"]
    frame = tracklet.search_logged_models(order_by=[{"field_name": "name", "ascending": True}])
    assert list(frame["name"]) == ["a", "b"] and set(frame["source_run_id"]) == {run.info.run_id}
    exp = run.info.experiment_id
    assert len(tracklet.search_logged_models([exp], max_results=1, output_format="list")) == 1
    assert tracklet.search_logged_models(["0", exp], filter_string="name = 'zz'").empty
    with pytest.raises(TrackletException, match="output_format"):
        tracklet.search_logged_models(output_format="json")
    with pytest.raises(ResourceDoesNotExist):
        tracklet.get_logged_model("m-" + "0" * 32)


def test_failed_save_leaves_a_failed_model_and_no_last(store_uri):
    with tracklet.start_run(), pytest.raises(TrackletException):
        tracklet.sklearn.log_model(object(), name="bad", serialization_format="nope")
    assert tracklet.last_logged_model() is None
    assert [m.status for m in tracklet.search_logged_models(output_format="list")] == ["FAILED"]


def test_autologged_fit_records_a_logged_model(store_uri, iris_like):
    X, y, df = iris_like
    tracklet.sklearn.autolog()
    try:
        with tracklet.start_run() as run:
            est = LogisticRegression(max_iter=200).fit(X, y)
    finally:
        tracklet.sklearn.autolog(disable=True)
    model = tracklet.last_logged_model()
    assert model is not None and model.source_run_id == run.info.run_id and model.status == "READY"
    assert "model" in {a.path for a in tracklet.MlflowClient().list_artifacts(run.info.run_id)}
    np.testing.assert_array_equal(tracklet.pyfunc.load_model(model.model_uri).predict(X), est.predict(X))


def test_mlflow_loads_a_model_tracklet_logged_with_name(tmp_path, monkeypatch, iris_like, clf):
    _, _, df = iris_like
    uri = (tmp_path / "mlruns").as_uri()
    tracklet.set_tracking_uri(uri)
    with tracklet.start_run() as run:
        info = tracklet.sklearn.log_model(clf, name="clf")
        kept = tracklet.sklearn.log_model(clf, "in_run")
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    mlflow.set_tracking_uri(uri)
    try:
        by_id = mlflow.pyfunc.load_model(f"models:/{info.model_id}")
        by_run = mlflow.pyfunc.load_model(f"runs:/{run.info.run_id}/clf")
        in_run = mlflow.pyfunc.load_model(f"runs:/{run.info.run_id}/in_run")
        assert mlflow.get_logged_model(info.model_id).source_run_id == run.info.run_id
    finally:
        mlflow.set_tracking_uri(None)
    for pyf in (by_id, by_run, in_run):
        np.testing.assert_array_equal(pyf.predict(df), clf.predict(df))
    assert kept.model_id != info.model_id
