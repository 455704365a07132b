"""Dataset inputs for ``log_datasets=True``: name, digest, schema and profile of a training set, in the
shapes MLflow's UI and readers expect (``mlflow_tensorspec`` for arrays, ``mlflow_colspec`` for frames).

Only the first 10,000 rows are hashed for the digest; nothing is copied.
"""

from __future__ import annotations

import hashlib
import json

from tracklet.tracking import system_tags as ctx
from tracklet.tracking.entities import Dataset, DatasetInput, RunTag

DATASET_CONTEXT_TAG = "mlflow.data.context"
_DIGEST_ROWS = 10_000


def _kind(obj) -> str | None:
    module = type(obj).__module__.split(".")[0]
    if module == "pandas" and hasattr(obj, "iloc"):
        return "pandas"
    if module == "numpy" and hasattr(obj, "dtype") and hasattr(obj, "shape"):
        return "numpy"
    if module == "scipy" and hasattr(obj, "tocsr"):
        return "sparse"
    return None


def _tensor_schema(arr) -> str:
    shape = [-1, *list(arr.shape[1:])]
    return json.dumps([{"type": "tensor", "tensor-spec": {"dtype": str(arr.dtype), "shape": shape}}])


def _col_schema(df) -> list[dict]:
    from tracklet.flavors.signature import column_type

    if getattr(df, "ndim", 2) == 1:
        return [{"type": column_type(df), "name": str(df.name), "required": True}]
    return [{"type": column_type(df[c]), "name": str(c), "required": True} for c in df.columns]


def _hash_part(obj, kind: str, h) -> None:
    h.update(repr((kind, tuple(getattr(obj, "shape", ())))).encode())
    if kind == "pandas":
        import pandas as pd

        h.update(pd.util.hash_pandas_object(obj.iloc[:_DIGEST_ROWS], index=False).values.tobytes())
    elif kind == "numpy":
        import numpy as np

        head = obj[:_DIGEST_ROWS]
        h.update(np.ascontiguousarray(head).tobytes() if head.dtype != object else repr(head.tolist()).encode())
    else:
        head = obj[:_DIGEST_ROWS].tocsr()
        for part in (head.data, head.indices, head.indptr):
            h.update(part.tobytes())


def dataset_input(features, targets=None, context: str = "train", name: str | None = None) -> DatasetInput | None:
    """A DatasetInput describing ``features`` (and ``targets``), or None for unsupported types."""
    kind = _kind(features)
    if kind is None:
        return None
    tkind = _kind(targets) if targets is not None else None
    h = hashlib.md5(usedforsecurity=False)
    _hash_part(features, kind, h)
    if tkind is not None:
        _hash_part(targets, tkind, h)
    profile: dict = {}
    if kind == "pandas" and (tkind in (None, "pandas")):
        schema = {"mlflow_colspec": _col_schema(features) + (_col_schema(targets) if tkind else [])}
        profile = {"num_rows": int(len(features)), "num_elements": int(features.size)}
    else:
        spec = {"features": _tensor_schema(features)}
        profile = {
            "features_shape": list(features.shape),
            "features_size": int(features.shape[0] * (features.shape[1] if len(features.shape) > 1 else 1)),
        }
        if kind == "numpy":
            profile["features_nbytes"] = int(features.nbytes)
        if tkind is not None:
            spec["targets"] = _tensor_schema(targets)
            profile["targets_shape"] = list(targets.shape)
        schema = {"mlflow_tensorspec": spec}
    source = json.dumps({"tags": {ctx.SOURCE_NAME: ctx.source_name_and_type()[0]}})
    dataset = Dataset(
        name=name or "dataset",
        digest=h.hexdigest()[:8],
        source_type="code",
        source=source,
        schema=json.dumps(schema),
        profile=json.dumps(profile),
    )
    return DatasetInput(dataset, (RunTag(DATASET_CONTEXT_TAG, context),))
