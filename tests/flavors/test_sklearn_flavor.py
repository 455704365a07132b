"""sklearn flavor: save/log/load, pyfunc predict and signature enforcement, log-model history."""

import json
import logging
import os

import numpy as np
import pytest
import yaml

pytest.importorskip("sklearn")

from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

import tracklet  # noqa: E402
import tracklet.pyfunc  # noqa: E402
import tracklet.sklearn  # noqa: E402
from tracklet.exceptions import ResourceAlreadyExists, TrackletException  # noqa: E402
from tracklet.tracking.current import get_client as _client  # noqa: E402


@pytest.fixture(scope="module")
def clf(iris_like):
    X, y, df = iris_like
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=200)).fit(df, y)


def test_save_and_load_round_trip(tmp_path, clf, iris_like):
    _, _, df = iris_like
    path = tmp_path / "model"
    tracklet.sklearn.save_model(clf, str(path), input_example=df.head(3))
    assert sorted(os.listdir(path)) == [
        "MLmodel",
        "conda.yaml",
        "input_example.json",
        "model.pkl",
        "python_env.yaml",
        "requirements.txt",
        "serving_input_example.json",
    ]
    mlmodel = yaml.safe_load((path / "MLmodel").read_text())
    import sklearn

    assert mlmodel["flavors"]["sklearn"] == {
        "pickled_model": "model.pkl",
        "sklearn_version": sklearn.__version__,
        "serialization_format": "cloudpickle",
        "code": None,
    }
    pyfunc_conf = mlmodel["flavors"]["python_function"]
    assert pyfunc_conf["loader_module"] == "mlflow.sklearn" and pyfunc_conf["model_path"] == "model.pkl"
    assert pyfunc_conf["predict_fn"] == "predict"
    assert pyfunc_conf["env"] == {"conda": "conda.yaml", "virtualenv": "python_env.yaml"}
    assert mlmodel["model_size_bytes"] > 0
    # signature inferred from the example and the model's prediction on it
    assert [c["name"] for c in json.loads(mlmodel["signature"]["inputs"])] == list(df.columns)
    assert json.loads(mlmodel["signature"]["outputs"]) == [
        {"type": "tensor", "tensor-spec": {"dtype": "int64", "shape": [-1]}}
    ]
    reqs = (path / "requirements.txt").read_text().splitlines()
    assert f"scikit-learn=={sklearn.__version__}" in reqs and any(r.startswith("cloudpickle==") for r in reqs)
    assert not any(r.startswith("mlflow") for r in reqs)

    loaded = tracklet.sklearn.load_model(str(path))
    np.testing.assert_array_equal(loaded.predict(df), clf.predict(df))
    pyf = tracklet.pyfunc.load_model(path.as_uri())
    np.testing.assert_array_equal(pyf.predict(df), clf.predict(df))
    assert pyf.get_raw_model().__class__ is clf.__class__ and pyf.unwrap_python_model() is pyf.get_raw_model()
    assert pyf.metadata.signature.inputs.input_names() == list(df.columns)


@pytest.mark.parametrize("fmt", ["pickle", "skops"])
def test_other_serialization_formats(tmp_path, iris_like, fmt):
    if fmt == "skops":
        pytest.importorskip("skops")
    X, y, _ = iris_like
    model = LogisticRegression(max_iter=200).fit(X, y)
    tracklet.sklearn.save_model(model, str(tmp_path / "m"), serialization_format=fmt)
    conf = yaml.safe_load((tmp_path / "m" / "MLmodel").read_text())["flavors"]["sklearn"]
    assert conf["serialization_format"] == fmt
    np.testing.assert_array_equal(tracklet.pyfunc.load_model(str(tmp_path / "m")).predict(X), model.predict(X))


def test_save_model_errors(tmp_path, clf):
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "f").write_text("x")
    with pytest.raises(ResourceAlreadyExists, match="not empty"):
        tracklet.sklearn.save_model(clf, str(tmp_path / "busy"))
    with pytest.raises(TrackletException, match="serialization_format"):
        tracklet.sklearn.save_model(clf, str(tmp_path / "a"), serialization_format="joblib")
    with pytest.raises(TrackletException, match="pyfunc_predict_fn"):
        tracklet.sklearn.save_model(clf, str(tmp_path / "b"), pyfunc_predict_fn="fit")


def test_pyfunc_predict_fn_and_metadata(tmp_path, clf, iris_like):
    _, _, df = iris_like
    tracklet.sklearn.save_model(
        clf,
        str(tmp_path / "m"),
        pyfunc_predict_fn="predict_proba",
        metadata={"owner": "me"},
        signature=False,
        input_example=df.head(2),
    )
    pyf = tracklet.pyfunc.load_model(str(tmp_path / "m"))
    np.testing.assert_allclose(pyf.predict(df), clf.predict_proba(df))
    assert pyf.metadata.metadata == {"owner": "me"} and pyf.metadata.signature is None


def test_pyfunc_enforces_signature(tmp_path, clf, iris_like):
    _, _, df = iris_like
    tracklet.sklearn.save_model(clf, str(tmp_path / "m"), input_example=df.head(3))
    pyf = tracklet.pyfunc.load_model(str(tmp_path / "m"))
    with pytest.raises(TrackletException, match="petal_wid"):
        pyf.predict(df.drop(columns=["petal_wid"]))
    with pytest.raises(TrackletException, match="sepal_len"):
        pyf.predict(df.assign(sepal_len="x"))
    # int columns are safely cast to the double the model was saved with; column order does not matter
    as_int = df.round().astype("int64")[list(reversed(df.columns))]
    np.testing.assert_array_equal(pyf.predict(as_int), clf.predict(df.round()))


