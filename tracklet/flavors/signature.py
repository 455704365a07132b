"""Model signatures: column and tensor specs, their MLflow JSON form, and inference from data.

A signature is stored in the ``MLmodel`` file as ``{inputs: '<json>', outputs: '<json>', params: null}``
where each JSON string is a list of specs::

    [{"type": "double", "name": "x", "required": true}]                              # columns
    [{"type": "tensor", "tensor-spec": {"dtype": "float64", "shape": [-1, 4]}}]      # tensors

Schema enforcement (checking data against a schema before predict) lives in
:mod:`tracklet.flavors.enforce`. numpy and pandas are imported only inside functions.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from tracklet.exceptions import InvalidParameterValue

# MLflow's column type names
COLUMN_TYPES = ("boolean", "integer", "long", "float", "double", "string", "binary", "datetime")


@dataclass(frozen=True)
class ColSpec:
    """One column: ``type`` is one of :data:`COLUMN_TYPES`; ``name`` is None for unnamed outputs.

    Types MLflow has and we don't model (``Array``, ``Object``, ``Map``...) are kept verbatim in ``raw``
    so a signature written by MLflow survives a load/save round trip; they are not enforced.
    """

    type: str
    name: str | None = None
    required: bool = True
    raw: Any = None

    def to_dict(self) -> dict:
        if self.raw is not None:
            return dict(self.raw)
        d: dict[str, Any] = {"type": self.type}
        if self.name is not None:
            d["name"] = self.name
        d["required"] = self.required
        return d

    def __repr__(self) -> str:
        req = "required" if self.required else "optional"
        return f"{self.name!r}: {self.type} ({req})" if self.name is not None else f"{self.type} ({req})"


@dataclass(frozen=True)
class TensorSpec:
    """One tensor: numpy ``dtype`` name and ``shape`` with ``-1`` for a variable dimension."""

    dtype: str
    shape: tuple
    name: str | None = None

    def to_dict(self) -> dict:
        d: dict[str, Any] = {
            "type": "tensor",
            "tensor-spec": {"dtype": self.dtype, "shape": list(self.shape)},
        }
        if self.name is not None:
            d["name"] = self.name
        return d

    def __repr__(self) -> str:
        prefix = f"{self.name!r}: " if self.name is not None else ""
        return f"{prefix}Tensor({self.dtype!r}, {tuple(self.shape)})"


def _spec_from_dict(d: dict) -> ColSpec | TensorSpec:
    if not isinstance(d, dict) or "type" not in d:
        raise InvalidParameterValue(f"signature: each spec must be an object with a 'type' key, got {d!r}")
    if d["type"] == "tensor":
        ts = d.get("tensor-spec") or {}
        if "dtype" not in ts or "shape" not in ts:
            raise InvalidParameterValue(f"signature: tensor spec needs 'tensor-spec' with dtype and shape, got {d!r}")
        return TensorSpec(str(ts["dtype"]), tuple(int(x) for x in ts["shape"]), d.get("name"))
    if d["type"] in COLUMN_TYPES:
        return ColSpec(d["type"], d.get("name"), bool(d.get("required", True)))
    return ColSpec(str(d["type"]), d.get("name"), bool(d.get("required", True)), raw=dict(d))


class Schema:
    """An ordered list of specs, all columns or all tensors."""

    def __init__(self, inputs: list[ColSpec | TensorSpec]):
        inputs = list(inputs)
        kinds = {isinstance(s, TensorSpec) for s in inputs}
        if len(kinds) > 1:
            raise InvalidParameterValue("signature: a schema cannot mix column specs and tensor specs")
        names = [s.name for s in inputs]
        if any(n is not None for n in names) and any(n is None for n in names) and len(inputs) > 1:
            raise InvalidParameterValue("signature: either every spec in a schema has a name or none does")
        self.inputs = inputs

    def is_tensor_spec(self) -> bool:
        return bool(self.inputs) and isinstance(self.inputs[0], TensorSpec)

    def has_input_names(self) -> bool:
        return bool(self.inputs) and all(s.name is not None for s in self.inputs)

    def input_names(self) -> list:
        return [s.name if s.name is not None else i for i, s in enumerate(self.inputs)]

    def required_input_names(self) -> list:
        return [s.name for s in self.inputs if s.name is not None and getattr(s, "required", True)]

    def to_dict(self) -> list[dict]:
        return [s.to_dict() for s in self.inputs]

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_json(cls, text: str) -> Schema:
        try:
            data = json.loads(text)
        except (TypeError, ValueError) as e:
            raise InvalidParameterValue(f"signature: schema is not valid JSON: {e}") from None
        if not isinstance(data, list):
            raise InvalidParameterValue("signature: a schema must be a JSON list of specs")
        return cls([_spec_from_dict(d) for d in data])

    def __eq__(self, other) -> bool:
        return isinstance(other, Schema) and self.to_dict() == other.to_dict()

    def __len__(self) -> int:
        return len(self.inputs)

    def __repr__(self) -> str:
        return "[" + ", ".join(repr(s) for s in self.inputs) + "]"


class ModelSignature:
    """Input/output schemas of a model (``params`` schemas written by MLflow are carried verbatim)."""

    def __init__(self, inputs: Schema | None = None, outputs: Schema | None = None, params: Any = None):
        for label, s in (("inputs", inputs), ("outputs", outputs)):
            if s is not None and not isinstance(s, Schema):
                raise InvalidParameterValue(f"ModelSignature.{label} must be a Schema or None, got {type(s).__name__}")
        self.inputs = inputs
        self.outputs = outputs
        self.params = params

    def to_dict(self) -> dict:
        params = self.params
        if params is not None and not isinstance(params, str):
            params = json.dumps(params)
        return {
            "inputs": self.inputs.to_json() if self.inputs is not None else None,
            "outputs": self.outputs.to_json() if self.outputs is not None else None,
            "params": params,
        }

    @classmethod
    def from_dict(cls, d: dict) -> ModelSignature:
        if not isinstance(d, dict):
            raise InvalidParameterValue("signature must be a mapping with 'inputs' and 'outputs'")
        inputs = Schema.from_json(d["inputs"]) if d.get("inputs") else None
        outputs = Schema.from_json(d["outputs"]) if d.get("outputs") else None
        return cls(inputs, outputs, d.get("params"))

    def __eq__(self, other) -> bool:
        return isinstance(other, ModelSignature) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return f"inputs:\n  {self.inputs!r}\noutputs:\n  {self.outputs!r}\nparams:\n  {self.params!r}"


# ---------------------------------------------------------------------- inference
def tensor_dtype_name(dtype) -> str:
    """MLflow's name for a numpy dtype: ``float64``..., ``str`` for unicode, ``bytes`` for byte strings."""
    if dtype.kind == "U":
        return "str"
    if dtype.kind == "S":
        return "bytes"
    return dtype.name


