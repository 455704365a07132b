"""Check (and safely convert) model input against a signature's input schema before predict.

Rules, matching MLflow where it matters for users:

- column schemas: the input becomes a DataFrame (dicts and lists of dicts are converted); a missing
  required column raises naming the column; extra columns are dropped with a warning; columns are put in
  schema order; numeric columns are cast when the cast is safe (int -> long/double, float32 -> double),
  anything else (e.g. strings for a double column) raises naming the column;
- tensor schemas: DataFrames and lists become arrays; the shape must match (``-1`` matches any size) and the
  dtype must equal or safely cast to the expected one (MLflow rejects even safe casts; we allow them).
"""

from __future__ import annotations

import logging
from typing import Any

from tracklet.exceptions import InvalidParameterValue
from tracklet.flavors.signature import ColSpec, Schema, TensorSpec

_logger = logging.getLogger(__name__)

_NUMERIC = {"double": "float64", "float": "float32", "long": "int64", "integer": "int32"}


def enforce_schema(data: Any, schema: Schema) -> Any:
    """Return ``data`` checked against ``schema`` (converted where safe); raise InvalidParameterValue if not."""
    if schema is None or not schema.inputs:
        return data
    if schema.is_tensor_spec():
        return _enforce_tensors(data, schema)
    return _enforce_columns(data, schema)


# ---------------------------------------------------------------------- columns
def _as_dataframe(data: Any, schema: Schema):
    import numpy as np
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, pd.Series):
        if data.name is None and len(schema.inputs) == 1 and schema.inputs[0].name is not None:
            return data.to_frame(schema.inputs[0].name)
        return data.to_frame()
    if isinstance(data, dict):
        return pd.DataFrame(
            {k: v if isinstance(v, (list, tuple, np.ndarray, pd.Series)) else [v] for k, v in data.items()}
        )
    if isinstance(data, (list, tuple)) and data and all(isinstance(v, dict) for v in data):
        return pd.DataFrame(list(data))
    if isinstance(data, (np.ndarray, list, tuple)):
        arr = np.asarray(data)
        if schema.has_input_names():
            names = schema.required_input_names() or schema.input_names()
            raise InvalidParameterValue(
                f"Model is missing inputs {names}: the model signature expects named columns, but the input is "
                f"an array of shape {arr.shape}; pass a pandas DataFrame with those columns"
            )
        return pd.DataFrame(arr.reshape(len(arr), -1) if arr.ndim != 1 else arr)
    if schema.has_input_names():
        raise InvalidParameterValue(
            f"Model input of type {type(data).__name__} cannot be matched to the signature's columns "
            f"{schema.input_names()}; pass a pandas DataFrame or a dict of columns"
        )
    return pd.DataFrame([[data]])


def _enforce_columns(data: Any, schema: Schema):
    df = _as_dataframe(data, schema)
    specs: list[ColSpec] = list(schema.inputs)
    if schema.has_input_names():
        cols = [str(c) for c in df.columns]
        if cols != list(df.columns):
            df = df.set_axis(cols, axis=1)
        missing = [s.name for s in specs if s.required and s.name not in cols]
        if missing:
            extra = [c for c in cols if c not in {s.name for s in specs}]
            note = f" Note that there were extra inputs: {extra}." if extra else ""
            raise InvalidParameterValue(f"Model is missing inputs {missing} required by the model signature.{note}")
        extra = [c for c in cols if c not in {s.name for s in specs}]
        if extra:
            _logger.warning(
                "Found extra inputs in the model input that are not defined in the model signature: "
                "%s. These inputs will be ignored.",
                extra,
            )
        present = [s for s in specs if s.name in cols]
        if [s.name for s in present] != cols:
            df = df[[s.name for s in present]]
        return _cast_columns(df, present)
    if df.shape[1] != len(specs):
        raise InvalidParameterValue(
            f"Model input has {df.shape[1]} columns but the model signature expects {len(specs)} unnamed columns"
        )
    return _cast_columns(df, specs)


def _cast_columns(df, specs: list[ColSpec]):
    """Cast column i of ``df`` per ``specs[i]``; the user's frame is copied only if a column changes."""
    casts = {}
    for i, s in enumerate(specs):
        column = df.iloc[:, i]
        cast = _cast_column(column, s)
        if cast is not column:
            casts[i] = cast
    if casts:
        df = df.copy()
        for i, cast in casts.items():
            df.isetitem(i, cast)
    return df


