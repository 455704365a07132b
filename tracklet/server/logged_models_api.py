"""Handlers of ``/api/2.0/mlflow/logged-models`` and ``/runs/outputs``: MLflow 3's first-class models.

An MLflow 3 client's ``log_model(name=...)`` creates the model (PENDING), uploads its files to the model's
``artifact_uri`` through the artifact proxy, links it to the run (``runs/outputs``) and finalizes it (READY);
``models:/<model_id>`` loads it back through ``GET /logged-models/<id>``.
"""

from __future__ import annotations

from tracklet.exceptions import InvalidParameterValue
from tracklet.server._args import Args
from tracklet.tracking import wire


def _models(ctx):
    models = getattr(ctx.store, "logged_models", None)
    if models is None:
        raise InvalidParameterValue(f"The {type(ctx.store).__name__} store does not keep logged models")
    return models


def _reply(model) -> dict:
    return {"model": wire.logged_model_to_json(model)}


def create_logged_model(ctx, a: Args) -> dict:
    model = _models(ctx).create(
        a.str("experiment_id", required=True),
        name=a.str("name") or None,
        source_run_id=a.str("source_run_id") or None,
        tags={t.key: t.value for t in wire.tags_from_json(a.raw("tags"))},
        params={p.key: p.value for p in wire.params_from_json(a.raw("params"))},
        model_type=a.str("model_type") or None,
    )
    return _reply(model)


def get_logged_model(ctx, a: Args) -> dict:
    return _reply(_models(ctx).get(a.str("model_id", required=True), allow_deleted=a.bool("allow_deleted")))


def finalize_logged_model(ctx, a: Args) -> dict:
    return _reply(_models(ctx).finalize(a.str("model_id", required=True), a.str("status", required=True)))


def delete_logged_model(ctx, a: Args) -> dict:
    _models(ctx).delete(a.str("model_id", required=True))
    return {}


def set_logged_model_tags(ctx, a: Args) -> dict:
    tags = {t.key: t.value for t in wire.tags_from_json(a.raw("tags"))}
    _models(ctx).set_tags(a.str("model_id", required=True), tags)
    return {}


def delete_logged_model_tag(ctx, a: Args) -> dict:
    _models(ctx).delete_tag(a.str("model_id", required=True), a.str("tag_key", required=True))
    return {}


def log_logged_model_params(ctx, a: Args) -> dict:
    params = {p.key: p.value for p in wire.params_from_json(a.raw("params"))}
    _models(ctx).log_params(a.str("model_id", required=True), params)
    return {}


def search_logged_models(ctx, a: Args) -> dict:
    order_by = a.raw("order_by")
    if order_by is not None and not isinstance(order_by, list):
        raise InvalidParameterValue("Invalid value for parameter 'order_by': expected a list")
    page = _models(ctx).search(
        a.str_list("experiment_ids"),
        a.str("filter") or None,
        a.int("max_results"),
        order_by,
        a.str("page_token") or None,
    )
    out = {"models": [wire.logged_model_to_json(m) for m in page]}
    if page.token:
        out["next_page_token"] = page.token
    return out


def list_logged_model_artifacts(ctx, a: Args) -> dict:
    from tracklet.server.artifacts_api import list_under

    model = _models(ctx).get(a.str("model_id", required=True))
    files = list_under(ctx, model.artifact_location, a.str("artifact_directory_path"))
    return {"root_uri": model.artifact_location, "files": files}


def log_outputs(ctx, a: Args) -> dict:
    items = a.raw("models") or []
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise InvalidParameterValue("Invalid value for parameter 'models': expected a list of objects")
    outputs = []
    for item in items:
        model_id = wire.str_from_json(item.get("model_id"), "models.model_id")
        step = wire.int_from_json(item["step"], "models.step") if item.get("step") is not None else 0
        outputs.append((model_id, step))
    run_id = a.str("run_id", required=True)
    _models(ctx).log_outputs(run_id, outputs)
    return {}


ROUTES = [
    ("/logged-models", ["POST"], create_logged_model),
    ("/logged-models/search", ["POST"], search_logged_models),
    ("/logged-models/{model_id}", ["GET"], get_logged_model),
    ("/logged-models/{model_id}", ["PATCH"], finalize_logged_model),
    ("/logged-models/{model_id}", ["DELETE"], delete_logged_model),
    ("/logged-models/{model_id}/tags", ["PATCH"], set_logged_model_tags),
    ("/logged-models/{model_id}/tags/{tag_key:path}", ["DELETE"], delete_logged_model_tag),
    ("/logged-models/{model_id}/params", ["POST"], log_logged_model_params),
    ("/logged-models/{model_id}/artifacts/directories", ["GET"], list_logged_model_artifacts),
    ("/runs/outputs", ["POST"], log_outputs),
]
