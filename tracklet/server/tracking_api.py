"""Handlers of ``/api/2.0/mlflow/{experiments,runs,metrics}/...``: parse the fields, call the Store, shape the reply.

Every handler is ``handler(ctx, args) -> dict`` and runs in a worker thread (the stores are synchronous).
"""

from __future__ import annotations

import json

from tracklet.exceptions import InvalidParameterValue, ResourceDoesNotExist
from tracklet.server._args import Args
from tracklet.tracking import search, wire
from tracklet.tracking.entities import RunTag
from tracklet.tracking.stores.base import now_ms
from tracklet.tracking.system_tags import generate_run_name
from tracklet.tracking.validation import RUN_NAME_TAG

MAX_HISTORY_PAGE = 25000
MAX_BULK_RUN_IDS = 100
MAX_BULK_RESULTS = 2500


def _paged(items: list, token: str | None, field: str, **extra) -> dict:
    out = {field: items, **extra}
    if token:
        out["next_page_token"] = token
    return out


def _run_id(a: Args) -> str:
    run_id = a.str("run_id") or a.str("run_uuid")
    if not run_id:
        raise InvalidParameterValue("Missing value for required parameter 'run_id'")
    return run_id


# ------------------------------------------------------------------ experiments


def create_experiment(ctx, a: Args) -> dict:
    tags = wire.tags_from_json(a.raw("tags"))
    eid = ctx.store.create_experiment(a.str("name", required=True), a.str("artifact_location") or None, tags)
    return {"experiment_id": eid}


def get_experiment(ctx, a: Args) -> dict:
    return {"experiment": wire.experiment_to_json(ctx.store.get_experiment(a.str("experiment_id", required=True)))}


def get_experiment_by_name(ctx, a: Args) -> dict:
    name = a.str("experiment_name", required=True)
    exp = ctx.store.get_experiment_by_name(name)
    if exp is None:
        raise ResourceDoesNotExist(f"Could not find experiment with name '{name}'")
    return {"experiment": wire.experiment_to_json(exp)}


def search_experiments(ctx, a: Args) -> dict:
    page = ctx.store.search_experiments(
        view_type=a.view_type("view_type"),
        max_results=a.int("max_results", default=1000),
        filter_string=a.str("filter") or None,
        order_by=a.str_list("order_by") or None,
        page_token=a.str("page_token") or None,
    )
    return _paged([wire.experiment_to_json(e) for e in page], page.token, "experiments")


def delete_experiment(ctx, a: Args) -> dict:
    ctx.store.delete_experiment(a.str("experiment_id", required=True))
    return {}


def restore_experiment(ctx, a: Args) -> dict:
    ctx.store.restore_experiment(a.str("experiment_id", required=True))
    return {}


def update_experiment(ctx, a: Args) -> dict:
    new_name = a.str("new_name")
    if new_name is not None:
        ctx.store.rename_experiment(a.str("experiment_id", required=True), new_name)
    return {}


def set_experiment_tag(ctx, a: Args) -> dict:
    tag = RunTag(a.str("key", required=True), a.str("value", default=""))
    ctx.store.set_experiment_tag(a.str("experiment_id", required=True), tag)
    return {}


def delete_experiment_tag(ctx, a: Args) -> dict:
    ctx.store.delete_experiment_tag(a.str("experiment_id", required=True), a.str("key", required=True))
    return {}


# ------------------------------------------------------------------ runs


def create_run(ctx, a: Args) -> dict:
    tags = wire.tags_from_json(a.raw("tags"))
    run_name = a.str("run_name") or None
    if run_name is None and not any(t.key == RUN_NAME_TAG for t in tags):
        run_name = generate_run_name()  # as MLflow's server does: its clients leave naming to the server
    run = ctx.store.create_run(
        a.str("experiment_id") or "0",
        a.str("user_id", default=""),
        a.int("start_time") if a.has("start_time") else now_ms(),
        tags,
        run_name,
    )
    return {"run": wire.run_to_json(run)}


def get_run(ctx, a: Args) -> dict:
    run = ctx.store.get_run(_run_id(a))
    out = wire.run_to_json(run)
    models = getattr(ctx.store, "logged_models", None)
    if models is not None:
        out["outputs"] = wire.model_outputs_to_json(models.run_outputs(run.info.run_id))
    return {"run": out}


def update_run(ctx, a: Args) -> dict:
    info = ctx.store.update_run_info(_run_id(a), a.str("status"), a.int("end_time"), a.str("run_name") or None)
    return {"run_info": wire.run_info_to_json(info)}


def delete_run(ctx, a: Args) -> dict:
    ctx.store.delete_run(_run_id(a))
    return {}


