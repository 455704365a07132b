"""LightGBM models and autologging, as ``mlflow.lightgbm``: ``save_model``, ``log_model``, ``load_model``, ``autolog``.

Importing this module imports neither LightGBM nor the autolog patches; ``autolog()`` loads them on call.
"""

from __future__ import annotations

from tracklet.flavors import copy_autolog_metadata as _copy_autolog_metadata
from tracklet.flavors.lightgbm import (
    FLAVOR_NAME,
    get_default_pip_requirements,
    load_model,
    log_model,
    save_model,
)


def autolog(*args, **kwargs):
    """Enable (or with ``disable=True`` revert) LightGBM autologging; see ``tracklet.autolog.lightgbm.autolog``."""
    from tracklet.autolog.lightgbm import autolog as _autolog

    return _autolog(*args, **kwargs)


_copy_autolog_metadata(autolog, "tracklet.autolog.lightgbm")

__all__ = ["FLAVOR_NAME", "autolog", "get_default_pip_requirements", "load_model", "log_model", "save_model"]
