"""XGBoost models and autologging, as ``mlflow.xgboost``: ``save_model``, ``log_model``, ``load_model``, ``autolog``.

Importing this module imports neither XGBoost nor the autolog patches; ``autolog()`` loads them on call.
"""

from __future__ import annotations

from tracklet.autolog.core import FrameworkAutolog as _FrameworkAutolog
from tracklet.flavors.xgboost import (
    FLAVOR_NAME,
    get_default_pip_requirements,
    load_model,
    log_model,
    save_model,
)

autolog = _FrameworkAutolog("xgboost")
"""Enable (or with ``disable=True`` revert) XGBoost autologging; see ``tracklet.autolog.xgboost.autolog``."""

__all__ = ["FLAVOR_NAME", "autolog", "get_default_pip_requirements", "load_model", "log_model", "save_model"]
