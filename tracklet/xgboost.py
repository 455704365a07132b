"""XGBoost models and autologging, as ``mlflow.xgboost``: ``save_model``, ``log_model``, ``load_model``, ``autolog``.

Importing this module imports neither XGBoost nor the autolog patches; ``autolog()`` loads them on call.
"""

from __future__ import annotations

from tracklet.flavors import copy_autolog_metadata as _copy_autolog_metadata
from tracklet.flavors.xgboost import (
    FLAVOR_NAME,
    get_default_pip_requirements,
    load_model,
    log_model,
    save_model,
)


def autolog(*args, **kwargs):
    """Enable (or with ``disable=True`` revert) XGBoost autologging; see ``tracklet.autolog.xgboost.autolog``."""
    from tracklet.autolog.xgboost import autolog as _autolog

    return _autolog(*args, **kwargs)


_copy_autolog_metadata(autolog, "tracklet.autolog.xgboost")

__all__ = ["FLAVOR_NAME", "autolog", "get_default_pip_requirements", "load_model", "log_model", "save_model"]
