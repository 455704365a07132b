"""lightgbm flavor: Booster (text format) and sklearn-API models (pickled), pyfunc predict, log_model."""

import json

import numpy as np
import pytest
import yaml

lgb = pytest.importorskip("lightgbm")

import tracklet  # noqa: E402
import tracklet.lightgbm  # noqa: E402
import tracklet.pyfunc  # noqa: E402
from tracklet.exceptions import TrackletException  # noqa: E402


@pytest.fixture(scope="module")
def booster(binary_data):
    X, y, _ = binary_data
    params = {"objective": "binary", "num_leaves": 4, "min_data_in_leaf": 5, "verbose": -1}
    return lgb.train(params, lgb.Dataset(X, label=y), num_boost_round=3)


@pytest.fixture(scope="module")
def classifier(binary_data):
    _, y, df = binary_data
    return lgb.LGBMClassifier(n_estimators=3, num_leaves=4, min_child_samples=5, verbose=-1).fit(df, y)


def test_booster_round_trip(tmp_path, booster, binary_data):
    X, _, _ = binary_data
    tracklet.lightgbm.save_model(booster, str(tmp_path / "m"), input_example=X[:2])
    mlmodel = yaml.safe_load((tmp_path / "m" / "MLmodel").read_text())
    assert mlmodel["flavors"]["lightgbm"] == {
        "data": "model.lgb",
        "model_class": "lightgbm.basic.Booster",
        "lgb_version": lgb.__version__,
        "code": None,
    }
    pyfunc_conf = mlmodel["flavors"]["python_function"]
    assert pyfunc_conf["loader_module"] == "mlflow.lightgbm" and pyfunc_conf["data"] == "model.lgb"
    assert (tmp_path / "m" / "model.lgb").read_text().startswith("tree")  # LightGBM's text format
    reqs = (tmp_path / "m" / "requirements.txt").read_text().splitlines()
    assert f"lightgbm=={lgb.__version__}" in reqs

    loaded = tracklet.lightgbm.load_model(str(tmp_path / "m"))
    assert isinstance(loaded, lgb.Booster)
    np.testing.assert_allclose(loaded.predict(X), booster.predict(X))
    np.testing.assert_allclose(tracklet.pyfunc.load_model(str(tmp_path / "m")).predict(X), booster.predict(X))


def test_sklearn_api_model_is_pickled_and_reloads_as_its_class(tmp_path, classifier, binary_data):
    _, _, df = binary_data
    tracklet.lightgbm.save_model(classifier, str(tmp_path / "m"), input_example=df.head(3))
    conf = yaml.safe_load((tmp_path / "m" / "MLmodel").read_text())["flavors"]["lightgbm"]
    assert conf["data"] == "model.pkl" and conf["serialization_format"] == "cloudpickle"
    assert conf["model_class"] == "lightgbm.sklearn.LGBMClassifier"
    loaded = tracklet.lightgbm.load_model(str(tmp_path / "m"))
    assert type(loaded) is lgb.LGBMClassifier
    np.testing.assert_allclose(loaded.predict_proba(df), classifier.predict_proba(df))
    pyf = tracklet.pyfunc.load_model(str(tmp_path / "m"))
    np.testing.assert_array_equal(pyf.predict(df), classifier.predict(df))
    with pytest.raises(TrackletException, match="'c'"):
        pyf.predict(df[["a", "b"]])


def test_log_model_two_models_one_run(booster, classifier, binary_data):
    X, _, df = binary_data
    with tracklet.start_run() as run:
        info_b = tracklet.lightgbm.log_model(booster, name="booster")
        info_c = tracklet.lightgbm.log_model(classifier, "clf")
    history = json.loads(tracklet.get_run(run.info.run_id).data.tags["mlflow.log-model.history"])
    assert [h["model_uuid"] for h in history] == [info_b.model_uuid, info_c.model_uuid]
    assert isinstance(tracklet.lightgbm.load_model(info_b.model_uri), lgb.Booster)
    np.testing.assert_array_equal(tracklet.pyfunc.load_model(info_c.model_uri).predict(df), classifier.predict(df))


def test_rejects_non_lightgbm_models(tmp_path):
    with pytest.raises(TrackletException, match="lgb_model"):
        tracklet.lightgbm.save_model([1, 2], str(tmp_path / "a"))
