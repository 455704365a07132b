"""Data fixtures for the flavor tests (the tracking sandbox is tests/conftest.py's autouse fixture)."""

import numpy as np
import pandas as pd
import pytest


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