def _cast_column(series, spec: ColSpec):
    import numpy as np
    from pandas.api import types as pt

    if spec.raw is not None:  # a type we do not model (Array, Object...): leave it to the model
        return series
    name = spec.name if spec.name is not None else series.name
    dtype = series.dtype

    def fail(detail: str = ""):
        raise InvalidParameterValue(
            f"Incompatible input types for column {name!r}: can not safely convert {dtype} to {spec.type}"
            f"{detail} (model signature)"
        )

    if spec.type in _NUMERIC:
        target = np.dtype(_NUMERIC[spec.type])
        if pt.is_bool_dtype(dtype) or not pt.is_numeric_dtype(dtype):
            if pt.is_object_dtype(dtype):
                from tracklet.flavors.signature import _type_of_value

                kinds = {_type_of_value(v) for v in series.tolist()} - {None}
                if kinds and kinds <= {"long", "double"} and (spec.type in ("double", "float") or kinds == {"long"}):
                    return series.astype(target)
            fail()
        source = np.dtype(getattr(dtype, "numpy_dtype", dtype))
        if source == target:
            return series
        if np.can_cast(source, target, "safe"):
            if target.kind in "iu" and series.isna().any():
                fail(" (the column has missing values)")
            return series.astype(target)
        fail()
    if spec.type == "boolean":
        if pt.is_bool_dtype(dtype) or _all_values(series, (bool, np.bool_)):
            return series
        fail()
    if spec.type == "string":
        if _all_values(series, (str,)):
            return series
        fail()
    if spec.type == "binary":
        if _all_values(series, (bytes, bytearray)):
            return series
        fail()
    if spec.type == "datetime":
        if pt.is_datetime64_any_dtype(dtype):
            return series
        fail()
    return series


def _all_values(series, types: tuple) -> bool:
    values = [v for v in series.tolist() if v is not None and v == v]
    return all(isinstance(v, types) for v in values)


# ---------------------------------------------------------------------- tensors
def _enforce_tensors(data: Any, schema: Schema):
    import numpy as np
    import pandas as pd

    specs: list[TensorSpec] = list(schema.inputs)
    if not schema.has_input_names():
        spec = specs[0]
        if isinstance(data, pd.DataFrame):
            data = data.to_numpy()
        elif isinstance(data, pd.Series):
            data = data.to_numpy()
        elif isinstance(data, (list, tuple)):
            data = np.asarray(data)
        elif isinstance(data, dict) and len(data) == 1:
            data = np.asarray(next(iter(data.values())))
        if hasattr(data, "toarray") and not isinstance(data, np.ndarray):  # scipy sparse: check shape only
            _check_shape(data.shape, spec)
            return data
        if not isinstance(data, np.ndarray):
            raise InvalidParameterValue(
                f"Model input of type {type(data).__name__} cannot be matched to the signature's tensor {spec!r}; "
                "pass a numpy array"
            )
        return _enforce_tensor(data, spec)
    if isinstance(data, pd.DataFrame):
        data = {c: data[c].to_numpy() for c in data.columns}
    if not isinstance(data, dict):
        raise InvalidParameterValue(
            f"The model signature expects named tensors {schema.input_names()}; pass a dict of numpy arrays"
        )
    missing = [s.name for s in specs if s.name not in data]
    if missing:
        raise InvalidParameterValue(f"Model is missing inputs {missing} required by the model signature")
    return {s.name: _enforce_tensor(np.asarray(data[s.name]), s) for s in specs}


def _check_shape(shape: tuple, spec: TensorSpec) -> None:
    expected = tuple(spec.shape)
    if len(shape) != len(expected) or any(e != -1 and e != a for a, e in zip(shape, expected, strict=True)):
        label = f" for input {spec.name!r}" if spec.name else ""
        raise InvalidParameterValue(f"Shape of input {tuple(shape)}{label} does not match expected shape {expected}")


def _enforce_tensor(arr, spec: TensorSpec):
    import numpy as np

    _check_shape(arr.shape, spec)
    label = f" for input {spec.name!r}" if spec.name else ""
    if spec.dtype == "object":
        return arr
    if spec.dtype in ("str", "bytes"):
        if arr.dtype.kind == ("U" if spec.dtype == "str" else "S") or arr.dtype == object:
            return arr
        raise InvalidParameterValue(f"dtype of input {arr.dtype}{label} does not match expected dtype {spec.dtype}")
    try:
        expected = np.dtype(spec.dtype)
    except TypeError:
        return arr
    if arr.dtype == expected:
        return arr
    if arr.dtype != object and np.can_cast(arr.dtype, expected, "safe"):
        return arr.astype(expected)
    raise InvalidParameterValue(
        f"dtype of input {arr.dtype}{label} does not match expected dtype {expected} and cannot be safely cast"
    )
