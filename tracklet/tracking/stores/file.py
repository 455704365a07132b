"""FileStore: the tracking store as an MLflow-compatible ``mlruns`` folder.

Layout (what MLflow's own file store reads and writes)::

    <root>/<experiment_id>/meta.yaml, tags/<key>
    <root>/<experiment_id>/<run_id>/meta.yaml           status as an integer, run_name, ...
    <root>/<experiment_id>/<run_id>/metrics/<key>        "<timestamp_ms> <value> <step>" lines, appended
    <root>/<experiment_id>/<run_id>/params/<key>         raw value, no newline
    <root>/<experiment_id>/<run_id>/tags/<key>           raw value, no newline
    <root>/<experiment_id>/<run_id>/artifacts/
    <root>/<experiment_id>/.batch-<run_id>               journal of the batch being written (a file:
                                                         MLflow, which lists folders, never reads it)
    <root>/.trash/<experiment_id>/...                    deleted experiments

Unlike MLflow's store it remembers which experiment holds each run (no scan of every experiment per
call), writes ``meta.yaml``/params/tags atomically, validates a whole batch -- including what the file
system can store -- before writing any of it, writes each batch through a journal so it is all or nothing
even after kill -9, serializes writers with a per-run lock that works across threads and processes, and
reports unreadable files once instead of failing. Searches read only the files the filter and order_by
need, and load fully only the runs of the returned page.

The parts, each given the shared :class:`~.file_layout.RunLayout` explicitly: :mod:`.file_experiments`
(experiments), :mod:`.file_runs` (run lifecycle), :mod:`.file_logging` (batches, tags, history),
:mod:`.file_inputs` (datasets), :mod:`.file_search` (search_runs); below them :mod:`.file_layout` (paths,
lookup, locks, corruption reports), :mod:`.file_journal` (crash safety), :mod:`.file_lock` (the lock),
:mod:`.file_io` (YAML, atomic writes, key files) and :mod:`.file_cache` (metric lines, stat-validated caches).
"""

from __future__ import annotations

import functools
import os
import pathlib
from urllib.parse import unquote, urlparse

from tracklet.tracking import validation
from tracklet.tracking.entities import (
    Experiment,
    Metric,
    MetricHistory,
    MetricWithRunId,
    PagedList,
    Param,
    Run,
    RunInfo,
    RunTag,
)
from tracklet.tracking.stores import file_buckets, file_search
from tracklet.tracking.stores.base import Store, validate_bulk_interval
from tracklet.tracking.stores.file_experiments import ExperimentStore
from tracklet.tracking.stores.file_inputs import log_inputs
from tracklet.tracking.stores.file_layout import RunLayout, StoreCorruptionWarning
from tracklet.tracking.stores.file_logging import RunWriter
from tracklet.tracking.stores.file_runs import RunStore

__all__ = ["FileStore", "StoreCorruptionWarning"]


