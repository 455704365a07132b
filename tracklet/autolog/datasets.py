"""Dataset inputs for ``log_datasets=True``: name, digest, schema and profile of a training or evaluation set,
in the shapes MLflow's UI and readers expect (``mlflow_tensorspec`` for arrays, ``mlflow_colspec`` for frames).

The digest is the reference system's, byte for byte (a format fact: the same data gets the same digest
whichever library logged it): an md5 over a sequence of buffers, hex, first 8 characters.

* arrays (features, then targets): per array, ``pandas.util.hash_array`` of its first 10,000 flattened
  elements (``int64(element count)`` when they can't be hashed), then each dimension of the full shape as int64;
* a DataFrame: its first 10,000 rows restricted to the numeric columns and the columns holding only ``str``
  (a sorted union of the two), ``hash_pandas_object(...).values`` (index included), then ``int64(len)``,
  then every column name as UTF-8. Targets are not part of a frame's digest (as in the reference).

Features given as a plain list are not described (as in the reference: no dataset input, nothing raised).
Inputs are normalised first: lists and tuples as targets become arrays, a Series as features becomes a
one-column frame, a Series or frame as targets becomes its values, scipy sparse matrices are densified
row-block by row-block (only the rows the digest reads). Nothing larger than those rows is copied.
"""

from __future__ import annotations

import hashlib
import json

from tracklet.exceptions import TrackletException
from tracklet.tracking import system_tags as ctx
from tracklet.tracking.entities import Dataset, DatasetInput, RunTag

DATASET_CONTEXT_TAG = ctx.DATASET_CONTEXT
DIGEST_ELEMENTS = 10_000  # the reference's MAX_ROWS: elements of a flattened array, rows of a frame


def _module(obj) -> str:
    return type(obj).__module__.split(".")[0]


def _is_frame(obj) -> bool:
    return _module(obj) == "pandas" and hasattr(obj, "columns") and hasattr(obj, "iloc")


def _is_series(obj) -> bool:
    return _module(obj) == "pandas" and hasattr(obj, "iloc") and not hasattr(obj, "columns")


def _is_sparse(obj) -> bool:
    return _module(obj) == "scipy" and hasattr(obj, "tocsr")


def _as_array(obj):
    """numpy, sparse (kept sparse), or None for what can't be an array (strings, generators, objects)."""
    import numpy as np

    if obj is None or _is_sparse(obj):
        return obj
    if _is_frame(obj) or _is_series(obj):
        return obj.to_numpy()
    if isinstance(obj, np.ndarray):
        return obj
    if isinstance(obj, (list, tuple)):
        try:
            return np.asarray(obj)
        except ValueError:  # ragged
            return None
    return None


