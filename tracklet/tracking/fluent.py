"""The module-level ("fluent") API: an active-run stack per thread and asyncio task (contextvars),
delegating to TrackletClient."""

from __future__ import annotations

import contextvars
import os
from collections.abc import Mapping

from tracklet import env
from tracklet.exceptions import InvalidParameterValue, TrackletException
from tracklet.tracking import current, system_tags
from tracklet.tracking.current import (  # noqa: F401 - the URI functions are re-exported (old import path)
    get_client,
    get_tracking_uri,
    is_tracking_uri_set,
    set_tracking_uri,
)
from tracklet.tracking.entities import Experiment, Metric, Param, Run, RunStatus, RunTag, ViewType

DEFAULT_EXPERIMENT_ID = "0"

_active_experiment_id: str | None = None
_run_stack: contextvars.ContextVar[tuple] = contextvars.ContextVar("tracklet_run_stack", default=())
_last_run_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("tracklet_last_run", default=None)
_last_run_id_global: str | None = None
_last_logged_model_id: str | None = None  # set by log_model, read by logged_model_api.last_logged_model


# ---------------------------------------------------------------------- experiments


def create_experiment(name: str, artifact_location: str | None = None, tags: dict | None = None) -> str:
    """Create an experiment; returns its id."""
    return get_client().create_experiment(name, artifact_location, tags)


def set_experiment(experiment_name: str | None = None, experiment_id: str | None = None) -> Experiment:
    """Make an experiment active for later runs, creating it by name if it doesn't exist."""
    global _active_experiment_id
    exp = _get_or_create_experiment(experiment_name, experiment_id)
    _active_experiment_id = exp.experiment_id
    return exp


def _get_or_create_experiment(experiment_name: str | None, experiment_id: str | None) -> Experiment:
    if (experiment_name is None) == (experiment_id is None):
        raise InvalidParameterValue("set_experiment: give exactly one of experiment_name or experiment_id")
    client = get_client()
    if experiment_id is not None:
        exp = client.get_experiment(str(experiment_id))
    else:
        exp = client.get_experiment_by_name(experiment_name)
        if exp is None:
            from tracklet.exceptions import ResourceAlreadyExists

            try:
                client.create_experiment(experiment_name)
            except ResourceAlreadyExists:
                pass  # another process created it at the same moment
            exp = client.get_experiment_by_name(experiment_name)
    if exp.lifecycle_stage != "active":
        from tracklet.exceptions import InvalidState

        raise InvalidState(
            f"Cannot set a deleted experiment {exp.name!r} (id {exp.experiment_id}) as the active experiment; "
            "restore it first"
        )
    return exp


def get_experiment(experiment_id: str) -> Experiment:
    return get_client().get_experiment(experiment_id)


def get_experiment_by_name(name: str) -> Experiment | None:
    return get_client().get_experiment_by_name(name)


def search_experiments(
    view_type: int = ViewType.ACTIVE_ONLY,
    max_results: int | None = None,
    filter_string: str | None = None,
    order_by: list[str] | None = None,
) -> list[Experiment]:
    """All experiments matching ``filter_string`` (e.g. ``"name LIKE 'prod-%'"``), paging through the store."""
    client, out, token = get_client(), [], None
    while True:
        page = client.search_experiments(view_type, min(max_results or 50000, 50000), filter_string, order_by, token)
        out.extend(page)
        token = page.token
        if not token or (max_results and len(out) >= max_results):
            return out[:max_results] if max_results else out


def delete_experiment(experiment_id: str) -> None:
    get_client().delete_experiment(experiment_id)


def set_experiment_tag(key: str, value) -> None:
    get_client().set_experiment_tag(_resolve_experiment_id(), key, value)


def set_experiment_tags(tags: dict) -> None:
    for k, v in tags.items():
        set_experiment_tag(k, v)


def _resolve_experiment_id() -> str:
    if _active_experiment_id is not None:
        return _active_experiment_id
    name = env.get(env.EXPERIMENT_NAME)
    if name:
        return _get_or_create_experiment(name, None).experiment_id
    exp_id = env.get(env.EXPERIMENT_ID)
    if exp_id:
        return str(exp_id)
    return DEFAULT_EXPERIMENT_ID