def restore_run(ctx, a: Args) -> dict:
    ctx.store.restore_run(_run_id(a))
    return {}


def hard_delete_run(ctx, a: Args) -> dict:
    """tracklet's own ``/api/2.0/tracklet/runs/hard-delete``: permanently remove a run (``tracklet gc``)."""
    ctx.store.hard_delete_run(_run_id(a))
    return {}


def log_metric(ctx, a: Args) -> dict:
    run_id = _run_id(a)
    fields = {k: a.data.get(k) for k in ("key", "value", "timestamp", "step")}
    ctx.store.log_batch(run_id, [wire.metric_from_json(fields, "metric")], [], [])
    return {}


def log_param(ctx, a: Args) -> dict:
    params = wire.params_from_json([{"key": a.str("key", required=True), "value": a.data.get("value")}])
    ctx.store.log_batch(_run_id(a), [], params, [])
    return {}


def set_tag(ctx, a: Args) -> dict:
    tags = wire.tags_from_json([{"key": a.str("key", required=True), "value": a.data.get("value")}])
    ctx.store.log_batch(_run_id(a), [], [], tags)
    return {}


def delete_tag(ctx, a: Args) -> dict:
    ctx.store.delete_tag(_run_id(a), a.str("key", required=True))
    return {}


def log_batch(ctx, a: Args) -> dict:
    ctx.store.log_batch(
        _run_id(a),
        wire.metrics_from_json(a.raw("metrics")),
        wire.params_from_json(a.raw("params")),
        wire.tags_from_json(a.raw("tags")),
    )
    return {}


def log_model(ctx, a: Args) -> dict:
    text = a.str("model_json", required=True)
    try:
        model = json.loads(text)
    except ValueError as exc:
        raise InvalidParameterValue(f"Invalid value for parameter 'model_json': not JSON ({exc})") from None
    if not isinstance(model, dict):
        raise InvalidParameterValue("Invalid value for parameter 'model_json': expected a JSON object")
    ctx.store.record_logged_model(_run_id(a), model)
    return {}


def log_inputs(ctx, a: Args) -> dict:
    ctx.store.log_inputs(_run_id(a), wire.dataset_inputs_from_json(a.raw("datasets")))
    return {}


def search_runs(ctx, a: Args) -> dict:
    view = a.view_type("run_view_type")
    args = (
        a.str_list("experiment_ids"),
        a.str("filter") or None,
        view,
        a.int("max_results", default=1000),
        a.str_list("order_by") or None,
        a.str("page_token") or None,
    )
    if search_json := getattr(ctx.store, "search_runs_json", None):  # builds the JSON without entities (SQL)
        found, token = search_json(*args)
        return _paged(found, token, "runs")
    page = ctx.store.search_runs(*args)
    return _paged([wire.run_to_json(r) for r in page], page.token, "runs")


# ------------------------------------------------------------------ metrics


def get_metric_history(ctx, a: Args) -> dict:
    max_results = a.int("max_results")
    if max_results is not None and not 0 < max_results <= MAX_HISTORY_PAGE:
        raise InvalidParameterValue(f"Invalid max_results {max_results}: must be between 1 and {MAX_HISTORY_PAGE}")
    offset = search.decode_page_token(a.str("page_token"))
    history = ctx.store.get_metric_history(_run_id(a), a.str("metric_key", required=True))
    if max_results is None and not offset:
        return {"metrics": [wire.metric_to_json(m) for m in history]}
    end = offset + (max_results or MAX_HISTORY_PAGE)
    token = search.encode_page_token(end) if end < len(history) else None
    return _paged([wire.metric_to_json(m) for m in history[offset:end]], token, "metrics")


def get_metric_history_bulk_interval(ctx, a: Args) -> dict:
    run_ids = a.str_list("run_ids")
    if not run_ids or len(run_ids) > MAX_BULK_RUN_IDS:
        raise InvalidParameterValue(f"Parameter 'run_ids' must list between 1 and {MAX_BULK_RUN_IDS} run ids")
    key = a.str("metric_key", required=True)
    max_results = a.int("max_results", default=MAX_BULK_RESULTS)
    if not 0 < max_results <= MAX_BULK_RESULTS:
        raise InvalidParameterValue(f"Invalid max_results {max_results}: must be between 1 and {MAX_BULK_RESULTS}")
    start, end = a.int("start_step"), a.int("end_step")
    if (start is None) != (end is None):
        raise InvalidParameterValue("start_step and end_step must be given together, with start_step <= end_step")
    # the store samples (each step bucket's min and max), so the server and every store answer alike
    points = ctx.store.get_metric_history_bulk_interval(run_ids, key, max_results, start, end)
    return {"metrics": [dict(wire.metric_to_json(m), run_id=m.run_id) for m in points]}
