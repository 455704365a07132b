"""Autologging state for the current thread/task, managed runs and the RunLogger.

All per-call state lives in context variables, so two threads training at once log to two runs, and a
patched call nested in another (Pipeline -> estimator, ``super().fit``) sees its parent with
:func:`current`. Worker threads a framework spawns start with an empty context; integrations that know
their framework's thread pool hand the context over with :func:`capture_context` (see sklearn).
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
import time
import warnings
from collections.abc import Iterator

from tracklet import env
from tracklet._logging import get_logger
from tracklet.exceptions import InvalidParameterValue, TrackletException
from tracklet.tracking import system_tags as ctx
from tracklet.tracking import validation as V
from tracklet.tracking.entities import Metric, Param, RunStatus, RunTag

_log = get_logger("tracklet.autolog")

_current: contextvars.ContextVar = contextvars.ContextVar("tracklet_autolog_call", default=None)
_suppressed: contextvars.ContextVar[bool] = contextvars.ContextVar("tracklet_autolog_suppressed", default=False)


class AutologWarning(UserWarning):
    """A problem in tracklet's autologging (never in the user's training); training was not affected."""


def current():
    """The patched call in progress in this context (a ``patching.Call``), or None."""
    return _current.get()


def suppressed() -> bool:
    """True inside :func:`suppress`: patched calls run without logging."""
    return _suppressed.get()


@contextlib.contextmanager
def suppress() -> Iterator[None]:
    """Run a block with autologging off in this context (e.g. the many fits of ``cross_val_score``)."""
    token = _suppressed.set(True)
    try:
        yield
    finally:
        _suppressed.reset(token)


def capture_context() -> contextvars.Context | None:
    """A copy of this context if a patched call or a suppressed block is in progress, else None.
    Run a worker's task in it (``ctx.run(fn, ...)``) so nested calls in worker threads are not logged
    as runs of their own."""
    if _current.get() is None and not _suppressed.get():
        return None
    return contextvars.copy_context()


def resolve_global(module: str, qualname: str):
    """``module.qualname`` (how a patched function pickles: as the original it wraps)."""
    import importlib

    obj = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


# ---------------------------------------------------------------------- warnings and errors

_warned: set = set()
_warned_lock = threading.Lock()


def warn_once(key, message: str, silent: bool = False) -> None:
    """Emit ``message`` as an AutologWarning once per ``key`` (until autolog is configured again)."""
    if silent:
        return
    with _warned_lock:
        if key in _warned:
            return
        _warned.add(key)
    warnings.warn(message, AutologWarning, stacklevel=3)


def reset_warnings(integration: str | None = None) -> None:
    with _warned_lock:
        if integration is None:
            _warned.clear()
        else:
            for key in [k for k in _warned if (k[0] if isinstance(k, tuple) else k) == integration]:
                _warned.discard(key)


def report_error(integration: str, exc: BaseException, silent: bool = False) -> None:
    """Our own code failed: raise in strict mode (tests), else warn once per integration."""
    if env.autolog_strict():
        raise exc
    warn_once(
        (integration, "error"),
        f"tracklet: {integration} autologging failed and was skipped ({type(exc).__name__}: {exc}). "
        "Training is not affected; what was logged before the failure is kept. Further failures of "
        f"{integration} autologging are not reported.",
        silent,
    )


# ---------------------------------------------------------------------- managed runs

_experiment_names: dict[tuple[str, str], str] = {}
# user runs an autologged fit has already logged into: a second fit there gets a child run of its own
_fitted_user_runs: set[str] = set()
_fitted_lock = threading.Lock()
NESTED_FIT_TAG = "tracklet.autolog.nestedFit"


def open_run(integration: str, config) -> tuple[str, bool]:
    """The run a top-level patched call logs to, and whether it was created here (then it is ended by
    :func:`close_run`): the user's active run for the first autologged fit in it (left open); a child run of
    it (``mlflow.parentRunId``, tag ``tracklet.autolog.nestedFit=true``) for each later one, so two fits never
    collide on their params; with no active run, a new run. Runs created here are tagged
    ``mlflow.autologging=<integration>`` plus ``extra_tags``."""
    from tracklet.tracking import fluent

    active = fluent.active_run()
    if active is not None:
        with _fitted_lock:
            first = active.info.run_id not in _fitted_user_runs
            _fitted_user_runs.add(active.info.run_id)
        if first:
            return active.info.run_id, False
    tags = dict(config.extra_tags or {})
    if ctx.AUTOLOGGING in tags:
        tags.pop(ctx.AUTOLOGGING)
        warn_once(
            (integration, "extra_tags"),
            f"tracklet: extra_tags may not set the reserved tag {ctx.AUTOLOGGING!r}; it was ignored",
            config.silent,
        )
    tags[ctx.AUTOLOGGING] = integration
    if active is not None:
        tags[NESTED_FIT_TAG] = "true"
    run = fluent.start_run(tags=tags, nested=active is not None)
    if not config.silent:
        _announce(run)
    return run.info.run_id, True


def _announce(run) -> None:
    from tracklet.tracking import current

    client = current.get_client()
    key = (client.tracking_uri, run.info.experiment_id)
    name = _experiment_names.get(key)
    if name is None:
        try:
            name = _experiment_names[key] = client.get_experiment(run.info.experiment_id).name
        except ConnectionError:  # the tracking server is unreachable: the run is spooled offline (tracking/spool.py)
            name = f"id {run.info.experiment_id}"
    _log.info(
        "autologging run '%s' (id %s) in experiment '%s' stored at %s",
        run.info.run_name,
        run.info.run_id,
        name,
        client.tracking_uri,
    )


def close_run(run_id: str, status: str) -> None:
    """End a run :func:`open_run` created (flushing its queued logging first)."""
    from tracklet.tracking import fluent

    fluent._end_run_by_id(run_id, status)


def detach_run(run_id: str):
    """Take a run :func:`open_run` created off this context's run stack now (``active_run()`` is None after the
    fit returns, ``last_active_run()`` names it); returns ``end(status)``, which ends it later, from any thread,
    in the store it was created in."""
    from tracklet.tracking import current, fluent

    client = current.get_client()
    run_ids = fluent._detach_run(run_id)

    def end(status: str) -> None:
        for rid in run_ids:
            client.set_terminated(rid, status)

    return end


# ---------------------------------------------------------------------- RunLogger


class RunLogger:
    """Non-blocking logging for one run: params/metrics/tags are queued on the store's batching logger,
    artifacts are written at once. Invalid keys are dropped with one warning each, never silently."""

    def __init__(self, integration: str, run_id: str, config=None, reused: bool = False):
        from tracklet.tracking import current

        self.integration = integration
        self.run_id = run_id
        self.silent = bool(config and config.silent)
        self.client = current.get_client()
        # the run's artifact repository, resolved once (not a get_run per artifact): the run just opened in
        # this context is the active one, whose info we already have
        self._repo = None
        self._artifact_uri = None
        from tracklet.tracking import fluent

        active = fluent.active_run()
        if active is not None and active.info.run_id == run_id:
            self._artifact_uri = active.info.artifact_uri
        self._futures: list = []
        self._lock = threading.Lock()
        # param values the run holds: read once from the store for a run we did not create (the user may
        # have logged some), then kept up to date by log_params
        self._params: dict[str, str] | None = None if reused else {}

    def _submit(self, metrics=(), params=(), tags=()) -> None:
        if not (metrics or params or tags):
            return
        # entities were validated above: enqueue them as they are (the training thread's only cost)
        fut = self.client.batching_logger.submit(self.run_id, metrics, params, tags)
        with self._lock:
            self._futures.append(fut)

    def _dropped(self, kind: str, key, exc: Exception) -> None:
        warn_once(
            (self.integration, "drop", kind, str(key)),
            f"tracklet: {self.integration} autologging could not log {kind} {key!r}: {exc}",
            self.silent,
        )

    def log_params(self, params: dict, nested: bool = False) -> None:
        """Queue params; values are ``str()``'d, and values over 6000 characters truncated with a warning.

        A key the run already holds with the same value is not sent again; with a different value it keeps
        the run's value (a store rejects a changed param, and with it the whole batch) and is named in one
        warning -- silently when ``nested`` (an inner call of the same fit: the outer call's value wins)."""
        out, conflicts = [], []
        with self._lock:
            if self._params is None:
                self._params = dict(self.client.get_run(self.run_id).data.params)
            known = self._params
            for k, v in params.items():
                value = str(v)  # MLflow logs None as "None"
                if len(value) > V.MAX_PARAM_VALUE_LENGTH:
                    warn_once(
                        (self.integration, "truncate", str(k)),
                        f"tracklet: the value of param {k!r} has {len(value)} characters; it was truncated "
                        f"to {V.MAX_PARAM_VALUE_LENGTH}",
                        self.silent,
                    )
                    value = value[: V.MAX_PARAM_VALUE_LENGTH]
                try:
                    key, value = V.validate_param(str(k), value)
                except TrackletException as exc:
                    self._dropped("param", k, exc)
                    continue
                if key in known:
                    if known[key] != value and not nested:
                        conflicts.append(key)
                    continue
                known[key] = value
                out.append(Param(key, value))
        if conflicts:
            warn_once(
                (self.integration, "param-conflict", self.run_id),
                f"tracklet: run {self.run_id} already has params {sorted(conflicts)} with other values; "
                f"{self.integration} autologging kept those values and logged its other params",
                self.silent,
            )
        self._submit(params=out)

    def log_metrics(self, metrics: dict, step: int = 0) -> None:
        """Queue metric values at ``step`` (non-numeric values are dropped with a warning)."""
        ts = int(time.time() * 1000)
        out = []
        for k, v in metrics.items():
            try:
                if isinstance(v, bool):
                    raise TrackletException(f"metric value must be a number, got bool {v!r}", "INVALID_PARAMETER_VALUE")
                key, value, ts_, step_ = V.validate_metric(str(k), float(v), ts, int(step or 0))
            except (TrackletException, TypeError, ValueError) as exc:
                self._dropped("metric", k, exc)
                continue
            out.append(Metric(key, value, ts_, step_))
        self._submit(metrics=out)

    def set_tags(self, tags: dict) -> None:
        out = []
        for k, v in tags.items():
            try:
                key, value = V.validate_tag(str(k), "" if v is None else str(v))
            except TrackletException as exc:
                self._dropped("tag", k, exc)
                continue
            out.append(RunTag(key, value))
        self._submit(tags=out)

    def _artifacts(self):
        with self._lock:
            if self._repo is None:
                from tracklet.tracking.artifacts import get_artifact_repository

                uri = self._artifact_uri or self.client.get_run(self.run_id).info.artifact_uri
                self._repo = get_artifact_repository(uri, self.client.tracking_uri)
            return self._repo

    def log_artifact_file(self, local_path: str, artifact_path: str | None = None) -> None:
        import os

        if os.path.isfile(local_path):
            self._artifacts().log_artifact(local_path, artifact_path)
        else:  # a directory (or the client's error for a missing path)
            self.client.log_artifact(self.run_id, local_path, artifact_path)

    def log_bytes(self, data: bytes, artifact_file: str) -> None:
        """Write ``data`` as the artifact ``artifact_file`` (e.g. a PNG drawn in memory)."""
        import os
        import tempfile

        rel = V.validate_artifact_path(artifact_file)
        if not rel:
            raise InvalidParameterValue(f"artifact_file must name a file, e.g. 'dir/file.txt'; got {artifact_file!r}")
        directory, name = os.path.split(rel)
        with tempfile.TemporaryDirectory(prefix="tracklet-artifact-") as tmp:
            path = os.path.join(tmp, name)
            with open(path, "wb") as f:
                f.write(data)
            self._artifacts().log_artifact(path, directory or None)

    def log_dict(self, dictionary, artifact_file: str) -> None:
        from tracklet.tracking.client import dict_bytes

        self.log_bytes(dict_bytes(dictionary, artifact_file), artifact_file)

    def log_text(self, text: str, artifact_file: str) -> None:
        self.log_bytes(text.encode("utf-8"), artifact_file)

    def log_figure(self, figure, artifact_file: str) -> None:
        self.client.log_figure(self.run_id, figure, artifact_file)

    def flush(self) -> None:
        """Wait until everything queued is written; raise the first logging error, if any."""
        self.client.flush_async_logging()
        with self._lock:
            futures, self._futures = self._futures, []
        for fut in futures:
            exc = fut.exception() if fut.done() else None
            if exc is not None:
                raise exc


def reset_for_tests() -> None:
    """Forget this module's process-wide tables (warnings given, experiment names, fitted user runs)."""
    reset_warnings()
    _experiment_names.clear()
    with _fitted_lock:
        _fitted_user_runs.clear()


def finish_status(exc: BaseException | None) -> str:
    """The status a managed run ends with when the wrapped call raised ``exc`` (None: success)."""
    if exc is None:
        return RunStatus.FINISHED
    return RunStatus.KILLED if isinstance(exc, KeyboardInterrupt) else RunStatus.FAILED
