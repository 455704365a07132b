"""TrackletClient (exported as ``MlflowClient`` too): the explicit-run-id API over one Store.

Constructing a client does no I/O; the store is opened on first use.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from urllib.parse import quote, urlparse

from tracklet.exceptions import InvalidParameterValue
from tracklet.tracking import system_tags
from tracklet.tracking import validation as V
from tracklet.tracking.batching import BatchingLogger, logger_for, wait_for_barriers
from tracklet.tracking.entities import (
    Experiment,
    FileInfo,
    Metric,
    PagedList,
    Param,
    Run,
    RunStatus,
    RunTag,
    ViewType,
)
from tracklet.tracking.uri import get_tracking_uri


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _as_tags(tags) -> list[RunTag]:
    if tags is None:
        return []
    if isinstance(tags, dict):
        return [RunTag(k, "" if v is None else str(v)) for k, v in tags.items()]
    return [t if isinstance(t, RunTag) else RunTag(t.key, t.value) for t in tags]


def _entities(items, cls, argument: str, fields: tuple[str, ...]) -> list:
    """``items`` as a list of ``cls`` (objects with the same fields are converted); anything else is an error
    naming the argument, e.g. ``log_batch(run_id, metrics={"a": 1.0})``."""
    if items is None:
        return []
    if isinstance(items, (str, bytes, dict)) or not hasattr(items, "__iter__"):
        raise InvalidParameterValue(
            f"log_batch: {argument} must be a list of {cls.__name__}, got {type(items).__name__} {items!r:.80}"
        )
    out = []
    for item in items:
        if type(item) is not cls:
            if not all(hasattr(item, f) for f in fields):
                raise InvalidParameterValue(
                    f"log_batch: {argument} must be a list of {cls.__name__} (with {', '.join(fields)}); "
                    f"got an item {item!r:.80}"
                )
            item = cls(*(getattr(item, f) for f in fields))
        out.append(item)
    return out


def dict_bytes(dictionary, artifact_file: str) -> bytes:
    """``dictionary`` as ``log_dict`` writes it: YAML for ``.yml``/``.yaml``, else JSON."""
    if artifact_file.endswith((".yml", ".yaml")):
        import yaml

        return yaml.safe_dump(dictionary, default_flow_style=False, sort_keys=False).encode("utf-8")
    return json.dumps(dictionary, indent=2, default=str).encode("utf-8")


class TrackletClient:
    """Client for runs and experiments in one tracking store.

    >>> client = TrackletClient("sqlite:///tracklet.db")
    >>> run = client.create_run(experiment_id="0")
    >>> client.log_metric(run.info.run_id, "loss", 0.1, step=1)
    """

    def __init__(self, tracking_uri: str | None = None, registry_uri: str | None = None):
        self._tracking_uri = tracking_uri or get_tracking_uri()
        self._store = None
        self._batching: BatchingLogger | None = None

    # ------------------------------------------------------------------ plumbing
    @property
    def tracking_uri(self) -> str:
        return self._tracking_uri

    @property
    def store(self):
        if self._store is None:
            from tracklet.tracking.stores.registry import get_store

            self._store = get_store(self._tracking_uri)
        return self._store

    @property
    def batching_logger(self) -> BatchingLogger:
        """The store's batching logger, behind ``synchronous=False`` and autolog (one per store, shared by all
        clients of it; created and stopped by :mod:`tracklet.tracking.batching` with the store)."""
        lg = self._batching
        if lg is None:
            lg = self._batching = logger_for(self.store)
        return lg

    def flush_async_logging(self) -> None:
        """Block until this store's queued asynchronous logging is written (and what autologging still records
        after a fit: see ``batching.add_barrier``)."""
        wait_for_barriers()
        lg = self._batching or logger_for(self.store, create=False)
        if lg is not None:
            lg.flush()

    # ------------------------------------------------------------------ experiments
    def create_experiment(self, name: str, artifact_location: str | None = None, tags: dict | None = None) -> str:
        """Create an experiment and return its id; RESOURCE_ALREADY_EXISTS if the name is taken."""
        V.validate_experiment_name(name)
        tag_list = _as_tags(tags)
        for t in tag_list:
            V.validate_experiment_tag(t.key, t.value)
        return self.store.create_experiment(name, artifact_location, tag_list)

    def get_experiment(self, experiment_id: str) -> Experiment:
        return self.store.get_experiment(V.validate_experiment_id(experiment_id))

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        return self.store.get_experiment_by_name(name)

    def search_experiments(
        self,
        view_type: int = ViewType.ACTIVE_ONLY,
        max_results: int | None = None,
        filter_string: str | None = None,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList:
        filter_string, order_by, page_token = V.validate_search_args(filter_string, order_by, page_token)
        return self.store.search_experiments(
            ViewType.normalize(view_type),
            V.validate_max_results(max_results),
            filter_string,
            order_by,
            page_token,
        )

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        V.validate_experiment_name(new_name)
        self.store.rename_experiment(V.validate_experiment_id(experiment_id), new_name)

    def delete_experiment(self, experiment_id: str) -> None:
        self.store.delete_experiment(V.validate_experiment_id(experiment_id))

    def restore_experiment(self, experiment_id: str) -> None:
        self.store.restore_experiment(V.validate_experiment_id(experiment_id))

    def set_experiment_tag(self, experiment_id: str, key: str, value) -> None:
        key, value = V.validate_experiment_tag(key, value)
        self.store.set_experiment_tag(V.validate_experiment_id(experiment_id), RunTag(key, value))

    # ------------------------------------------------------------------ runs
    def create_run(
        self,
        experiment_id: str,
        start_time: int | None = None,
        tags: dict | None = None,
        run_name: str | None = None,
    ) -> Run:
        """Create a RUNNING run. A memorable name is generated when neither ``run_name`` nor the
        ``mlflow.runName`` tag is given."""
        tag_list = _as_tags(tags)
        given = run_name
        tag_dict, run_name = V.resolve_run_name_and_tags(tag_list, run_name)
        if given is None and not run_name:
            run_name = system_tags.generate_run_name()
        user = tag_dict.get(system_tags.USER) or system_tags.current_user()
        experiment_id = V.validate_experiment_id(experiment_id)
        return self.store.create_run(experiment_id, user, start_time or _now_ms(), tag_list, run_name)

    def get_run(self, run_id: str) -> Run:
        """The run as stored (after what autologging still records from a fit that returned)."""
        wait_for_barriers()
        return self.store.get_run(V.validate_run_id(run_id))

    def get_parent_run(self, run_id: str) -> Run | None:
        parent = self.get_run(run_id).data.tags.get(system_tags.PARENT_RUN_ID)
        return self.get_run(parent) if parent else None

    def update_run(self, run_id: str, status: str | None = None, name: str | None = None) -> None:
        status = RunStatus.normalize(status) if status is not None else None
        end_time = _now_ms() if status and RunStatus.is_terminated(status) else None
        self.store.update_run_info(V.validate_run_id(run_id), status, end_time, name)

    def set_terminated(self, run_id: str, status: str | None = None, end_time: int | None = None) -> None:
        """End a run (FINISHED by default) after writing everything queued for it."""
        self.flush_async_logging()
        status = RunStatus.normalize(status or RunStatus.FINISHED)
        self.store.update_run_info(V.validate_run_id(run_id), status, end_time or _now_ms(), None)

    def delete_run(self, run_id: str) -> None:
        self.store.delete_run(V.validate_run_id(run_id))

    def restore_run(self, run_id: str) -> None:
        self.store.restore_run(V.validate_run_id(run_id))

    def search_runs(
        self,
        experiment_ids,
        filter_string: str = "",
        run_view_type: int = ViewType.ACTIVE_ONLY,
        max_results: int = 1000,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList:
        """One page of runs matching ``filter_string`` (``.token`` is the next page's token)."""
        if isinstance(experiment_ids, (str, int)):
            experiment_ids = [experiment_ids]
        ids = [V.validate_experiment_id(e) for e in (experiment_ids or [])]
        filter_string, order_by, page_token = V.validate_search_args(filter_string, order_by, page_token)
        wait_for_barriers()
        return self.store.search_runs(
            ids,
            filter_string,
            ViewType.normalize(run_view_type),
            V.validate_max_results(max_results),
            order_by,
            page_token,
        )

    # ------------------------------------------------------------------ logging
    def log_metric(
        self,
        run_id: str,
        key: str,
        value,
        timestamp: int | None = None,
        step: int | None = None,
        synchronous: bool = True,
    ):
        key, value, timestamp, step = V.validate_metric(
            key, value, _now_ms() if timestamp is None else timestamp, step or 0
        )
        if synchronous:
            self.store.log_batch(V.validate_run_id(run_id), [Metric(key, value, timestamp, step)], [], [])
            return None
        # the training loop's path: checks are cached or constant-time, and one tuple + one handle are allocated
        return (self._batching or self.batching_logger).submit_metric(
            V.validate_run_id(run_id), key, value, timestamp, step
        )

    def log_param(self, run_id: str, key: str, value, synchronous: bool = True):
        key, value = V.validate_param(key, value)
        if synchronous:
            self.store.log_batch(V.validate_run_id(run_id), [], [Param(key, value)], [])
            return value
        return self.batching_logger.submit(V.validate_run_id(run_id), params=[Param(key, value)])

    def set_tag(self, run_id: str, key: str, value, synchronous: bool = True):
        key, value = V.validate_tag(key, value)
        if synchronous:
            self.store.log_batch(V.validate_run_id(run_id), [], [], [RunTag(key, value)])
            return None
        return self.batching_logger.submit(V.validate_run_id(run_id), tags=[RunTag(key, value)])

    def delete_tag(self, run_id: str, key: str) -> None:
        self.store.delete_tag(V.validate_run_id(run_id), key)

    def log_batch(self, run_id: str, metrics=(), params=(), tags=(), synchronous: bool = True):
        """Log many entities at once; with ``synchronous=True`` all or nothing is written."""
        metrics = _entities(metrics, Metric, "metrics", ("key", "value", "timestamp", "step"))
        params = [
            p if type(p.value) is str else Param(p.key, "" if p.value is None else str(p.value))
            for p in _entities(params, Param, "params", ("key", "value"))
        ]
        tags = _as_tags(tags) if isinstance(tags, dict) else _entities(tags, RunTag, "tags", ("key", "value"))
        if synchronous:
            V.validate_batch(metrics, params, tags)
            self.store.log_batch(V.validate_run_id(run_id), metrics, params, tags)
            return None
        # checked now, so a bad entity fails this call rather than the queued batch; stored as normalized
        metrics = [Metric(*V.validate_metric(m.key, m.value, m.timestamp, m.step)) for m in metrics]
        for p in params:
            V.validate_param(p.key, p.value)
        for t in tags:
            V.validate_tag(t.key, t.value)
        return self.batching_logger.submit(V.validate_run_id(run_id), metrics, params, tags)

    def log_inputs(self, run_id: str, datasets=None) -> None:
        self.store.log_inputs(V.validate_run_id(run_id), list(datasets or []))

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        self.flush_async_logging()
        return self.store.get_metric_history(V.validate_run_id(run_id), key)

    def get_metric_history_bulk_interval(
        self, run_ids: list[str], metric_key: str, max_results: int, start_step=None, end_step=None
    ) -> list:
        """At most ``max_results`` points of ``metric_key`` per run (``MetricWithRunId``), keeping every step
        bucket's min and max; ``start_step``/``end_step`` bound the steps (inclusive)."""
        self.flush_async_logging()
        return self.store.get_metric_history_bulk_interval(run_ids, metric_key, max_results, start_step, end_step)

    def _record_logged_model(self, run_id: str, model_dict: dict) -> None:
        """Append one entry to the run's ``mlflow.log-model.history`` tag."""
        self.store.record_logged_model(V.validate_run_id(run_id), model_dict)

    # ------------------------------------------------------------------ artifacts
    def _artifact_repo(self, run_id: str):
        from tracklet.tracking.artifacts import get_artifact_repository

        # the store's get_run: writing an artifact need not wait for the barriers, only reading does
        run = self.store.get_run(V.validate_run_id(run_id))
        return get_artifact_repository(run.info.artifact_uri, self.tracking_uri)

    def log_artifact(self, run_id: str, local_path: str, artifact_path: str | None = None) -> None:
        """Copy a file (or a directory, as a subdirectory) into the run's artifacts."""
        repo = self._artifact_repo(run_id)
        if os.path.isdir(local_path):
            name = os.path.basename(os.path.normpath(local_path))
            repo.log_artifacts(local_path, f"{artifact_path}/{name}" if artifact_path else name)
        elif os.path.isfile(local_path):
            repo.log_artifact(local_path, artifact_path)
        else:
            raise InvalidParameterValue(f"log_artifact: local_path {local_path!r} does not exist")

    def log_artifacts(self, run_id: str, local_dir: str, artifact_path: str | None = None) -> None:
        self._artifact_repo(run_id).log_artifacts(local_dir, artifact_path)

    def log_text(self, run_id: str, text: str, artifact_file: str) -> None:
        self._log_bytes(run_id, text.encode("utf-8"), artifact_file)

    def log_dict(self, run_id: str, dictionary, artifact_file: str) -> None:
        """``.yml``/``.yaml`` as YAML, anything else as JSON."""
        self._log_bytes(run_id, dict_bytes(dictionary, artifact_file), artifact_file)

    def _log_bytes(self, run_id: str, data: bytes, artifact_file: str) -> None:
        rel = V.validate_artifact_path(artifact_file)
        if not rel:
            raise InvalidParameterValue("artifact_file must name a file, e.g. 'dir/file.txt'")
        directory, name = os.path.split(rel)
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, name)
            with open(path, "wb") as f:
                f.write(data)
            self._artifact_repo(run_id).log_artifact(path, directory or None)

    def log_figure(self, run_id: str, figure, artifact_file: str) -> None:
        from tracklet.tracking._media import save_figure

        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, os.path.basename(artifact_file))
            save_figure(figure, path)
            self._artifact_repo(run_id).log_artifact(
                path, os.path.dirname(V.validate_artifact_path(artifact_file)) or None
            )

    def log_image(self, run_id: str, image, artifact_file: str) -> None:
        from tracklet.tracking._media import save_image

        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, os.path.basename(artifact_file))
            save_image(image, path)
            self._artifact_repo(run_id).log_artifact(
                path, os.path.dirname(V.validate_artifact_path(artifact_file)) or None
            )

    def list_artifacts(self, run_id: str, path: str | None = None) -> list[FileInfo]:
        wait_for_barriers()
        return self._artifact_repo(run_id).list_artifacts(path)

    def download_artifacts(self, run_id: str, path: str, dst_path: str | None = None) -> str:
        wait_for_barriers()
        return self._artifact_repo(run_id).download_artifacts(path, dst_path)

    def get_artifact_uri(self, run_id: str, artifact_path: str | None = None) -> str:
        uri = self.get_run(run_id).info.artifact_uri
        rel = V.validate_artifact_path(artifact_path)
        if rel and urlparse(uri).scheme == "file":  # file URIs are percent-decoded: encode so it decodes to itself
            rel = quote(rel)
        return f"{uri.rstrip('/')}/{rel}" if rel else uri

    # ------------------------------------------------------------------ maintenance
    def gc(self, run_ids: list[str] | None = None, experiment_ids: list[str] | None = None) -> list[str]:
        """Permanently remove deleted runs (all, those of ``experiment_ids``, or ``run_ids``) and their
        artifacts; returns the removed ids (a list whose ``.skipped`` maps each run left in place to why).
        Every id is checked before anything is removed; an empty list is an error, not "all"."""
        from tracklet.tracking.artifacts.gc import collect_garbage

        return collect_garbage(self, run_ids, experiment_ids)


MlflowClient = TrackletClient
