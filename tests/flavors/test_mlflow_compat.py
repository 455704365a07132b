"""Models cross the boundary both ways: tracklet saves -> MLflow loads, MLflow saves -> tracklet loads.

Uses the real ``mlflow`` package (a test-only peer). MLflow calls get ``pip_requirements`` so it skips its
requirement-inference subprocess, which costs seconds per model.
"""

import json
import os
import warnings

import numpy as np
import pytest

pytest.importorskip("mlflow")
pytest.importorskip("sklearn")

import mlflow  # noqa: E402
import mlflow.artifacts  # noqa: E402
import mlflow.pyfunc  # noqa: E402
import mlflow.sklearn  # noqa: E402
from mlflow.models import Model as MlflowModel  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402

import tracklet  # noqa: E402
import tracklet.pyfunc  # noqa: E402
import tracklet.sklearn  # noqa: E402

REQS = ["scikit-learn"]  # any explicit list: keeps MLflow from inferring requirements in a subprocess


@pytest.fixture(autouse=True)
def _mlflow_env(monkeypatch):
    monkeypatch.setenv("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "true")  # MLflow 3 refuses pickles otherwise
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


@pytest.fixture(scope="module")
def sk_model(binary_data):
    _, y, df = binary_data
    return LogisticRegression().fit(df, y)


# ---------------------------------------------------------------------- tracklet -> MLflow
def test_mlflow_loads_tracklet_sklearn_model(tmp_path, sk_model, binary_data):
    _, _, df = binary_data
    path = str(tmp_path / "m")
    tracklet.sklearn.save_model(sk_model, path, input_example=df.head(3))
    pyf = mlflow.pyfunc.load_model(path)
    np.testing.assert_array_equal(pyf.predict(df), tracklet.pyfunc.load_model(path).predict(df))
    np.testing.assert_array_equal(mlflow.sklearn.load_model(path).predict(df), sk_model.predict(df))
    meta = MlflowModel.load(path)
    assert meta.signature.inputs.input_names() == ["a", "b", "c"]
    assert meta.signature.to_dict() == tracklet.models.Model.load(path).signature.to_dict()
    example = meta.load_input_example(path)
    assert list(example.columns) == ["a", "b", "c"] and len(example) == 3
    with pytest.raises(mlflow.exceptions.MlflowException, match="missing inputs"):  # MLflow parsed our signature
        pyf.predict(df[["a", "b"]])


def test_mlflow_loads_tracklet_logged_model_and_ndarray_example(sk_model, binary_data):
    X, y, _ = binary_data
    model = LogisticRegression().fit(X, y)
    with tracklet.start_run():
        info = tracklet.sklearn.log_model(model, name="model", input_example=X[:2])
    local = tracklet.flavors.mlmodel.download_model(info.model_uri)
    pyf = mlflow.pyfunc.load_model(local)
    np.testing.assert_array_equal(pyf.predict(X), model.predict(X))
    np.testing.assert_allclose(MlflowModel.load(local).load_input_example(local), X[:2])
    assert MlflowModel.load(local).run_id == info.run_id
    serving = json.loads(open(os.path.join(local, "serving_input_example.json")).read())
    assert serving == {"inputs": X[:2].tolist()}


# ---------------------------------------------------------------------- MLflow -> tracklet
@pytest.mark.parametrize("fmt", ["skops", "cloudpickle"])
def test_tracklet_loads_mlflow_sklearn_model(tmp_path, sk_model, binary_data, fmt):
    if fmt == "skops":
        pytest.importorskip("skops")
    _, _, df = binary_data
    path = str(tmp_path / "m")
    mlflow.sklearn.save_model(sk_model, path, serialization_format=fmt, pip_requirements=REQS, input_example=df.head(2))
    np.testing.assert_array_equal(
        tracklet.pyfunc.load_model(path).predict(df), mlflow.pyfunc.load_model(path).predict(df)
    )
    np.testing.assert_array_equal(tracklet.sklearn.load_model(path).predict(df), sk_model.predict(df))
    meta = tracklet.pyfunc.load_model(path).metadata
    assert meta.signature.inputs.input_names() == ["a", "b", "c"] and meta.mlflow_version == mlflow.__version__
    assert list(meta.load_input_example(path).columns) == ["a", "b", "c"]


def test_tracklet_loads_mlflow_logged_model(tmp_path, monkeypatch, sk_model, binary_data):
    _, _, df = binary_data
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri((tmp_path / "mlruns").as_uri())
    try:
        with mlflow.start_run():
            info = mlflow.sklearn.log_model(
                sk_model, name="model", pip_requirements=REQS, serialization_format="cloudpickle"
            )
        local = mlflow.artifacts.download_artifacts(info.model_uri)
    finally:
        mlflow.set_tracking_uri(previous)
    np.testing.assert_array_equal(tracklet.pyfunc.load_model(local).predict(df), sk_model.predict(df))


# ---------------------------------------------------------------------- xgboost / lightgbm both ways
def _xgb_models(X, y):
    import xgboost as xgb

    return {
        "booster": xgb.train({"objective": "binary:logistic", "max_depth": 2}, xgb.DMatrix(X, label=y), 3),
        "classifier": xgb.XGBClassifier(n_estimators=3, max_depth=2).fit(X, y),
    }


def _lgb_models(X, y):
    import lightgbm as lgb

    params = {"objective": "binary", "num_leaves": 4, "min_data_in_leaf": 5, "verbose": -1}
    return {
        "booster": lgb.train(params, lgb.Dataset(X, label=y), 3),
        "classifier": lgb.LGBMClassifier(n_estimators=3, num_leaves=4, min_child_samples=5, verbose=-1).fit(X, y),
    }


@pytest.mark.parametrize("framework", ["xgboost", "lightgbm"])
@pytest.mark.parametrize("kind", ["booster", "classifier"])
def test_boosting_models_both_ways(tmp_path, binary_data, framework, kind):
    pytest.importorskip(framework)
    import importlib

    X, y, _ = binary_data
    model = (_xgb_models if framework == "xgboost" else _lgb_models)(X, y)[kind]
    ours = importlib.import_module(f"tracklet.{framework}")
    theirs = importlib.import_module(f"mlflow.{framework}")

    tracklet_path = str(tmp_path / "by_tracklet")
    ours.save_model(model, tracklet_path, input_example=X[:2])
    expected = tracklet.pyfunc.load_model(tracklet_path).predict(X)
    np.testing.assert_allclose(mlflow.pyfunc.load_model(tracklet_path).predict(X), expected)
    assert type(theirs.load_model(tracklet_path)) is type(model)

    mlflow_path = str(tmp_path / "by_mlflow")
    theirs.save_model(model, mlflow_path, pip_requirements=REQS)
    np.testing.assert_allclose(tracklet.pyfunc.load_model(mlflow_path).predict(X), expected)
    assert type(ours.load_model(mlflow_path)) is type(model)


def test_mlflow_loads_runs_uri_from_tracklet_file_store(tmp_path, monkeypatch, binary_data):
    """tracklet logs into an ./mlruns folder; MLflow resolves runs:/<id>/model there and predicts the same."""
    pytest.importorskip("tracklet.tracking.stores.file")
    X, y, _ = binary_data
    model = LogisticRegression().fit(X, y)
    uri = (tmp_path / "mlruns").as_uri()
    tracklet.set_tracking_uri(uri)
    with tracklet.start_run():
        info = tracklet.sklearn.log_model(model, name="model")
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(uri)
    try:
        pyf = mlflow.pyfunc.load_model(info.model_uri)
    finally:
        mlflow.set_tracking_uri(previous)
    np.testing.assert_array_equal(pyf.predict(X), model.predict(X))
    assert pyf.metadata.run_id == info.run_id
