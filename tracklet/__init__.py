"""tracklet: experiment tracking with zero-code autologging, speaking MLflow's formats.

``import tracklet as mlflow`` runs MLflow tutorial code. Importing this package loads no ML framework,
pandas, numpy, SQLAlchemy or server code; framework namespaces (``tracklet.sklearn``, ``tracklet.pyfunc``,
...) load on first attribute access.
"""

from __future__ import annotations

import importlib
import importlib.util

from tracklet.exceptions import MlflowException, TrackletException
from tracklet.tracking.current import get_tracking_uri, is_tracking_uri_set, set_tracking_uri
from tracklet.tracking.fluent import (
    ActiveRun,
    active_run,
    create_experiment,
    delete_experiment,
    delete_run,
    delete_tag,
    end_run,
    flush_async_logging,
    get_artifact_uri,
    get_experiment,
    get_experiment_by_name,
    get_run,
    last_active_run,
    log_artifact,
    log_artifacts,
    log_dict,
    log_figure,
    log_image,
    log_metric,
    log_metrics,
    log_param,
    log_params,
    log_text,
    restore_run,
    search_experiments,
    search_runs,
    set_experiment,
    set_experiment_tag,
    set_experiment_tags,
    set_tag,
    set_tags,
    start_run,
)
from tracklet.tracking.logged_model_api import get_logged_model, last_logged_model, search_logged_models

__version__ = "0.1.0"

# public names defined in submodules, loaded on first access
_LAZY_ATTRS = {
    "TrackletClient": ("tracklet.tracking.client", "TrackletClient"),
    "MlflowClient": ("tracklet.tracking.client", "TrackletClient"),
}


def __getattr__(name: str):
    """``tracklet.<submodule>`` (``sklearn``, ``pyfunc``, ``autolog`` ...) loads on first access; a name with no
    module behind it is an AttributeError, so ``hasattr(tracklet, "keras")`` is False until ``tracklet/keras.py``
    exists (and True from then on, with no edit here)."""
    if name in _LAZY_ATTRS:
        module, attr = _LAZY_ATTRS[name]
        return getattr(importlib.import_module(module), attr)
    if not name.startswith("_") and importlib.util.find_spec(f"{__name__}.{name}") is not None:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'tracklet' has no attribute {name!r}")


def __dir__() -> list[str]:
    import pkgutil

    modules = {m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_")}
    return sorted(set(globals()) | set(_LAZY_ATTRS) | modules)


__all__ = [
    "ActiveRun",
    "MlflowClient",
    "MlflowException",
    "TrackletClient",
    "TrackletException",
    "active_run",
    "autolog",
    "create_experiment",
    "delete_experiment",
    "delete_run",
    "delete_tag",
    "end_run",
    "flush_async_logging",
    "get_artifact_uri",
    "get_experiment",
    "get_experiment_by_name",
    "get_logged_model",
    "get_run",
    "get_tracking_uri",
    "is_tracking_uri_set",
    "last_active_run",
    "last_logged_model",
    "log_artifact",
    "log_artifacts",
    "log_dict",
    "log_figure",
    "log_image",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "log_text",
    "restore_run",
    "search_experiments",
    "search_logged_models",
    "search_runs",
    "set_experiment",
    "set_experiment_tag",
    "set_experiment_tags",
    "set_tag",
    "set_tags",
    "set_tracking_uri",
    "start_run",
]
