"""Environment variables: ``TRACKLET_*`` first, ``MLFLOW_*`` as fallback.

Every getter reads the environment at call time so tests and users can change it.
"""

from __future__ import annotations

import os


def get(name: str, default: str | None = None) -> str | None:
    """Value of ``TRACKLET_<name>``, else ``MLFLOW_<name>``, else ``default`` (empty counts as unset)."""
    for prefix in ("TRACKLET_", "MLFLOW_"):
        value = os.environ.get(prefix + name)
        if value not in (None, ""):
            return value
    return default


def get_bool(name: str, default: bool = False) -> bool:
    value = get(name)
    if value is None:
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def _number(name: str, default, cast):
    value = get(name)
    if value is None:
        return default
    try:
        return cast(value)
    except ValueError:
        import warnings

        warnings.warn(
            f"TRACKLET_{name}={value!r} is not a valid {cast.__name__}; using {default!r}", RuntimeWarning, stacklevel=3
        )
        return default


def get_int(name: str, default: int) -> int:
    """Integer value of ``TRACKLET_<name>``/``MLFLOW_<name>``; an unparsable value warns and gives ``default``."""
    return _number(name, default, int)


def get_float(name: str, default: float) -> float:
    """Float value of ``TRACKLET_<name>``/``MLFLOW_<name>``; an unparsable value warns and gives ``default``."""
    return _number(name, default, float)


# Names (without prefix) used across the package, in one place.
TRACKING_URI = "TRACKING_URI"
EXPERIMENT_NAME = "EXPERIMENT_NAME"
EXPERIMENT_ID = "EXPERIMENT_ID"
RUN_ID = "RUN_ID"
AUTOLOG_STRICT = "AUTOLOG_STRICT"  # TRACKLET_AUTOLOG_STRICT=1: our autolog errors raise (test mode)
ASYNC_FLUSH_INTERVAL = "ASYNC_FLUSH_INTERVAL"  # seconds the async logger waits to merge batches (0..10)
TRACKING_USERNAME = "TRACKING_USERNAME"  # REST store credentials (basic auth) ...
TRACKING_PASSWORD = "TRACKING_PASSWORD"
TRACKING_TOKEN = "TRACKING_TOKEN"  # ... or a bearer token


def autolog_strict() -> bool:
    """True in test mode: ``TRACKLET_AUTOLOG_STRICT=1`` (or MLflow's ``MLFLOW_AUTOLOGGING_TESTING``)."""
    return get_bool(AUTOLOG_STRICT) or os.environ.get("MLFLOW_AUTOLOGGING_TESTING", "").lower() == "true"
