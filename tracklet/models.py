"""Model metadata API, as ``mlflow.models``: signatures, the MLmodel file, model info.

``from tracklet.models.signature import infer_signature`` works too (MLflow tutorials import it that way).
"""

from __future__ import annotations

import sys

from tracklet.flavors import mlmodel as _mlmodel
from tracklet.flavors import signature as _signature
from tracklet.flavors.mlmodel import Model, ModelInfo
from tracklet.flavors.signature import ColSpec, ModelSignature, Schema, TensorSpec, infer_signature

# MLflow's submodule paths, aliased: tracklet.models.signature / tracklet.models.model
signature = _signature
model = _mlmodel
sys.modules.setdefault(__name__ + ".signature", _signature)
sys.modules.setdefault(__name__ + ".model", _mlmodel)


def get_model_info(model_uri: str) -> ModelInfo:
    """The :class:`ModelInfo` of the model at ``model_uri`` (``runs:/<run_id>/<path>`` or a local path)."""
    return Model.load(model_uri).get_model_info()


def validate_schema(data, expected_schema: Schema) -> None:
    """Raise if ``data`` does not match ``expected_schema`` (the check ``pyfunc`` predict runs)."""
    from tracklet.flavors.enforce import enforce_schema

    enforce_schema(data, expected_schema)


__all__ = [
    "ColSpec",
    "Model",
    "ModelInfo",
    "ModelSignature",
    "Schema",
    "TensorSpec",
    "get_model_info",
    "infer_signature",
    "validate_schema",
]
