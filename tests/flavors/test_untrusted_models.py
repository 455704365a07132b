"""Pickled models and trust (issue 7): what MLflow 3.17 does without MLFLOW_ALLOW_PICKLE_DESERIALIZATION, and
tracklet's switch that refuses to unpickle before the file is read."""

import os
import pickle
import warnings

import pytest

pytest.importorskip("sklearn")

from sklearn.linear_model import LogisticRegression  # noqa: E402

import tracklet  # noqa: E402
import tracklet.pyfunc  # noqa: E402
import tracklet.sklearn  # noqa: E402
from tracklet.exceptions import TrackletException  # noqa: E402

SWITCHES = ("TRACKLET_ALLOW_PICKLE_DESERIALIZATION", "MLFLOW_ALLOW_PICKLE_DESERIALIZATION")


class _Payload:
    """Unpickling this runs ``os.mkdir(marker)``: what any pickle from an untrusted store may do."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


@pytest.fixture
def no_switch(monkeypatch):
    for name in SWITCHES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def saved(tmp_path, binary_data, no_switch):
    X, y, _ = binary_data
    path = str(tmp_path / "model")
    tracklet.sklearn.save_model(LogisticRegression().fit(X, y), path)
    return path


def _poison(model_dir: str, marker: str) -> None:
    with open(os.path.join(model_dir, "model.pkl"), "wb") as f:
        pickle.dump(_Payload(marker), f)


def test_mlflow_317_loads_pickles_without_the_variable(saved, binary_data, monkeypatch):
    mlflow_pyfunc = pytest.importorskip("mlflow.pyfunc")
    X, _, _ = binary_data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert mlflow_pyfunc.load_model(saved).predict(X).shape == (len(X),)  # unset: MLflow's default is true
        monkeypatch.setenv("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "false")
        with pytest.raises(Exception, match="MLFLOW_ALLOW_PICKLE_DESERIALIZATION"):
            mlflow_pyfunc.load_model(saved)


def test_loading_a_pickle_runs_its_code_by_default(saved, tmp_path):
    marker = str(tmp_path / "ran")
    _poison(saved, marker)
    try:
        tracklet.sklearn.load_model(saved)
    except Exception:
        pass  # the payload is not a model; what matters is that its code ran
    assert os.path.isdir(marker)


@pytest.mark.parametrize("switch", SWITCHES)
@pytest.mark.parametrize("value", ["false", "0", "no"])
def test_switch_refuses_before_the_pickle_is_read(saved, tmp_path, monkeypatch, switch, value):
    marker = str(tmp_path / "ran")
    _poison(saved, marker)
    monkeypatch.setenv(switch, value)
    for load in (tracklet.sklearn.load_model, tracklet.pyfunc.load_model):
        with pytest.raises(TrackletException, match="ALLOW_PICKLE_DESERIALIZATION") as info:
            load(saved)
        assert info.value.error_code == "PERMISSION_DENIED"
    assert not os.path.exists(marker)


def test_switch_from_a_run_and_tracklet_name_wins(binary_data, tmp_path, monkeypatch, no_switch):
    X, y, _ = binary_data
    with tracklet.start_run() as run:
        tracklet.sklearn.log_model(LogisticRegression().fit(X, y), "model")
    uri = f"runs:/{run.info.run_id}/model"
    monkeypatch.setenv("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "false")
    with pytest.raises(TrackletException, match="PICKLE"):
        tracklet.pyfunc.load_model(uri)
    monkeypatch.setenv("TRACKLET_ALLOW_PICKLE_DESERIALIZATION", "true")
    assert tracklet.pyfunc.load_model(uri).predict(X).shape == (len(X),)
