"""Model formats ("flavors"): save/log/load of framework models in MLflow's ``MLmodel`` layout.

Each flavor module (``sklearn``, ``xgboost``, ``lightgbm``...) has ``save_model``, ``log_model``,
``load_model`` and ``_load_pyfunc``; :mod:`tracklet.flavors.pyfunc` loads any of them generically.
Nothing here imports a framework, numpy or pandas at module level.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable
from typing import Any

_logger = logging.getLogger(__name__)

# keyword arguments of MLflow's log_model that have no meaning without MLflow's LoggedModel/registry
_IGNORED_LOG_KWARGS = frozenset(
    {
        "await_registration_for",
        "params",
        "tags",
        "model_type",
        "step",
        "model_id",
        "prompts",
        "resources",
        "auth_policy",
        "example_no_conversion",
        "extra_files",
        "model_config",
    }
)


def resolve_artifact_path(artifact_path: str | None, name: str | None) -> str:
    """``log_model(artifact_path=...)`` (MLflow 2) or ``log_model(name=...)`` (MLflow 3); default ``model``."""
    from tracklet.exceptions import InvalidParameterValue

    if artifact_path is not None and name is not None and artifact_path != name:
        raise InvalidParameterValue("log_model: give either artifact_path or name, not both")
    return artifact_path or name or "model"


def log_model(
    save_model: Callable[..., Any],
    model_obj: Any,
    artifact_path: str | None = None,
    name: str | None = None,
    run_id: str | None = None,
    registered_model_name: str | None = None,
    ignored: dict | None = None,
    **save_kwargs: Any,
):
    """Save ``model_obj`` with the flavor's ``save_model`` and log it to a run; returns a ModelInfo.

    Uses ``run_id``, else the active run, else starts a run (which stays active, as in MLflow). Every call
    creates a logged model (MLflow 3, ``models:/<model_id>``) with the run as its source. With ``name=`` its
    files go where MLflow 3 puts them (``<experiment>/models/<model_id>/artifacts``, and ``runs:/<run>/<name>``
    still finds them); with ``artifact_path`` (or positionally, MLflow 2 style, as autolog does) they go into
    the run's artifacts as before and the logged model points there. Appends the model to the run's
    ``mlflow.log-model.history`` tag.
    """
    from tracklet.flavors.mlmodel import Model
    from tracklet.tracking import current, fluent, logged_model_api

    for key in sorted(ignored or {}):
        if key in _IGNORED_LOG_KWARGS:
            _logger.warning("log_model: argument %r is not supported by tracklet and was ignored", key)
        else:
            raise TypeError(f"log_model() got an unexpected keyword argument {key!r}")
    in_model_store = name is not None and artifact_path is None  # MLflow 3's layout; else files stay in the run
    artifact_path = resolve_artifact_path(artifact_path, name)
    if run_id is None:
        run = fluent.active_run() or fluent.start_run()
        run_id = run.info.run_id
    client = current.get_client()
    logged = _create_logged_model(client, run_id, artifact_path, in_model_store)
    in_model_store = in_model_store and logged is not None
    model = Model(artifact_path=artifact_path, run_id=run_id, model_id=logged.model_id if logged else None)
    with tempfile.TemporaryDirectory(prefix="tracklet-model-") as tmp:
        local = os.path.join(tmp, "model")
        try:
            save_model(model_obj, path=local, mlflow_model=model, **save_kwargs)
            if in_model_store:
                from tracklet.tracking.artifacts import get_artifact_repository

                get_artifact_repository(logged.artifact_location, client.tracking_uri).log_artifacts(local)
            else:
                client.log_artifacts(run_id, local, artifact_path)
        except BaseException:
            if logged is not None:
                client.store.logged_models.finalize(logged.model_id, "FAILED")
            raise
    if logged is not None:
        logged = client.store.logged_models.finalize(logged.model_id, "READY")
        logged_model_api._remember(logged.model_id)
    client._record_logged_model(run_id, model.get_tags_dict())
    if registered_model_name is not None:
        _logger.warning(
            "log_model: tracklet has no model registry yet; the model was logged to run %s but not registered as %r",
            run_id,
            registered_model_name,
        )
    return model.get_model_info(logged)


def _create_logged_model(client, run_id: str, artifact_path: str, in_model_store: bool):
    """The logged-model record of one ``log_model`` call (None for a store that keeps none, and the files
    then stay in the run). Model names may not contain ``/``: a nested ``artifact_path`` uses its last part."""
    from tracklet.tracking.stores.logged_models import RUN_ARTIFACTS_TAG

    models = getattr(client.store, "logged_models", None)
    if models is None:
        if in_model_store:
            _logger.warning("log_model: the %s keeps no logged models", type(client.store).__name__)
        return None
    run = client.get_run(run_id)
    tags = None if in_model_store else {RUN_ARTIFACTS_TAG: f"runs:/{run.info.run_id}/{artifact_path}"}
    name = artifact_path.rstrip("/").rpartition("/")[2]
    logged = models.create(run.info.experiment_id, name=name, source_run_id=run.info.run_id, tags=tags)
    if in_model_store:
        models.log_outputs(run.info.run_id, [(logged.model_id, 0)])
    return logged


def class_path(obj: Any) -> str:
    """``module.QualName`` of ``obj``'s class, as MLflow writes ``model_class``."""
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


def import_class(path: str, allowed_prefix: str):
    """Import the class named by ``path``; only classes under ``allowed_prefix`` (a model file is data, not code)."""
    import importlib

    from tracklet.exceptions import InvalidParameterValue

    if not path.startswith(allowed_prefix + "."):
        raise InvalidParameterValue(f"model_class {path!r} is not a {allowed_prefix} class")
    module, _, attr = path.rpartition(".")
    try:
        return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as e:
        raise InvalidParameterValue(f"model_class {path!r} cannot be imported: {e}") from None