# ---------------------------------------------------------------------- runs


class ActiveRun:
    """The run started by :func:`start_run`; a context manager that ends it FINISHED (FAILED on error)."""

    def __init__(self, run: Run):
        self._run = run
        self._run_id = run.info.run_id  # read on every logging call: an attribute, not a property chain

    @property
    def info(self):
        return self._run.info

    @property
    def data(self):
        return self._run.data

    @property
    def inputs(self):
        return self._run.inputs

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is KeyboardInterrupt:
            status = RunStatus.KILLED
        else:
            status = RunStatus.FINISHED if exc_type is None else RunStatus.FAILED
        _end_run_by_id(self.info.run_id, status)
        return False

    def __repr__(self) -> str:
        return f"<ActiveRun: run_id={self.info.run_id!r}, name={self.info.run_name!r}>"


def start_run(
    run_id: str | None = None,
    experiment_id: str | None = None,
    run_name: str | None = None,
    nested: bool = False,
    parent_run_id: str | None = None,
    tags: dict | None = None,
    description: str | None = None,
    log_system_metrics: bool | None = None,
) -> ActiveRun:
    """Start a new run (or resume ``run_id``) and make it active in this thread/task.

    Use as a context manager: the run ends FINISHED, or FAILED when the block raises.
    """
    stack = _run_stack.get()
    if stack and not nested:
        raise TrackletException(
            f"Run with UUID {stack[-1].info.run_id} is already active. To start a nested run, call start_run "
            "with nested=True; to end the current one, call end_run()",
            "INVALID_STATE",
        )
    client = get_client()
    resume_id = run_id or (env.get(env.RUN_ID) if not stack else None)
    if resume_id:
        run = client.get_run(resume_id)
        if run.info.lifecycle_stage != "active":
            from tracklet.exceptions import InvalidState

            raise InvalidState(f"Cannot resume run {resume_id}: it is deleted")
        if experiment_id is not None and str(experiment_id) != run.info.experiment_id:
            raise InvalidParameterValue(
                f"Run {resume_id} belongs to experiment {run.info.experiment_id}, not {experiment_id}"
            )
        client.store.update_run_info(resume_id, RunStatus.RUNNING, None, run_name)
        if tags:
            client.log_batch(resume_id, tags=tags)
        if description:
            client.set_tag(resume_id, system_tags.NOTE, description)
        run = client.get_run(resume_id)
    else:
        parent = parent_run_id or (stack[-1].info.run_id if stack and nested else None)
        all_tags = system_tags.context_tags()
        all_tags.update(_items(tags, "tags"))
        if parent:
            all_tags[system_tags.PARENT_RUN_ID] = parent
        if description:
            if system_tags.NOTE in all_tags and all_tags[system_tags.NOTE] != description:
                raise InvalidParameterValue(f"Both description and the tag {system_tags.NOTE} were given; give one")
            all_tags[system_tags.NOTE] = description
        exp_id = str(experiment_id) if experiment_id is not None else _resolve_experiment_id()
        run = client.create_run(exp_id, tags=all_tags, run_name=run_name)
    active = ActiveRun(run)
    _run_stack.set(stack + (active,))
    _remember_last(run.info.run_id)
    return active


def _remember_last(run_id: str) -> None:
    """Record the run last started or ended, for :func:`last_active_run` (a parent that ends after its
    child is the last one, as in MLflow)."""
    global _last_run_id_global
    _last_run_id.set(run_id)
    _last_run_id_global = run_id


def _detach_run(run_id: str) -> list[str]:
    """Take ``run_id`` off this context's run stack, with any run nested above it (a block that raised may have
    left them open), and record it as the last run; returns the ids to end, innermost first (the caller ends
    them: autologging may do so later, once a fit's deferred records are written)."""
    stack = _run_stack.get()
    idx = next((i for i in range(len(stack) - 1, -1, -1) if stack[i].info.run_id == run_id), None)
    inner = []
    if idx is not None:
        inner = [r.info.run_id for r in reversed(stack[idx + 1 :])]
        _run_stack.set(stack[:idx])
    _remember_last(run_id)
    return [*inner, run_id]


