"""xgboost flavor: Booster and sklearn-API models, native formats, pyfunc predict, log_model."""

import json

import numpy as np
import pytest
import yaml

xgb = pytest.importorskip("xgboost")

import tracklet  # noqa: E402
import tracklet.pyfunc  # noqa: E402
import tracklet.xgboost  # noqa: E402
from tracklet.exceptions import TrackletException  # noqa: E402


@pytest.fixture(scope="module")
def booster(binary_data):
    X, y, _ = binary_data
    return xgb.train({"objective": "binary:logistic", "max_depth": 2}, xgb.DMatrix(X, label=y), num_boost_round=3)


@pytest.fixture(scope="module")
def classifier(binary_data):
    X, y, _ = binary_data
    return xgb.XGBClassifier(n_estimators=3, max_depth=2).fit(X, y)


def test_booster_round_trip(tmp_path, booster, binary_data):
    X, _, _ = binary_data
    tracklet.xgboost.save_model(booster, str(tmp_path / "m"), input_example=X[:2])
    mlmodel = yaml.safe_load((tmp_path / "m" / "MLmodel").read_text())
    assert mlmodel["flavors"]["xgboost"] == {
        "data": "model.ubj",
        "model_class": "xgboost.core.Booster",
        "model_format": "ubj",
        "xgb_version": xgb.__version__,
        "code": None,
    }
    assert mlmodel["flavors"]["python_function"]["loader_module"] == "mlflow.xgboost"
    assert mlmodel["flavors"]["python_function"]["data"] == "model.ubj"
    assert json.loads(mlmodel["signature"]["outputs"]) == [
        {"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1]}}
    ]
    reqs = (tmp_path / "m" / "requirements.txt").read_text().splitlines()
    assert f"xgboost=={xgb.__version__}" in reqs and not any(r.startswith("scikit-learn") for r in reqs)

    loaded = tracklet.xgboost.load_model(str(tmp_path / "m"))
    assert isinstance(loaded, xgb.Booster)
    expected = booster.predict(xgb.DMatrix(X))
    np.testing.assert_allclose(loaded.predict(xgb.DMatrix(X)), expected)
    np.testing.assert_allclose(tracklet.pyfunc.load_model(str(tmp_path / "m")).predict(X), expected)


@pytest.mark.parametrize("fmt", ["json", "xgb"])
def test_other_model_formats(tmp_path, booster, binary_data, fmt):
    X, _, _ = binary_data
    tracklet.xgboost.save_model(booster, str(tmp_path / "m"), model_format=fmt)
    assert (tmp_path / "m" / f"model.{fmt}").exists()
    np.testing.assert_allclose(
        tracklet.pyfunc.load_model(str(tmp_path / "m")).predict(X), booster.predict(xgb.DMatrix(X))
    )


def test_sklearn_api_model_reloads_as_its_class(tmp_path, classifier, binary_data):
    X, _, df = binary_data
    tracklet.xgboost.save_model(classifier, str(tmp_path / "m"))
    conf = yaml.safe_load((tmp_path / "m" / "MLmodel").read_text())["flavors"]["xgboost"]
    assert conf["model_class"] == "xgboost.sklearn.XGBClassifier"
    loaded = tracklet.xgboost.load_model(str(tmp_path / "m"))
    assert type(loaded) is xgb.XGBClassifier
    np.testing.assert_array_equal(loaded.predict(X), classifier.predict(X))
    np.testing.assert_allclose(loaded.predict_proba(X), classifier.predict_proba(X))
    np.testing.assert_array_equal(tracklet.pyfunc.load_model(str(tmp_path / "m")).predict(X), classifier.predict(X))


def test_regressor_with_dataframe_and_log_model(binary_data):
    X, y, df = binary_data
    reg = xgb.XGBRegressor(n_estimators=3, max_depth=2).fit(df, y.astype(float))
    with tracklet.start_run() as run:
        info = tracklet.xgboost.log_model(reg, name="model", input_example=df.head(3))
        tracklet.xgboost.log_model(reg, "model_json", model_format="json")
    assert info.model_uri == f"models:/{info.model_id}" and info.run_id == run.info.run_id
    assert info.flavors["xgboost"]["model_class"] == "xgboost.sklearn.XGBRegressor"
    assert info.signature.inputs.input_names() == ["a", "b", "c"]
    loaded = tracklet.xgboost.load_model(info.model_uri)
    assert type(loaded) is xgb.XGBRegressor
    pyf = tracklet.pyfunc.load_model(info.model_uri)
    np.testing.assert_allclose(pyf.predict(df), reg.predict(df))
    with pytest.raises(TrackletException, match="missing inputs"):
        pyf.predict(df[["a", "b"]])
    history = json.loads(tracklet.get_run(run.info.run_id).data.tags["mlflow.log-model.history"])
    assert [h["artifact_path"] for h in history] == ["model", "model_json"]


def test_rejects_non_xgboost_models_and_bad_formats(tmp_path, booster):
    with pytest.raises(TrackletException, match="xgb_model"):
        tracklet.xgboost.save_model(object(), str(tmp_path / "a"))
    with pytest.raises(TrackletException, match="model_format"):
        tracklet.xgboost.save_model(booster, str(tmp_path / "b"), model_format="pkl")


def test_model_class_outside_xgboost_is_refused(tmp_path, booster):
    tracklet.xgboost.save_model(booster, str(tmp_path / "m"))
    path = tmp_path / "m" / "MLmodel"
    data = yaml.safe_load(path.read_text())
    data["flavors"]["xgboost"]["model_class"] = "os.system"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(TrackletException, match="not a xgboost class"):
        tracklet.xgboost.load_model(str(tmp_path / "m"))
