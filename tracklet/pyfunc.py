"""Framework-independent model loading, as ``mlflow.pyfunc``.

>>> model = tracklet.pyfunc.load_model(f"runs:/{run_id}/model")
>>> model.predict(X)
"""

from __future__ import annotations

from tracklet.flavors.pyfunc import (
    FLAVOR_NAME,
    PyFuncModel,
    add_to_model,
    get_model_dependencies,
    load_model,
)

__all__ = ["FLAVOR_NAME", "PyFuncModel", "add_to_model", "get_model_dependencies", "load_model"]
