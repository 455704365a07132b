"""The keras flavor: .keras round trips, pyfunc with numpy and pandas and the signature, MLflow both ways."""

import os
import warnings

import numpy as np
import pandas as pd
import pytest

keras = pytest.importorskip("keras")

import tracklet  # noqa: E402
import tracklet.keras  # noqa: E402
import tracklet.pyfunc  # noqa: E402
import tracklet.tensorflow  # noqa: E402
from tracklet.exceptions import TrackletException  # noqa: E402
from tracklet.models import infer_signature  # noqa: E402


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 4)).astype("float32")
    return X, (X[:, 0] > 0).astype("float32")


@pytest.fixture(scope="module")
def model(data):
    X, y = data
    keras.utils.set_random_seed(0)
    m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(1)])
    m.compile(optimizer="adam", loss="mse")
    m.fit(X, y, epochs=1, verbose=0)
    return m


def test_save_load_round_trip_numpy_and_pandas(tmp_path, model, data):
    X, _ = data
    path = str(tmp_path / "m")
    tracklet.keras.save_model(model, path, input_example=X[:3])
    expected = model.predict(X, verbose=0)
    assert sorted(os.listdir(os.path.join(path, "data"))) == ["keras_module.txt", "model.keras"]
    np.testing.assert_allclose(tracklet.keras.load_model(path).predict(X, verbose=0), expected, rtol=1e-6)
    pyf = tracklet.pyfunc.load_model(path)
    np.testing.assert_allclose(pyf.predict(X), expected, rtol=1e-6)
    df = pd.DataFrame(X, index=range(100, 140))
    out = pyf.predict(df)  # tensor signature: the frame's values are checked and passed as an array
    np.testing.assert_allclose(np.asarray(out), expected, rtol=1e-6)
    meta = tracklet.models.Model.load(path)
    assert meta.flavors["keras"]["keras_backend"] == keras.backend.backend()
    assert meta.flavors["keras"]["save_exported_model"] is False
    assert meta.flavors["python_function"]["loader_module"] == "mlflow.keras"
    assert meta.signature.inputs.to_dict()[0]["tensor-spec"]["shape"] == [-1, 4]
    with pytest.raises(TrackletException, match="shape"):
        pyf.predict(X[:, :3])


def test_without_signature_a_dataframe_gives_a_dataframe_with_its_index(tmp_path, model, data):
    X, _ = data
    path = str(tmp_path / "m")
    tracklet.tensorflow.save_model(model, path)  # the same flavor under MLflow's other name
    df = pd.DataFrame(X, index=range(100, 140))
    out = tracklet.pyfunc.load_model(path).predict(df)
    assert isinstance(out, pd.DataFrame) and list(out.index) == list(df.index)
    np.testing.assert_allclose(out.to_numpy(), model.predict(X, verbose=0), rtol=1e-6)


def test_log_model_to_a_run(model, data):
    X, _ = data
    sig = infer_signature(X, model.predict(X, verbose=0))
    with tracklet.start_run() as run:
        info = tracklet.keras.log_model(model, name="net", signature=sig)
    assert info.model_uri == f"models:/{info.model_id}" and info.artifact_path == "net"
    loaded = tracklet.keras.load_model(info.model_uri)
    np.testing.assert_allclose(loaded.predict(X, verbose=0), model.predict(X, verbose=0), rtol=1e-6)
    assert "net" in tracklet.get_run(run.info.run_id).data.tags["mlflow.log-model.history"]


def test_bad_input_is_named(tmp_path, model):
    with pytest.raises(TrackletException, match="keras.Model"):
        tracklet.keras.save_model(object(), str(tmp_path / "a"))
    with pytest.raises(TrackletException, match="save_exported_model"):
        tracklet.keras.save_model(model, str(tmp_path / "b"), save_exported_model=True)
    assert not os.path.exists(tmp_path / "b")
    with pytest.raises(TrackletException, match="MLmodel"):
        tracklet.keras.load_model(str(tmp_path))  # no model there: a named error, not a traceback
    other = tmp_path / "other"
    other.mkdir()
    (other / "MLmodel").write_text("flavors:\n  sklearn: {pickled_model: model.pkl}\n")
    with pytest.raises(TrackletException, match="no keras flavor"):
        tracklet.keras.load_model(str(other))


def test_mlflow_loads_tracklet_models_and_the_reverse(tmp_path, model, data):
    pytest.importorskip("mlflow")
    import mlflow.keras
    import mlflow.pyfunc
    import mlflow.tensorflow

    X, _ = data
    expected = model.predict(X, verbose=0)
    ours = str(tmp_path / "ours")
    tracklet.keras.save_model(model, ours, input_example=X[:2])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        np.testing.assert_allclose(mlflow.pyfunc.load_model(ours).predict(X), expected, rtol=1e-6)
        np.testing.assert_allclose(mlflow.keras.load_model(ours).predict(X, verbose=0), expected, rtol=1e-6)
        for name, save in (("mk", mlflow.keras.save_model), ("mt", mlflow.tensorflow.save_model)):
            save(model, str(tmp_path / name), pip_requirements=["keras"])  # no requirement-inference subprocess
    for name in ("mk", "mt"):
        path = str(tmp_path / name)
        np.testing.assert_allclose(tracklet.pyfunc.load_model(path).predict(X), expected, rtol=1e-6)
        np.testing.assert_allclose(tracklet.keras.load_model(path).predict(X, verbose=0), expected, rtol=1e-6)


def test_tf_keras_model_round_trip(tmp_path, data):
    tf_keras = pytest.importorskip("tf_keras")
    X, y = data
    m = tf_keras.Sequential([tf_keras.layers.Dense(3, input_shape=(4,)), tf_keras.layers.Dense(1)])
    m.compile(optimizer="sgd", loss="mse")
    m.fit(X, y, epochs=1, verbose=0)
    path = str(tmp_path / "legacy")
    tracklet.keras.save_model(m, path)
    with open(os.path.join(path, "data", "keras_module.txt")) as f:
        assert f.read() == "tf_keras"
    assert any(r.startswith("tf-keras==") for r in open(os.path.join(path, "requirements.txt")).read().split())
    loaded = tracklet.keras.load_model(path)
    assert isinstance(loaded, tf_keras.Model)
    np.testing.assert_allclose(tracklet.pyfunc.load_model(path).predict(X), m.predict(X, verbose=0), rtol=1e-6)
