"""The fluent API of logged models (MLflow 3): ``last_logged_model``, ``get_logged_model``, ``search_logged_models``."""

from __future__ import annotations

from tracklet.exceptions import InvalidParameterValue
from tracklet.tracking import current, fluent


def _remember(model_id: str) -> None:
    """Called by ``log_model`` (and so by autologging) once a model is READY."""
    fluent._last_logged_model_id = model_id


def _models():
    models = getattr(current.get_client().store, "logged_models", None)
    if models is None:
        raise InvalidParameterValue(f"The {type(current.get_client().store).__name__} keeps no logged models")
    return models


def get_logged_model(model_id: str):
    """The logged model ``model_id`` (``m-...``); raises ResourceDoesNotExist if there is none."""
    return _models().get(model_id)


def last_logged_model():
    """The model logged last in this process (by ``log_model`` or autologging), or None."""
    model_id = fluent._last_logged_model_id
    return None if model_id is None else _models().get(model_id)


def search_logged_models(
    experiment_ids: list[str] | None = None,
    filter_string: str | None = None,
    max_results: int | None = None,
    order_by: list | None = None,
    output_format: str = "pandas",
):
    """Logged models of ``experiment_ids`` (default: the active experiment) matching ``filter_string``, newest
    first unless ``order_by`` says otherwise, as a pandas DataFrame (``output_format="pandas"``) or a list."""
    if output_format not in ("pandas", "list"):
        raise InvalidParameterValue(f"output_format must be 'pandas' or 'list', got {output_format!r}")
    if max_results is not None and (isinstance(max_results, bool) or not isinstance(max_results, int)):
        raise InvalidParameterValue(f"max_results must be a positive integer, got {max_results!r}")
    models = _models()
    ids = [str(e) for e in experiment_ids] if experiment_ids else [fluent._resolve_experiment_id()]
    found, token = [], None
    while max_results is None or len(found) < max_results:
        page_size = 1000 if max_results is None else min(max_results - len(found), 1000)
        page = models.search(ids, filter_string, page_size, order_by, token)
        found.extend(page)
        token = page.token
        if not token:
            break
    if output_format == "list":
        return found
    import pandas as pd

    columns = [
        "model_id",
        "name",
        "experiment_id",
        "source_run_id",
        "status",
        "model_type",
        "artifact_location",
        "creation_timestamp",
        "last_updated_timestamp",
        "tags",
        "params",
    ]
    return pd.DataFrame([{c: getattr(m, c) for c in columns} for m in found], columns=columns)
