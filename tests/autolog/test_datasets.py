"""Dataset inputs recorded with log_datasets=True."""

from __future__ import annotations

import json

import pytest

from tracklet.autolog.datasets import dataset_input

np = pytest.importorskip("numpy")


def test_numpy_features_and_targets():
    X = np.arange(12, dtype="float64").reshape(4, 3)
    y = np.array([0, 1, 0, 1])
    entry = dataset_input(X, y, "train")
    ds = entry.dataset
    assert [(t.key, t.value) for t in entry.tags] == [("mlflow.data.context", "train")]
    assert ds.name == "dataset" and ds.source_type == "code" and len(ds.digest) == 8
    spec = json.loads(ds.schema)["mlflow_tensorspec"]
    assert json.loads(spec["features"]) == [{"type": "tensor", "tensor-spec": {"dtype": "float64", "shape": [-1, 3]}}]
    assert json.loads(ds.profile) == {
        "features_shape": [4, 3],
        "features_size": 12,
        "features_nbytes": 96,
        "targets_shape": [4],
    }
    assert dataset_input(X.copy(), y).dataset.digest == ds.digest  # content-based
    X2 = X.copy()
    X2[0, 0] = 99
    assert dataset_input(X2, y).dataset.digest != ds.digest


def test_pandas_frame_and_unsupported_types():
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"a": [1.0, 2.0], "b": ["x", "y"]})
    entry = dataset_input(df, pd.Series([0, 1], name="label"), "eval", name="train_df")
    assert entry.dataset.name == "train_df" and entry.tags[0].value == "eval"
    cols = json.loads(entry.dataset.schema)["mlflow_colspec"]
    assert [c["name"] for c in cols] == ["a", "b", "label"]
    assert json.loads(entry.dataset.profile) == {"num_rows": 2, "num_elements": 4}
    assert dataset_input([[1, 2]], None) is None


def test_scipy_sparse():
    sparse = pytest.importorskip("scipy.sparse")
    X = sparse.random(5, 4, density=0.5, format="csr", random_state=0)
    entry = dataset_input(X)
    assert json.loads(entry.dataset.profile)["features_shape"] == [5, 4]
