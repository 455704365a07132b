"""XGBoost models and autologging, as ``mlflow.xgboost``: ``save_model``, ``log_model``, ``load_model``, ``autolog``.

Importing this module loads neither XGBoost nor any autolog code: ``tracklet.xgboost.autolog`` is
:func:`tracklet.autolog.xgboost.autolog`, loaded on first access.
"""

from __future__ import annotations

from tracklet.flavors.xgboost import (
    FLAVOR_NAME,
    get_default_pip_requirements,
    load_model,
    log_model,
    save_model,
)


def __getattr__(name: str):
    # ``autolog`` is the integration's own function (its signature and documentation), loaded on first access
    if name == "autolog":
        from tracklet.autolog.xgboost import autolog

        return autolog
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [  # noqa: F822 - autolog is provided by __getattr__
    "FLAVOR_NAME",
    "autolog",
    "get_default_pip_requirements",
    "load_model",
    "log_model",
    "save_model",
]
