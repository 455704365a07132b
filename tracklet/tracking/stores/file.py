"""FileStore: the tracking store as an MLflow-compatible ``mlruns`` folder.

Layout (what MLflow's own file store reads and writes)::

    <root>/<experiment_id>/meta.yaml, tags/<key>
    <root>/<experiment_id>/<run_id>/meta.yaml           status as an integer, run_name, ...
    <root>/<experiment_id>/<run_id>/metrics/<key>        "<timestamp_ms> <value> <step>" lines, appended
    <root>/<experiment_id>/<run_id>/params/<key>         raw value, no newline
    <root>/<experiment_id>/<run_id>/tags/<key>           raw value, no newline
    <root>/<experiment_id>/<run_id>/artifacts/
    <root>/.trash/<experiment_id>/...                    deleted experiments

Unlike MLflow's store it remembers which experiment holds each run (no scan of every experiment per
call), writes ``meta.yaml``/params/tags atomically, appends each metric key once per batch, validates a
whole batch before writing any of it, and serializes read-modify-write steps with a per-run lock that
works across threads and processes. Searches read only the files the filter and order_by need, and load
fully only the runs of the returned page.

Modules: this one (opening, run lookup, run lifecycle), :mod:`.file_experiments` (experiments),
:mod:`.file_logging` (log_batch, tags, history), :mod:`.file_search` (search_runs), :mod:`.file_io`
(YAML, atomic writes, key files, locks) and :mod:`.file_cache` (metric lines, stat-validated caches).
"""

from __future__ import annotations

import contextlib
import functools
import os
import pathlib
import re
import shutil
import uuid
from dataclasses import replace
from urllib.parse import unquote, urlparse

from tracklet.exceptions import InvalidParameterValue, InvalidState, ResourceDoesNotExist
from tracklet.tracking import validation
from tracklet.tracking.entities import (
    LifecycleStage,
    Metric,
    PagedList,
    Run,
    RunInfo,
    RunStatus,
    RunTag,
    make_run_data,
)
from tracklet.tracking.stores import file_cache as fc
from tracklet.tracking.stores import file_io as fio
from tracklet.tracking.stores.base import Store, now_ms
from tracklet.tracking.stores.file_experiments import RESERVED_EXPERIMENT, RESERVED_ROOT, ExperimentMethods
from tracklet.tracking.stores.file_inputs import InputMethods, load_run_inputs
from tracklet.tracking.stores.file_logging import (
    METRICS,
    PARAMS,
    RUN_NAME_TAG,
    TAGS,
    LoggingMethods,
    check_active,
)

ARTIFACTS = "artifacts"
_RUN_ID_RE = re.compile(r"^[a-zA-Z0-9][\w\-]{0,255}$")
_ACTIVE, _DELETED = LifecycleStage.ACTIVE, LifecycleStage.DELETED


def _parse_run_info(meta_path: str) -> RunInfo | None:
    """RunInfo from a run's meta.yaml (None when it is empty or malformed); accepts MLflow 1.x-3.x files."""
    meta = fio.load_yaml(meta_path)
    if meta is None:
        return None
    try:
        status = meta.get("status", 1)
        status = RunStatus.from_int(status) if isinstance(status, int) else RunStatus.normalize(status)
        end_time = meta.get("end_time")
        return RunInfo(
            run_id=str(meta.get("run_id") or meta.get("run_uuid") or os.path.basename(os.path.dirname(meta_path))),
            experiment_id=str(meta["experiment_id"]),
            user_id=str(meta.get("user_id") or ""),
            status=status,
            start_time=int(meta.get("start_time") or 0),
            end_time=None if end_time is None else int(end_time),
            artifact_uri=str(meta.get("artifact_uri") or ""),
            lifecycle_stage=str(meta.get("lifecycle_stage") or _ACTIVE),
            run_name=str(meta.get("run_name") or ""),
        )
    except (KeyError, TypeError, ValueError, InvalidParameterValue):
        return None