def rows_needed(n_cols: int) -> int:
    """How many leading rows of an ``n_cols``-column matrix the digest reads."""
    return -(-DIGEST_ELEMENTS // max(int(n_cols), 1))


def _array_parts(arr, parts: list, shape=None) -> None:
    import numpy as np

    if _is_sparse(arr):
        n_cols = arr.shape[1] if len(arr.shape) > 1 and arr.shape[1] else 1
        rows = -(-DIGEST_ELEMENTS // n_cols)
        head = arr.tocsr()[:rows].toarray().ravel()[:DIGEST_ELEMENTS]
    else:
        head = arr.ravel()[:DIGEST_ELEMENTS] if arr.flags.c_contiguous else arr.flatten()[:DIGEST_ELEMENTS]
    try:
        import pandas as pd

        parts.append(pd.util.hash_array(head))
    except (TypeError, ImportError):
        parts.append(np.int64(head.size))
    parts.extend(np.int64(d) for d in (arr.shape if shape is None else shape))


def _frame_parts(df, parts: list) -> None:
    import numpy as np

    head = df.head(DIGEST_ELEMENTS)
    numeric = head.select_dtypes(include=[np.number]).columns
    # "holds only str" is judged over the whole column (the reference's rule); numeric columns never qualify.
    # Index.union as the reference does it: it decides the (sorted) column order that is hashed.
    only_str = np.array(
        [
            c not in numeric and all(type(v) is str for v in df.iloc[:, i].tolist())  # noqa: E721 - exact type
            for i, c in enumerate(df.columns)
        ],
        dtype=bool,
    )
    chosen = head.columns[only_str].union(numeric)
    import pandas as pd

    parts.append(pd.util.hash_pandas_object(head[chosen]).values)
    parts.append(np.int64(len(df)))
    parts.extend(str(c).encode() for c in df.columns)


def digest(features, targets=None) -> str | None:
    """The reference system's 8-character dataset digest of ``features`` (and ``targets`` for array
    features); None when ``features`` is of a type that can't be described."""
    parts: list = []
    if _is_series(features):
        features = features.to_frame()
    if _is_frame(features):
        _frame_parts(features, parts)
    else:
        arr = None if isinstance(features, (list, tuple)) else _as_array(features)
        if arr is None:
            return None
        _arrays_parts(arr, targets, parts)
    return _md5(parts)


def _arrays_parts(arr, targets, parts: list, shape=None):
    """The parts of features ``arr`` (``shape``: the full shape when ``arr`` is its first rows), then of
    ``targets``; returns the targets as an array (or None)."""
    _array_parts(arr, parts, shape=shape)
    tarr = _as_array(targets)
    if tarr is not None:
        _array_parts(tarr, parts)
    return tarr


def _md5(parts: list) -> str:
    h = hashlib.md5(usedforsecurity=False)
    for part in parts:
        h.update(part)
    return h.hexdigest()[:8]


def _tensor_schema(arr) -> str:
    shape = [-1, *list(arr.shape[1:])]
    return json.dumps([{"type": "tensor", "tensor-spec": {"dtype": str(arr.dtype), "shape": shape}}])


def _col_schema(df) -> list[dict]:
    from tracklet.flavors.signature import column_type

    if _is_series(df):
        return [{"type": column_type(df), "name": str(df.name), "required": True}]
    return [{"type": column_type(df[c]), "name": str(c), "required": True} for c in df.columns]


def _schema_and_profile(features, targets) -> tuple[dict, dict]:
    if _is_series(features):
        features = features.to_frame()
    if _is_frame(features):
        cols = _col_schema(features)
        if _is_frame(targets) or _is_series(targets):
            cols += _col_schema(targets)
        return {"mlflow_colspec": cols}, {"num_rows": int(len(features)), "num_elements": int(features.size)}
    arr, tarr = _as_array(features), _as_array(targets)
    return _tensor_schema_and_profile(arr, tarr, arr.shape)


def _tensor_schema_and_profile(arr, tarr, shape) -> tuple[dict, dict]:
    spec = {"features": _tensor_schema(arr)}
    profile = {
        "features_shape": list(shape),
        "features_size": int(shape[0] * (shape[1] if len(shape) > 1 else 1)),
    }
    if not _is_sparse(arr) and tuple(arr.shape) == tuple(shape):
        profile["features_nbytes"] = int(arr.nbytes)
    if tarr is not None:
        spec["targets"] = _tensor_schema(tarr)
        profile["targets_shape"] = list(tarr.shape)
    return {"mlflow_tensorspec": spec}, profile


def dataset_input(features, targets=None, context: str = "train", name: str | None = None) -> DatasetInput | None:
    """A DatasetInput describing ``features`` (and ``targets``) -- numpy, pandas DataFrame/Series, lists,
    scipy sparse, in any combination (plain-list features are not described) -- tagged
    ``mlflow.data.context=<context>``; None for types it can't describe (a generator, a file path...)."""
    dig = digest(features, targets)
    if dig is None:
        return None
    try:
        schema, profile = _schema_and_profile(features, targets)
    except TrackletException:  # a column of mixed types has no schema type: the dataset is still recorded
        schema, profile = None, _schema_and_profile_without_columns(features)
    return _entry(dig, schema, profile, context, name)


def _schema_and_profile_without_columns(features) -> dict:
    frame = features.to_frame() if _is_series(features) else features
    return {"num_rows": int(len(frame)), "num_elements": int(frame.size)}


def dataset_input_of_rows(head, shape, context: str = "train", name: str | None = None, targets=None) -> DatasetInput:
    """A DatasetInput for a matrix known by its first rows (a dense numpy block of at least
    :func:`rows_needed` rows, or all of them) and its full ``shape`` -- for native containers (an XGBoost
    ``DMatrix``) that would copy everything to give the whole matrix. Same digest as the whole matrix."""
    parts: list = []
    tarr = _arrays_parts(head, targets, parts, shape=shape)
    schema, profile = _tensor_schema_and_profile(head, tarr, shape)
    profile = {"num_rows": int(shape[0]), **profile}
    return _entry(_md5(parts), schema, profile, context, name)


def _entry(dig: str, schema: dict | None, profile: dict, context: str, name: str | None) -> DatasetInput:
    source = json.dumps({"tags": {ctx.SOURCE_NAME: ctx.source_name_and_type()[0]}})
    dataset = Dataset(
        name=name or "dataset",
        digest=dig,
        source_type="code",
        source=source,
        schema=json.dumps(schema) if schema is not None else None,
        profile=json.dumps(profile),
    )
    return DatasetInput(dataset, (RunTag(DATASET_CONTEXT_TAG, context),))