def _end_run_by_id(run_id: str, status: str) -> None:
    client = get_client()
    for rid in _detach_run(run_id):
        client.set_terminated(rid, status)


def end_run(status: str = RunStatus.FINISHED) -> None:
    """End the active run (if any) with ``status``, after flushing its queued asynchronous logging."""
    stack = _run_stack.get()
    if not stack:
        return
    status = RunStatus.normalize(status)
    run = stack[-1]
    _run_stack.set(stack[:-1])
    get_client().set_terminated(run.info.run_id, status)
    _remember_last(run.info.run_id)


def active_run() -> ActiveRun | None:
    """The run active in this thread/task, or None."""
    stack = _run_stack.get()
    return stack[-1] if stack else None


def last_active_run() -> Run | None:
    """The active run, else the run that was started or ended last (fetched fresh, so it shows what was
    logged): after a nested run inside a parent, the parent."""
    run = active_run()
    run_id = run.info.run_id if run else (_last_run_id.get() or _last_run_id_global)
    if run_id is None:
        return None
    client = get_client()
    client.flush_async_logging()  # show what autolog / synchronous=False queued
    return client.get_run(run_id)


def get_run(run_id: str) -> Run:
    return get_client().get_run(run_id)


def delete_run(run_id: str) -> None:
    get_client().delete_run(run_id)


def restore_run(run_id: str) -> None:
    get_client().restore_run(run_id)


def _run_id_for_logging() -> str:
    stack = _run_stack.get()
    return stack[-1]._run_id if stack else start_run()._run_id


def _now() -> int:
    import time

    return int(time.time() * 1000)


def flush_async_logging() -> None:
    """Block until all asynchronously logged data is written."""
    from tracklet.tracking.batching import flush_all

    flush_all()


# ---------------------------------------------------------------------- logging


def log_param(key: str, value, synchronous: bool = True):
    """Log a parameter (stringified) on the active run; returns the value (a future when asynchronous)."""
    return get_client().log_param(_run_id_for_logging(), key, value, synchronous=synchronous)


def log_params(params: dict, synchronous: bool = True):
    return get_client().log_batch(
        _run_id_for_logging(),
        params=[Param(k, _str(v)) for k, v in _items(params, "params")],
        synchronous=synchronous,
    )


def _items(mapping, argument: str):
    """The (key, value) pairs of a dict argument; keys are validated as given (``None`` is not ``"None"``)."""
    if mapping is None:
        return ()
    if not isinstance(mapping, Mapping):
        raise InvalidParameterValue(f"{argument} must be a dict of names to values, got {type(mapping).__name__}")
    return mapping.items()


def _str(v) -> str:
    return "" if v is None else str(v)


def log_metric(
    key: str,
    value,
    step: int | None = None,
    timestamp: int | None = None,
    synchronous: bool = True,
    run_id: str | None = None,
):
    """Log a metric value at ``step``; ``synchronous=False`` returns a future without waiting for the store."""
    return get_client().log_metric(
        run_id or _run_id_for_logging(), key, value, timestamp, step, synchronous=synchronous
    )


def log_metrics(
    metrics: dict,
    step: int | None = None,
    timestamp: int | None = None,
    synchronous: bool = True,
    run_id: str | None = None,
):
    ts = _now() if timestamp is None else timestamp
    batch = [Metric(k, v, ts, step or 0) for k, v in _items(metrics, "metrics")]
    return get_client().log_batch(run_id or _run_id_for_logging(), metrics=batch, synchronous=synchronous)


def set_tag(key: str, value, synchronous: bool = True):
    return get_client().set_tag(_run_id_for_logging(), key, value, synchronous=synchronous)


def set_tags(tags: dict, synchronous: bool = True):
    return get_client().log_batch(
        _run_id_for_logging(),
        tags=[RunTag(k, _str(v)) for k, v in _items(tags, "tags")],
        synchronous=synchronous,
    )