class FileStore(Store):
    """Tracking store on a local ``mlruns`` folder that MLflow can read and write too.

    ``root_dir`` is a path or ``file://`` URI (created if missing). ``default_artifact_root`` is where
    experiments created without an artifact location put artifacts (``<root>/<experiment_id>``);
    by default the ``mlruns`` folder itself, as a ``file://`` URI, like MLflow.
    """

    def __init__(self, root_dir: str, default_artifact_root: str | None = None):
        if root_dir.startswith("file:"):
            root_dir = unquote(urlparse(root_dir).path)
        root = os.path.abspath(root_dir)
        if not default_artifact_root:
            default_artifact_root = pathlib.Path(root).as_uri()
        elif "://" not in default_artifact_root and not default_artifact_root.startswith("file:"):
            default_artifact_root = pathlib.Path(os.path.abspath(default_artifact_root)).as_uri()
        self._layout = RunLayout(root, default_artifact_root)
        self._experiments = ExperimentStore(self._layout)
        self._writer = RunWriter(self._layout)
        self._runs = RunStore(self._layout, self._experiments, self._writer)
        os.makedirs(self._layout.trash, exist_ok=True)
        self._experiments.ensure_default()

    @property
    def root_directory(self) -> str:
        """Absolute path of the ``mlruns`` folder."""
        return self._layout.root

    @property
    def trash_folder(self) -> str:
        """Where deleted experiments are moved (``<root>/.trash``)."""
        return self._layout.trash

    @property
    def artifact_root_uri(self) -> str:
        """Where experiments created without an artifact location put their artifacts."""
        return self._layout.artifact_root_uri

    @functools.cached_property
    def logged_models(self):
        """MLflow 3 logged models under ``<experiment>/models/`` (``stores/file_logged_models.py``)."""
        from tracklet.tracking.stores.file_logged_models import FileLoggedModels

        return FileLoggedModels(self)

    def close(self) -> None:
        """Drop the in-memory caches (nothing else is held open)."""
        self._layout.clear_caches()

    # ------------------------------------------------------------------ experiments
    def create_experiment(
        self, name: str, artifact_location: str | None = None, tags: list[RunTag] | None = None
    ) -> str:
        """Create an active experiment; its id is the largest numeric id in use plus one.
        RESOURCE_ALREADY_EXISTS if the name is taken, even by a deleted experiment."""
        return self._experiments.create_experiment(name, artifact_location, tags)

    def get_experiment(self, experiment_id: str) -> Experiment:
        """The experiment (active or deleted); RESOURCE_DOES_NOT_EXIST if unknown."""
        return self._experiments.get_experiment(experiment_id)

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        """The experiment called ``name`` (active or deleted), or None."""
        return self._experiments.get_experiment_by_name(name)

    def search_experiments(
        self,
        view_type: int = 1,
        max_results: int = validation.MAX_RESULTS_DEFAULT,
        filter_string: str | None = None,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList:
        """Experiments matching ``filter_string``, sorted by ``order_by`` (default: newest first), paged;
        an experiment whose meta.yaml cannot be read is skipped with one warning."""
        return self._experiments.search_experiments(view_type, max_results, filter_string, order_by, page_token)

    def delete_experiment(self, experiment_id: str) -> None:
        """Mark the experiment and its active runs deleted, then move its folder to ``.trash``."""
        self._experiments.delete_experiment(experiment_id)

    def restore_experiment(self, experiment_id: str) -> None:
        """Move the experiment back from ``.trash`` and restore the runs its deletion deleted."""
        self._experiments.restore_experiment(experiment_id)

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        """Rename an active experiment; RESOURCE_ALREADY_EXISTS if ``new_name`` is taken."""
        self._experiments.rename_experiment(experiment_id, new_name)

    def set_experiment_tag(self, experiment_id: str, tag: RunTag) -> None:
        """Set (or overwrite) a tag of an active experiment."""
        self._experiments.set_experiment_tag(experiment_id, tag)

    def delete_experiment_tag(self, experiment_id: str, key: str) -> None:
        """Remove a tag of an active experiment; RESOURCE_DOES_NOT_EXIST if it has no such tag."""
        self._experiments.delete_experiment_tag(experiment_id, key)

    # ------------------------------------------------------------------ runs
    def create_run(
        self, experiment_id: str, user_id: str, start_time: int, tags: list[RunTag], run_name: str | None
    ) -> Run:
        """Create a RUNNING run; ``run_name`` and the ``mlflow.runName`` tag are kept equal."""
        return self._runs.create_run(experiment_id, user_id, start_time, tags, run_name)

    def get_run(self, run_id: str) -> Run:
        """The run with each metric's latest value, its params and tags (active or deleted); a
        TrackletException naming its meta.yaml if that cannot be read."""
        return self._runs.get_run(run_id)

    def update_run_info(
        self, run_id: str, run_status: str | None, end_time: int | None, run_name: str | None
    ) -> RunInfo:
        """Set the status, end time and/or name (None leaves a field unchanged)."""
        return self._runs.update_run_info(run_id, run_status, end_time, run_name)

    def delete_run(self, run_id: str) -> None:
        """Soft-delete: lifecycle_stage 'deleted' and deleted_time in meta.yaml."""
        self._runs.delete_run(run_id)

    def restore_run(self, run_id: str) -> None:
        """Undo :meth:`delete_run`."""
        self._runs.restore_run(run_id)

    def hard_delete_run(self, run_id: str) -> None:
        """Remove the run's folder (metrics, params, tags, meta; artifacts under it too)."""
        self._runs.hard_delete_run(run_id)

    # ------------------------------------------------------------------ logging
    def log_batch(self, run_id: str, metrics: list[Metric], params: list[Param], tags: list[RunTag]) -> None:
        """Validate the whole batch, then write it all or nothing (also after a crash)."""
        self._writer.log_batch(run_id, metrics, params, tags)

    def delete_tag(self, run_id: str, key: str) -> None:
        """Remove a run tag; RESOURCE_DOES_NOT_EXIST if the run has no such tag."""
        self._writer.delete_tag(run_id, key)

    def get_metric_history(self, run_id: str, key: str) -> MetricHistory:
        """Every logged value of ``key``, ordered by (step, timestamp) (file order on ties)."""
        return self._writer.get_metric_history(run_id, key)

    def get_metric_history_bulk_interval(
        self,
        run_ids: list[str],
        metric_key: str,
        max_results: int,
        start_step: int | None = None,
        end_step: int | None = None,
    ) -> list[MetricWithRunId]:
        """At most ``max_results`` points per run keeping each step bucket's min and max (see
        :meth:`Store.get_metric_history_bulk_interval`), read from per-bucket summaries kept beside each
        metric file (:mod:`.file_buckets`), so a long history is not parsed again on every read."""
        run_ids, max_results, start, end = validate_bulk_interval(run_ids, max_results, start_step, end_step)
        low, high = -(2**63) if start is None else start, 2**63 - 1 if end is None else end
        out = []
        for run_id in run_ids:
            run_dir, path = self._writer.metric_file(run_id, metric_key)
            try:
                points = file_buckets.downsampled(path, run_dir, metric_key, low, high, max_results) if path else []
            except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
                points = []
            out += [MetricWithRunId(metric_key, v, ts, step, run_id) for v, step, ts in points]
        return out

    def record_logged_model(self, run_id: str, model_dict: dict) -> None:
        """Append ``model_dict`` to the ``mlflow.log-model.history`` tag (concurrent appends all land)."""
        self._writer.record_logged_model(run_id, model_dict)

    def log_inputs(self, run_id: str, datasets: list) -> None:
        """Write each dataset once per experiment and link each (dataset, context) once to the run."""
        log_inputs(self._layout, run_id, datasets)

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
        """Runs of ``experiment_ids`` matching ``filter_string``, sorted and paged. Reads only meta.yaml and
        the metric/param/tag files the filter and order_by name, then loads the page's runs fully; a run
        whose meta.yaml cannot be read is skipped with one warning."""
        return file_search.search_runs(
            self._layout, experiment_ids, filter_string, run_view_type, max_results, order_by, page_token
        )
