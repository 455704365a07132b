"""scikit-learn models and autologging, as ``mlflow.sklearn``:
``save_model``, ``log_model``, ``load_model``, ``autolog``.

Importing this module imports neither scikit-learn nor the autolog patches; ``autolog()`` loads them on call.
"""

from __future__ import annotations

from tracklet.flavors import copy_autolog_metadata as _copy_autolog_metadata
from tracklet.flavors.sklearn import (
    FLAVOR_NAME,
    get_default_pip_requirements,
    load_model,
    log_model,
    save_model,
)


def autolog(*args, **kwargs):
    """Enable (or with ``disable=True`` revert) scikit-learn autologging; see ``tracklet.autolog.sklearn.autolog``."""
    from tracklet.autolog.sklearn import autolog as _autolog

    return _autolog(*args, **kwargs)


_copy_autolog_metadata(autolog, "tracklet.autolog.sklearn")

__all__ = ["FLAVOR_NAME", "autolog", "get_default_pip_requirements", "load_model", "log_model", "save_model"]