def _type_of_value(v) -> str | None:
    import datetime as dt

    import numpy as np

    if v is None:
        return None
    if isinstance(v, (bool, np.bool_)):
        return "boolean"
    if isinstance(v, (int, np.integer)):
        return "long"
    if isinstance(v, (float, np.floating)):
        if v != v:  # NaN counts as missing
            return None
        return "float" if isinstance(v, np.floating) and v.dtype.itemsize < 8 else "double"
    if isinstance(v, str):
        return "string"
    if isinstance(v, (bytes, bytearray)):
        return "binary"
    if isinstance(v, (dt.datetime, dt.date, np.datetime64)):
        return "datetime"
    return None


def column_type(series) -> str:
    """The MLflow column type of a pandas Series, from its dtype (or its values for object dtype)."""
    import numpy as np
    from pandas.api import types as pt

    dtype = series.dtype
    if pt.is_bool_dtype(dtype):
        return "boolean"
    if pt.is_integer_dtype(dtype):
        np_dtype = np.dtype(getattr(dtype, "numpy_dtype", dtype))
        return "long" if np_dtype.itemsize >= 8 or np_dtype == np.uint32 else "integer"
    if pt.is_float_dtype(dtype):
        np_dtype = np.dtype(getattr(dtype, "numpy_dtype", dtype))
        return "double" if np_dtype.itemsize >= 8 else "float"
    if pt.is_datetime64_any_dtype(dtype):
        return "datetime"
    found = {t for t in (_type_of_value(v) for v in series.tolist()) if t is not None}
    if not found:
        if pt.is_string_dtype(dtype) and not pt.is_object_dtype(dtype):
            return "string"
        raise InvalidParameterValue(
            f"infer_signature: cannot infer the type of column {series.name!r} (dtype {dtype}): "
            "it has no non-null value"
        )
    if len(found) == 1:
        return found.pop()
    if found <= {"long", "double", "float"}:
        return "double"
    raise InvalidParameterValue(
        f"infer_signature: column {series.name!r} mixes value types {sorted(found)}; give it one type"
    )