class FileStore(LoggingMethods, InputMethods, ExperimentMethods, Store):
    """Tracking store on a local ``mlruns`` folder that MLflow can read and write too.

    ``root_dir`` is a path or ``file://`` URI (created if missing). ``default_artifact_root`` is where
    experiments created without an artifact location put artifacts (``<root>/<experiment_id>``);
    by default the ``mlruns`` folder itself, as a ``file://`` URI, like MLflow.
    """

    def __init__(self, root_dir: str, default_artifact_root: str | None = None):
        if root_dir.startswith("file:"):
            root_dir = unquote(urlparse(root_dir).path)
        self.root_directory = os.path.abspath(root_dir)
        self.trash_folder = os.path.join(self.root_directory, ".trash")
        if not default_artifact_root:
            default_artifact_root = pathlib.Path(self.root_directory).as_uri()
        elif "://" not in default_artifact_root and not default_artifact_root.startswith("file:"):
            default_artifact_root = pathlib.Path(os.path.abspath(default_artifact_root)).as_uri()
        self.artifact_root_uri = default_artifact_root
        self._run_experiment: dict[str, str] = {}  # run_id -> experiment id: no scan per call
        self._run_infos = fc.StatCache(_parse_run_info)
        self._exp_meta_cache = fc.StatCache(fio.load_yaml)
        self._latest = fc.LatestMetricCache()
        self._params = fc.ImmutableFileCache()
        self._checked_keys: set[str] = set()  # metric files known to be valid paths (not a dir, no file prefix)
        os.makedirs(self.trash_folder, exist_ok=True)
        self._ensure_default_experiment()

    @functools.cached_property
    def logged_models(self):
        """MLflow 3 logged models under ``<experiment>/models/`` (``stores/file_logged_models.py``)."""
        from tracklet.tracking.stores.file_logged_models import FileLoggedModels

        return FileLoggedModels(self)

    def close(self) -> None:
        """Drop the in-memory caches (nothing else is held open)."""
        self._run_infos.clear()
        self._exp_meta_cache.clear()
        self._latest.clear()
        self._params.clear()
        self._checked_keys.clear()

    # ------------------------------------------------------------------ locating runs
    def _run_dirs_of(self, experiment_path: str) -> list[str]:
        """Run folders of an experiment folder (those with a meta.yaml are runs)."""
        try:
            entries = list(os.scandir(experiment_path))
        except FileNotFoundError:
            return []
        return [
            e.path for e in entries if not e.name.startswith(".") and e.name not in RESERVED_EXPERIMENT and e.is_dir()
        ]

    def _run_info_at(self, run_dir: str) -> RunInfo | None:
        try:
            return self._run_infos.get(os.path.join(run_dir, fio.META))
        except (FileNotFoundError, NotADirectoryError):
            return None

    def _locate(self, run_id: str) -> tuple[str, RunInfo]:
        """(run folder, RunInfo) of ``run_id``: the cached experiment first, a scan on a miss."""
        if not isinstance(run_id, str) or not _RUN_ID_RE.match(run_id):
            raise ResourceDoesNotExist(f"Run with id={run_id} not found")
        bases = (self.root_directory, self.trash_folder)
        eid = self._run_experiment.get(run_id)
        if eid is not None:
            for base in bases:
                run_dir = os.path.join(base, eid, run_id)
                info = self._run_info_at(run_dir)
                if info is not None:
                    return run_dir, info
        for base in bases:  # created by another process or store, or moved: look in every experiment
            try:
                names = os.listdir(base)
            except FileNotFoundError:
                continue
            for name in names:
                if name.startswith(".") or name in RESERVED_ROOT:
                    continue
                run_dir = os.path.join(base, name, run_id)
                info = self._run_info_at(run_dir)
                if info is not None:
                    self._run_experiment[run_id] = name
                    return run_dir, info
        raise ResourceDoesNotExist(f"Run with id={run_id} not found")

    def _named(self, run_dir: str, info: RunInfo) -> RunInfo:
        """Runs written before run_name was in meta.yaml take their name from the mlflow.runName tag."""
        if info.run_name:
            return info
        name = fio.read_text(os.path.join(run_dir, TAGS, RUN_NAME_TAG))
        return replace(info, run_name=name) if name else info

    def _run_lock(self, run_dir: str):
        return fio.locked(os.path.join(run_dir, fio.LOCK_FILE))

    @contextlib.contextmanager
    def _locked_run(self, run_id: str):
        """Hold the run's lock; yields (run folder, RunInfo) read under it. If the run's experiment is moved
        to or from .trash meanwhile (only ever done under the root lock), follow it."""
        for _ in range(10):
            run_dir, _ = self._locate(run_id)
            try:
                handle = fio.acquire(os.path.join(run_dir, fio.LOCK_FILE))
            except FileNotFoundError:
                continue
            try:
                here, info = self._locate(run_id)
                if here != run_dir:
                    continue
                yield run_dir, info
                return
            finally:
                fio.release(handle)
        raise InvalidState(f"Run {run_id} kept moving while waiting for its lock")

    def _rewrite_run_meta(self, run_dir: str, **changes) -> RunInfo:
        """Read-modify-write meta.yaml atomically; call with the run lock held. Unknown keys are kept."""
        meta_path = os.path.join(run_dir, fio.META)
        meta = fio.load_yaml(meta_path)
        if meta is None:
            raise InvalidState(f"Run metadata in '{run_dir}' is missing or malformed")
        for key, value in changes.items():
            if value is _REMOVE:
                meta.pop(key, None)
            else:
                meta[key] = value
        fio.atomic_write(meta_path, fio.dump_yaml(meta), run_dir)
        self._run_infos.forget(meta_path)
        return _parse_run_info(meta_path)

    def _set_run_lifecycle(
        self,
        run_dir: str,
        stage: str,
        deleted_time: int | None,
        only_if: str,
        deleted_since: int | None = None,
    ) -> None:
        """Experiment deletion/restore (under the root lock): flip one run's stage if it is ``only_if``."""
        with self._run_lock(run_dir):
            info = self._run_info_at(run_dir)
            if info is None or info.lifecycle_stage != only_if:
                return
            if deleted_since is not None:
                meta = fio.load_yaml(os.path.join(run_dir, fio.META)) or {}
                if int(meta.get("deleted_time") or 0) < deleted_since:
                    return  # deleted before the experiment was: stays deleted
            self._rewrite_run_meta(
                run_dir, lifecycle_stage=stage, deleted_time=_REMOVE if deleted_time is None else deleted_time
            )

    # ------------------------------------------------------------------ runs
    def create_run(
        self, experiment_id: str, user_id: str, start_time: int, tags: list[RunTag], run_name: str | None
    ) -> Run:
        """Create a RUNNING run; ``run_name`` and the ``mlflow.runName`` tag are kept equal."""
        tag_map, run_name = validation.resolve_run_name_and_tags(tags, run_name)
        conflict = fio.batch_key_conflict(tag_map)
        if conflict:
            raise InvalidParameterValue(f"Invalid run tags: {conflict}")
        run_id = uuid.uuid4().hex
        start_time = now_ms() if start_time is None else int(start_time)
        with self._root_lock():  # no run may appear in an experiment while it is being deleted
            exp, exp_path = self._experiment(experiment_id)
            if exp.lifecycle_stage != _ACTIVE:
                raise InvalidState(
                    f"The experiment {experiment_id} must be in the 'active' state to create runs in it. "
                    f"Current state is {exp.lifecycle_stage}."
                )
            run_dir = os.path.join(exp_path, run_id)
            os.mkdir(run_dir)
            for sub in (METRICS, PARAMS, TAGS, ARTIFACTS):  # MLflow checks these exist
                os.mkdir(os.path.join(run_dir, sub))
            for key, value in tag_map.items():
                fio.atomic_write(fio.key_path(os.path.join(run_dir, TAGS), key), value, run_dir)
            info = RunInfo(
                run_id=run_id,
                experiment_id=exp.experiment_id,
                user_id=user_id or "",
                status=RunStatus.RUNNING,
                start_time=start_time,
                end_time=None,
                artifact_uri=f"{exp.artifact_location.rstrip('/')}/{run_id}/artifacts",
                lifecycle_stage=_ACTIVE,
                run_name=run_name,
            )
            meta = {
                "artifact_uri": info.artifact_uri,
                "end_time": None,
                "entry_point_name": "",
                "experiment_id": info.experiment_id,
                "lifecycle_stage": _ACTIVE,
                "run_id": run_id,
                "run_uuid": run_id,
                "run_name": run_name,
                "source_name": "",
                "source_type": 4,
                "source_version": "",
                "start_time": start_time,
                "status": RunStatus.to_int(info.status),
                "tags": [],
                "user_id": info.user_id,
            }
            fio.atomic_write(os.path.join(run_dir, fio.META), fio.dump_yaml(meta), run_dir)  # last
        self._run_experiment[run_id] = exp.experiment_id
        return Run(info=info, data=make_run_data([], {}, tag_map))

    def get_run(self, run_id: str) -> Run:
        """The run with each metric's latest value, its params and tags (active or deleted)."""
        return self._load_run(*self._locate(run_id))

    def _load_run(self, run_dir: str, info: RunInfo) -> Run:
        metrics_dir = os.path.join(run_dir, METRICS)
        metrics = []
        for key in sorted(fio.list_keys(metrics_dir)):
            row = self._latest.latest(fio.key_path(metrics_dir, key))
            if row is not None:
                metrics.append(Metric(key, row[1], row[0], row[2]))
        params_dir = os.path.join(run_dir, PARAMS)
        params = {key: self._params.get(fio.key_path(params_dir, key)) for key in fio.list_keys(params_dir)}
        params = {k: v for k, v in params.items() if v is not None}
        tags = fio.read_key_files(os.path.join(run_dir, TAGS))
        if not info.run_name and tags.get(RUN_NAME_TAG):
            info = replace(info, run_name=tags[RUN_NAME_TAG])
        return Run(info=info, data=make_run_data(metrics, params, tags), inputs=load_run_inputs(run_dir))

    def update_run_info(
        self, run_id: str, run_status: str | None, end_time: int | None, run_name: str | None
    ) -> RunInfo:
        """Set the status, end time and/or name (None leaves a field unchanged)."""
        changes: dict = {}
        if run_status is not None:
            changes["status"] = RunStatus.to_int(RunStatus.normalize(run_status))
        if end_time is not None:
            changes["end_time"] = int(end_time)
        if run_name:
            validation.validate_tag(RUN_NAME_TAG, run_name)
            changes["run_name"] = str(run_name)
        with self._locked_run(run_id) as (run_dir, info):
            check_active(info)
            if run_name:
                fio.atomic_write(os.path.join(run_dir, TAGS, RUN_NAME_TAG), str(run_name), run_dir)
            if changes:
                info = self._rewrite_run_meta(run_dir, **changes)
        return self._named(run_dir, info)

    def delete_run(self, run_id: str) -> None:
        """Soft-delete: lifecycle_stage 'deleted' and deleted_time in meta.yaml."""
        with self._locked_run(run_id) as (run_dir, _):
            self._rewrite_run_meta(run_dir, lifecycle_stage=_DELETED, deleted_time=now_ms())

    def restore_run(self, run_id: str) -> None:
        """Undo :meth:`delete_run` (deleted_time is removed)."""
        with self._locked_run(run_id) as (run_dir, _):
            self._rewrite_run_meta(run_dir, lifecycle_stage=_ACTIVE, deleted_time=_REMOVE)

    def hard_delete_run(self, run_id: str) -> None:
        """Remove the run's folder (metrics, params, tags, meta; artifacts under it too)."""
        run_dir, _ = self._locate(run_id)
        shutil.rmtree(run_dir)
        self._run_infos.forget(os.path.join(run_dir, fio.META))
        self._params.forget_prefix(run_dir + os.sep)
        self._run_experiment.pop(run_id, None)

    # ------------------------------------------------------------------ search
    def search_runs(
        self,
        experiment_ids: list[str],
        filter_string: str | None,
        run_view_type: int,
        max_results: int = validation.MAX_RESULTS_DEFAULT,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList:
        """Runs of ``experiment_ids`` matching ``filter_string``, sorted and paged.

        Reads only meta.yaml and the metric/param/tag files the filter and order_by name, then loads
        the page's runs fully."""
        from tracklet.tracking.stores.file_search import search_runs

        return search_runs(self, experiment_ids, filter_string, run_view_type, max_results, order_by, page_token)


class _Remove:
    """Marker: drop this key from meta.yaml."""


_REMOVE = _Remove()
