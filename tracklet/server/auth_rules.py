"""Which permission each REST handler needs, and how searches are narrowed to what the caller may read.

A rule is ``rule(gate, principal, ctx, args, handler) -> dict``: it checks (raising PermissionDenied), calls the
handler and may shape its reply. The needs follow MLflow's auth app: reading needs READ; logging to a run,
creating runs and changing experiments (rename, tags) need EDIT; deleting and restoring experiments and runs
needs MANAGE; anyone signed in may create an experiment (and gets MANAGE on it). Searches are filtered, never
refused. A handler missing from :data:`RULES` is for admins only (so a new endpoint is never open by accident).
"""

from __future__ import annotations

from tracklet.server import artifacts_api, logged_models_api
from tracklet.server import tracking_api as T
from tracklet.server.auth import PermissionDenied

READ, UPDATE, MANAGE = "read", "update", "manage"


def _set(args, name: str, value) -> None:
    """Replace a request field, in the shape the request came in (query lists or JSON)."""
    if args.from_query:
        args.data[name] = [str(v) for v in value] if isinstance(value, list) else [str(value)]
    else:
        args.data[name] = value


def anyone(gate, principal, ctx, args, handler) -> dict:
    return handler(ctx, args)


def admins(gate, principal, ctx, args, handler) -> dict:
    if not principal.is_admin:
        raise PermissionDenied(f"Permission denied: only admins may call this endpoint (user '{principal.username}')")
    return handler(ctx, args)


def on_experiment(need: str, default: str | None = None):
    """The experiment named by the ``experiment_id`` field (``default`` when absent)."""

    def rule(gate, principal, ctx, args, handler) -> dict:
        experiment_id = args.str("experiment_id") or default
        if experiment_id is not None:  # absent: the handler answers 400 without touching anything
            gate.require(principal, experiment_id, need)
        return handler(ctx, args)

    return rule


def on_experiment_name(need: str):
    def rule(gate, principal, ctx, args, handler) -> dict:
        name = args.str("experiment_name")
        experiment = ctx.store.get_experiment_by_name(name) if name and not principal.is_admin else None
        if experiment is not None:
            gate.require(principal, experiment.experiment_id, need)
        return handler(ctx, args)

    return rule


def on_run(need: str):
    """The experiment of the run named by ``run_id`` (or ``run_uuid``)."""

    def rule(gate, principal, ctx, args, handler) -> dict:
        run_id = args.str("run_id") or args.str("run_uuid")
        if run_id and not principal.is_admin:
            gate.require(principal, gate.experiment_of_run(run_id), need)
        return handler(ctx, args)

    return rule


def on_runs(need: str):
    """Every run of the ``run_ids`` list."""

    def rule(gate, principal, ctx, args, handler) -> dict:
        if not principal.is_admin:
            for run_id in args.str_list("run_ids")[: T.MAX_BULK_RUN_IDS]:
                gate.require(principal, gate.experiment_of_run(run_id), need)
        return handler(ctx, args)

    return rule


def on_model(need: str):
    """The experiment of the logged model named by ``model_id``."""

    def rule(gate, principal, ctx, args, handler) -> dict:
        model_id = args.str("model_id")
        if model_id and not principal.is_admin:
            gate.require(principal, gate.experiment_of_model(model_id), need)
        return handler(ctx, args)

    return rule


def create_experiment(gate, principal, ctx, args, handler) -> dict:
    reply = handler(ctx, args)
    gate.auth.experiment_created(principal, reply["experiment_id"])
    return reply


def search_experiments(gate, principal, ctx, args, handler) -> dict:
    """Only readable experiments; pages are refilled so a page is short only at the end."""
    if principal.is_admin:
        return handler(ctx, args)
    wanted = args.int("max_results", default=1000)
    found: list = []
    while True:
        page = handler(ctx, args)
        found += [e for e in page.get("experiments", []) if gate.allowed(principal, e["experiment_id"], READ)]
        token = page.get("next_page_token")
        if not token or len(found) >= wanted:
            break
        _set(args, "page_token", token)
        _set(args, "max_results", wanted - len(found))
    reply = {"experiments": found}
    if token:
        reply["next_page_token"] = token
    return reply


def within_readable_experiments(field: str):
    """Searches over ``experiment_ids``: the unreadable ids are dropped before the search runs."""

    def rule(gate, principal, ctx, args, handler) -> dict:
        if principal.is_admin:
            return handler(ctx, args)
        requested = args.str_list("experiment_ids")
        readable = [e for e in requested if gate.allowed(principal, e, READ)]
        if requested and not readable:
            return {field: []}
        _set(args, "experiment_ids", readable)
        return handler(ctx, args)

    return rule


RULES = {
    T.create_experiment: create_experiment,
    T.get_experiment: on_experiment(READ),
    T.get_experiment_by_name: on_experiment_name(READ),
    T.search_experiments: search_experiments,
    T.delete_experiment: on_experiment(MANAGE),
    T.restore_experiment: on_experiment(MANAGE),
    T.update_experiment: on_experiment(UPDATE),
    T.set_experiment_tag: on_experiment(UPDATE),
    T.delete_experiment_tag: on_experiment(UPDATE),
    T.create_run: on_experiment(UPDATE, default="0"),
    T.get_run: on_run(READ),
    T.update_run: on_run(UPDATE),
    T.delete_run: on_run(MANAGE),
    T.restore_run: on_run(MANAGE),
    T.hard_delete_run: on_run(MANAGE),
    T.search_runs: within_readable_experiments("runs"),
    T.log_metric: on_run(UPDATE),
    T.log_param: on_run(UPDATE),
    T.set_tag: on_run(UPDATE),
    T.delete_tag: on_run(UPDATE),
    T.log_batch: on_run(UPDATE),
    T.log_model: on_run(UPDATE),
    T.log_inputs: on_run(UPDATE),
    T.get_metric_history: on_run(READ),
    T.get_metric_history_bulk_interval: on_runs(READ),
    artifacts_api.list_run_artifacts: on_run(READ),
    logged_models_api.create_logged_model: on_experiment(UPDATE),
    logged_models_api.search_logged_models: within_readable_experiments("models"),
    logged_models_api.get_logged_model: on_model(READ),
    logged_models_api.list_logged_model_artifacts: on_model(READ),
    logged_models_api.finalize_logged_model: on_model(UPDATE),
    logged_models_api.set_logged_model_tags: on_model(UPDATE),
    logged_models_api.delete_logged_model_tag: on_model(UPDATE),
    logged_models_api.log_logged_model_params: on_model(UPDATE),
    logged_models_api.delete_logged_model: on_model(MANAGE),
    logged_models_api.log_outputs: on_run(UPDATE),
}
