"""scikit-learn models and autologging, as ``mlflow.sklearn``:
``save_model``, ``log_model``, ``load_model``, ``autolog``.

Importing this module imports neither scikit-learn nor the autolog patches; ``autolog()`` loads them on call.
"""

from __future__ import annotations

from tracklet.autolog.core import FrameworkAutolog as _FrameworkAutolog
from tracklet.flavors.sklearn import (
    FLAVOR_NAME,
    get_default_pip_requirements,
    load_model,
    log_model,
    save_model,
)

autolog = _FrameworkAutolog("sklearn")
"""Enable (or with ``disable=True`` revert) scikit-learn autologging; see ``tracklet.autolog.sklearn.autolog``."""

__all__ = ["FLAVOR_NAME", "autolog", "get_default_pip_requirements", "load_model", "log_model", "save_model"]
