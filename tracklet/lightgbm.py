"""LightGBM models and autologging, as ``mlflow.lightgbm``: ``save_model``, ``log_model``, ``load_model``, ``autolog``.

Importing this module imports neither LightGBM nor the autolog patches; ``autolog()`` loads them on call.
"""

from __future__ import annotations

from tracklet.autolog.core import FrameworkAutolog as _FrameworkAutolog
from tracklet.flavors.lightgbm import (
    FLAVOR_NAME,
    get_default_pip_requirements,
    load_model,
    log_model,
    save_model,
)

autolog = _FrameworkAutolog("lightgbm")
"""Enable (or with ``disable=True`` revert) LightGBM autologging; see ``tracklet.autolog.lightgbm.autolog``."""

__all__ = ["FLAVOR_NAME", "autolog", "get_default_pip_requirements", "load_model", "log_model", "save_model"]