def delete_tag(key: str) -> None:
    get_client().delete_tag(_run_id_for_logging(), key)


def log_artifact(local_path: str, artifact_path: str | None = None, run_id: str | None = None) -> None:
    """Copy a local file or directory into the active run's artifacts (under ``artifact_path``)."""
    get_client().log_artifact(run_id or _run_id_for_logging(), os.fspath(local_path), artifact_path)


def log_artifacts(local_dir: str, artifact_path: str | None = None, run_id: str | None = None) -> None:
    """Copy a directory's contents into the active run's artifacts."""
    get_client().log_artifacts(run_id or _run_id_for_logging(), os.fspath(local_dir), artifact_path)


def log_text(text: str, artifact_file: str, run_id: str | None = None) -> None:
    get_client().log_text(run_id or _run_id_for_logging(), text, artifact_file)


def log_dict(dictionary, artifact_file: str, run_id: str | None = None) -> None:
    """Save a dict as JSON (``.json`` and anything else) or YAML (``.yml``/``.yaml``)."""
    get_client().log_dict(run_id or _run_id_for_logging(), dictionary, artifact_file)


def log_figure(figure, artifact_file: str, *, save_kwargs: dict | None = None, run_id: str | None = None) -> None:
    """matplotlib figure -> png/svg/pdf by extension; plotly figure -> html."""
    get_client().log_figure(run_id or _run_id_for_logging(), figure, artifact_file)


def log_image(image, artifact_file: str | None = None, run_id: str | None = None, **_ignored) -> None:
    """numpy array (bool, ints 0..255, floats 0..1 clipped; HxW, HxWx1, HxWx3, HxWx4) or PIL image."""
    if artifact_file is None:
        raise InvalidParameterValue("log_image: artifact_file is required, e.g. 'images/sample.png'")
    get_client().log_image(run_id or _run_id_for_logging(), image, artifact_file)


def get_artifact_uri(artifact_path: str | None = None) -> str:
    return get_client().get_artifact_uri(_run_id_for_logging(), artifact_path)


# ---------------------------------------------------------------------- search


def search_runs(
    experiment_ids: list[str] | None = None,
    filter_string: str = "",
    run_view_type: int = ViewType.ACTIVE_ONLY,
    max_results: int = 100000,
    order_by: list[str] | None = None,
    output_format: str = "pandas",
    search_all_experiments: bool = False,
    experiment_names: list[str] | None = None,
):
    """Runs matching ``filter_string`` as a pandas DataFrame (``output_format="pandas"``) or a list of Run.

    Without experiment ids or names, searches the active experiment (or all with ``search_all_experiments``).
    """
    if output_format not in ("pandas", "list"):
        raise InvalidParameterValue(f"output_format must be 'pandas' or 'list', got {output_format!r}")
    client = get_client()
    ids = [str(e) for e in (experiment_ids or [])]
    for name in experiment_names or []:
        exp = client.get_experiment_by_name(name)
        if exp is not None:
            ids.append(exp.experiment_id)
    if not ids and not experiment_names:
        if search_all_experiments:
            ids = [e.experiment_id for e in search_experiments(ViewType.ALL)]
        else:
            ids = [_resolve_experiment_id()]
    client.flush_async_logging()
    runs, token = [], None
    while len(runs) < max_results:
        page = client.search_runs(
            ids, filter_string, run_view_type, min(max_results - len(runs), 50000), order_by, token
        )
        runs.extend(page)
        token = page.token
        if not token:
            break
    if output_format == "list":
        return runs
    from tracklet.tracking.run_frame import runs_to_pandas

    return runs_to_pandas(runs)


def _reset_for_tests() -> None:
    """Forget the tracking URI, active experiment, run stacks and cached clients/stores."""
    global _active_experiment_id, _last_run_id_global, _last_logged_model_id
    from tracklet.tracking.stores.registry import clear_cache

    flush_async_logging()
    current._reset_for_tests()
    _active_experiment_id = None
    _last_run_id_global = None
    _last_logged_model_id = None
    _run_stack.set(())
    _last_run_id.set(None)
    clear_cache()