def _has_nulls(series) -> bool:
    try:
        return bool(series.isna().any())
    except (TypeError, ValueError):
        return False


def _infer_schema(data: Any) -> Schema:
    """Schema of one piece of example data (DataFrame, Series, ndarray, dict of arrays, list, scalar)."""
    import numpy as np
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        return Schema(
            [
                ColSpec(column_type(data[c]), str(c) if not isinstance(c, str) else c, not _has_nulls(data[c]))
                for c in data.columns
            ]
        )
    if isinstance(data, pd.Series):
        return Schema([ColSpec(column_type(data), None if data.name is None else str(data.name), not _has_nulls(data))])
    if isinstance(data, np.ndarray):
        if data.ndim == 0:
            raise InvalidParameterValue("infer_signature: a 0-d array has no batch dimension")
        return Schema([TensorSpec(tensor_dtype_name(data.dtype), (-1, *data.shape[1:]))])
    if isinstance(data, dict):
        if data and all(isinstance(v, np.ndarray) for v in data.values()):
            return Schema([TensorSpec(tensor_dtype_name(v.dtype), (-1, *v.shape[1:]), str(k)) for k, v in data.items()])
        return _infer_schema(
            pd.DataFrame({k: v if isinstance(v, (list, tuple, np.ndarray)) else [v] for k, v in data.items()})
        )
    if isinstance(data, (list, tuple)):
        if data and all(isinstance(v, dict) for v in data):
            return _infer_schema(pd.DataFrame(list(data)))
        if data and all(isinstance(v, (list, tuple, np.ndarray)) for v in data):
            return _infer_schema(np.asarray(data))
        return _infer_schema(pd.Series(list(data)))
    if hasattr(data, "toarray") and hasattr(data, "shape") and hasattr(data, "dtype"):  # scipy sparse
        return Schema([TensorSpec(tensor_dtype_name(data.dtype), (-1, *data.shape[1:]))])
    t = _type_of_value(data)
    if t is not None:
        return Schema([ColSpec(t)])
    raise InvalidParameterValue(
        f"infer_signature: unsupported data type {type(data).__name__}; expected a pandas DataFrame or Series, "
        "a numpy array, a dict of arrays, a list or a scalar"
    )


def infer_signature(model_input: Any = None, model_output: Any = None, params: dict | None = None) -> ModelSignature:
    """Infer a :class:`ModelSignature` from example input (and optionally output) data.

    >>> sig = infer_signature(X_train[:5], model.predict(X_train[:5]))

    numpy arrays give tensor specs (the first dimension becomes ``-1``); DataFrames give one column spec
    per column, with MLflow's type names and ``required: false`` for columns holding nulls.
    """
    inputs = _infer_schema(model_input) if model_input is not None else None
    outputs = _infer_schema(model_output) if model_output is not None else None
    params_json = None
    if params:
        params_json = json.dumps(
            [
                {"name": str(k), "type": _type_of_value(v) or "string", "default": v, "shape": None}
                for k, v in params.items()
            ],
            default=str,
        )
    return ModelSignature(inputs, outputs, params_json)
