import numpy as np
import pandas as pd
import pytest

import tracklet
from tracklet.tracking import fluent


@pytest.fixture(autouse=True)
def _tracking_sandbox(tmp_path, monkeypatch):
    """A fresh SQLite tracking store per test; fail a test that leaves a run active."""
    for var in ("EXPERIMENT_NAME", "EXPERIMENT_ID", "RUN_ID", "TRACKING_URI"):
        monkeypatch.delenv("TRACKLET_" + var, raising=False)
        monkeypatch.delenv("MLFLOW_" + var, raising=False)
    monkeypatch.chdir(tmp_path)
    fluent._reset_for_tests()
    tracklet.set_tracking_uri(f"sqlite:///{tmp_path}/t.db")
    yield
    leaked = tracklet.active_run()
    while tracklet.active_run() is not None:
        tracklet.end_run()
    fluent._reset_for_tests()
    assert leaked is None, f"test left run {leaked.info.run_id} active"


@pytest.fixture(scope="session")
def iris_like():
    """A tiny 3-class problem: (X ndarray float64 [60, 4], y int labels, DataFrame with named columns)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 4))
    y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5).astype(int)
    df = pd.DataFrame(X, columns=["sepal_len", "sepal_wid", "petal_len", "petal_wid"])
    return X, y, df


@pytest.fixture(scope="session")
def binary_data():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(80, 3))
    y = (X[:, 0] + 0.3 * X[:, 1] > 0).astype(int)
    df = pd.DataFrame(X, columns=["a", "b", "c"])
    return X, y, df