def test_log_model_records_history_and_loads_by_run_uri(iris_like, clf):
    X, y, df = iris_like
    with tracklet.start_run() as run:
        info1 = tracklet.sklearn.log_model(clf, name="model", input_example=df.head(2))
        info2 = tracklet.sklearn.log_model(LogisticRegression().fit(X, y), artifact_path="plain")
    run_id = run.info.run_id
    assert info1.model_uri == f"models:/{info1.model_id}" and info1.run_id == run_id  # MLflow 3: a logged model
    assert info1.artifact_path == "model" and "sklearn" in info1.flavors and info1.signature is not None
    assert len(info1.model_uuid) == 32 and info1.utc_time_created
    history = json.loads(tracklet.get_run(run_id).data.tags["mlflow.log-model.history"])
    assert [h["artifact_path"] for h in history] == ["model", "plain"]
    assert history[0]["model_uuid"] == info1.model_uuid and history[1]["model_uuid"] == info2.model_uuid
    assert set(history[0]) == {"run_id", "artifact_path", "utc_time_created", "model_uuid", "flavors"}
    assert set(history[0]["flavors"]) == {"python_function", "sklearn"}

    names = {f.path for f in _client().list_artifacts(run_id, "plain")}  # artifact_path=: in the run, as before
    assert {"plain/MLmodel", "plain/model.pkl", "plain/requirements.txt"} <= names
    files = os.listdir(tracklet.models.model.download_model(f"runs:/{run_id}/model"))  # name=: in the logged model
    assert {"MLmodel", "model.pkl", "requirements.txt", "input_example.json"} <= set(files)
    np.testing.assert_array_equal(tracklet.pyfunc.load_model(info1.model_uri).predict(df), clf.predict(df))
    np.testing.assert_array_equal(tracklet.sklearn.load_model(info2.model_uri).predict(X), info2_pred(X, y))
    mlmodel = tracklet.models.Model.load(info1.model_uri)
    assert mlmodel.run_id == run_id and mlmodel.artifact_path == "model"
    assert tracklet.models.get_model_info(info1.model_uri).model_uuid == info1.model_uuid
    deps = tracklet.pyfunc.get_model_dependencies(info1.model_uri)
    assert open(deps).read().startswith("scikit-learn==")


def info2_pred(X, y):
    return LogisticRegression().fit(X, y).predict(X)


def test_log_model_without_active_run_starts_one(iris_like):
    X, y, _ = iris_like
    info = tracklet.sklearn.log_model(LogisticRegression().fit(X, y))
    assert tracklet.active_run().info.run_id == info.run_id and info.artifact_path == "model"
    tracklet.end_run()


class _ListHandler(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def test_log_model_to_explicit_run_and_argument_checks(iris_like):
    X, y, _ = iris_like
    model = LogisticRegression().fit(X, y)
    run = _client().create_run("0")
    handler = _ListHandler()
    logging.getLogger("tracklet.flavors").addHandler(handler)  # the tracklet logger does not propagate
    try:
        info = tracklet.sklearn.log_model(
            model, "m", run_id=run.info.run_id, registered_model_name="prod", await_registration_for=5
        )
    finally:
        logging.getLogger("tracklet.flavors").removeHandler(handler)
    assert info.model_uri == f"models:/{info.model_id}" and info.logged_model.source_run_id == run.info.run_id
    assert tracklet.models.Model.load(f"runs:/{run.info.run_id}/m").model_uuid == info.model_uuid
    text = "\n".join(handler.messages)
    assert "registry" in text and "await_registration_for" in text
    assert tracklet.active_run() is None
    with pytest.raises(TrackletException, match="artifact_path or name"):
        tracklet.sklearn.log_model(model, artifact_path="a", name="b", run_id=run.info.run_id)
    with pytest.raises(TypeError, match="unexpected keyword"):
        tracklet.sklearn.log_model(model, run_id=run.info.run_id, no_such_option=1)


def test_code_paths_are_copied_and_importable(tmp_path, iris_like):
    X, y, _ = iris_like
    helper = tmp_path / "my_helper_mod_xyz.py"
    helper.write_text("VALUE = 42\n")
    tracklet.sklearn.save_model(LogisticRegression().fit(X, y), str(tmp_path / "m"), code_paths=[str(helper)])
    assert (tmp_path / "m" / "code" / "my_helper_mod_xyz.py").exists()
    tracklet.pyfunc.load_model(str(tmp_path / "m"))
    import my_helper_mod_xyz

    assert my_helper_mod_xyz.VALUE == 42


def test_load_errors(tmp_path):
    with pytest.raises(TrackletException, match="does not exist"):
        tracklet.pyfunc.load_model(str(tmp_path / "none"))
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "MLmodel").write_text(yaml.safe_dump({"flavors": {"other": {}}}))
    with pytest.raises(TrackletException, match="python_function"):
        tracklet.pyfunc.load_model(str(tmp_path / "m"))
    with pytest.raises(TrackletException, match="'sklearn' flavor"):
        tracklet.sklearn.load_model(str(tmp_path / "m"))
