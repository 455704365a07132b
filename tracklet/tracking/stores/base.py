"""The Store contract every tracking store implements (file, SQL, REST).

Rules every implementation follows (the contract suite in tests/stores checks them):

* ids are strings; experiment "0" named "Default" exists in every fresh store and cannot be deleted;
* ``log_batch`` validates the whole batch first (``validation.validate_batch``) and writes all or nothing;
  re-logging a param with a different value raises INVALID_PARAMETER_VALUE; writing to a deleted run
  raises INVALID_STATE; unknown ids raise RESOURCE_DOES_NOT_EXIST;
* ``get_run`` returns each metric's latest value (max by step, timestamp, value);
* setting the tag ``mlflow.runName`` also renames the run (``RunInfo.run_name``) and vice versa;
* searches take the AST of ``tracking/search.py``; results are paged with opaque tokens;
* every method is safe to call from several threads.
"""

from __future__ import annotations

import abc
import numbers
import time
import typing

from tracklet.exceptions import InvalidParameterValue
from tracklet.tracking import validation
from tracklet.tracking.entities import Experiment, Metric, MetricWithRunId, PagedList, Param, Run, RunInfo, RunTag
from tracklet.tracking.stores import downsample


def now_ms() -> int:
    return int(time.time() * 1000)


def _step_bound(name: str, value) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InvalidParameterValue(f"Invalid {name} {value!r}: must be an integer step or None")
    return int(value)


def validate_bulk_interval(run_ids, max_results, start_step, end_step) -> tuple[list[str], int, int | None, int | None]:
    """Check the arguments of ``get_metric_history_bulk_interval`` (run ids deduplicated, in order)."""
    if isinstance(run_ids, str) or not isinstance(run_ids, (list, tuple)) or not run_ids:
        raise InvalidParameterValue(f"Invalid run_ids {run_ids!r}: must be a non-empty list of run IDs")
    if len(run_ids) > downsample.MAX_RUN_IDS:
        raise InvalidParameterValue(f"Invalid run_ids: {len(run_ids)} given, at most {downsample.MAX_RUN_IDS}")
    run_ids = list(dict.fromkeys(validation.validate_run_id(r) for r in run_ids))
    if isinstance(max_results, bool) or not isinstance(max_results, numbers.Integral):
        raise InvalidParameterValue(f"Invalid max_results {max_results!r}: must be an integer")
    if max_results < downsample.MIN_POINTS:
        raise InvalidParameterValue(
            f"Invalid max_results {max_results}: must be at least {downsample.MIN_POINTS} "
            "(each bucket keeps its min and max, and a range across step 0 has two buckets)"
        )
    if max_results > downsample.MAX_POINTS:
        raise InvalidParameterValue(f"Invalid max_results {max_results}: must be at most {downsample.MAX_POINTS}")
    start, end = _step_bound("start_step", start_step), _step_bound("end_step", end_step)
    if start is not None and end is not None and start > end:
        raise InvalidParameterValue(f"Invalid step range: start_step {start} is after end_step {end}")
    return run_ids, int(max_results), start, end


class Store(abc.ABC):
    """Abstract tracking store. ``artifact_root_uri`` is where new experiments put artifacts."""

    # ---- experiments
    @abc.abstractmethod
    def create_experiment(
        self, name: str, artifact_location: str | None = None, tags: list[RunTag] | None = None
    ) -> str:
        """Create an experiment; RESOURCE_ALREADY_EXISTS if an experiment (even deleted) has that name."""

    @abc.abstractmethod
    def get_experiment(self, experiment_id: str) -> Experiment: ...

    @abc.abstractmethod
    def get_experiment_by_name(self, name: str) -> Experiment | None: ...

    @abc.abstractmethod
    def search_experiments(
        self,
        view_type: int = 1,
        max_results: int = 1000,
        filter_string: str | None = None,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList: ...

    @abc.abstractmethod
    def delete_experiment(self, experiment_id: str) -> None:
        """Soft-delete the experiment and mark its active runs deleted."""

    @abc.abstractmethod
    def restore_experiment(self, experiment_id: str) -> None: ...

    @abc.abstractmethod
    def rename_experiment(self, experiment_id: str, new_name: str) -> None: ...

    @abc.abstractmethod
    def set_experiment_tag(self, experiment_id: str, tag: RunTag) -> None: ...

    def delete_experiment_tag(self, experiment_id: str, key: str) -> None:
        raise NotImplementedError

    # ---- runs
    @abc.abstractmethod
    def create_run(
        self, experiment_id: str, user_id: str, start_time: int, tags: list[RunTag], run_name: str | None
    ) -> Run:
        """Create a RUNNING run. ``run_name`` (or the ``mlflow.runName`` tag) names it; the store writes the
        ``mlflow.runName`` tag so the two always agree. Experiment must be active (else INVALID_STATE)."""

    @abc.abstractmethod
    def get_run(self, run_id: str) -> Run: ...

    @abc.abstractmethod
    def update_run_info(
        self, run_id: str, run_status: str | None, end_time: int | None, run_name: str | None
    ) -> RunInfo: ...

    @abc.abstractmethod
    def delete_run(self, run_id: str) -> None: ...

    @abc.abstractmethod
    def restore_run(self, run_id: str) -> None: ...

    @abc.abstractmethod
    def hard_delete_run(self, run_id: str) -> None:
        """Remove a (deleted) run's rows/files permanently; artifacts are the caller's job (gc)."""

    @abc.abstractmethod
    def log_batch(self, run_id: str, metrics: list[Metric], params: list[Param], tags: list[RunTag]) -> None: ...

    def log_metric(self, run_id: str, metric: Metric) -> None:
        self.log_batch(run_id, [metric], [], [])

    def log_param(self, run_id: str, param: Param) -> None:
        self.log_batch(run_id, [], [param], [])

    def set_tag(self, run_id: str, tag: RunTag) -> None:
        self.log_batch(run_id, [], [], [tag])

    @abc.abstractmethod
    def delete_tag(self, run_id: str, key: str) -> None:
        """RESOURCE_DOES_NOT_EXIST if the run has no such tag."""

    @abc.abstractmethod
    def get_metric_history(self, run_id: str, key: str) -> typing.Sequence[Metric]:
        """Every logged value of ``key``, ordered by (step, timestamp): a list, or a
        :class:`~tracklet.tracking.entities.MetricHistory` that builds each Metric when it is read."""

    def get_metric_history_bulk_interval(
        self,
        run_ids: list[str],
        metric_key: str,
        max_results: int,
        start_step: int | None = None,
        end_step: int | None = None,
    ) -> list[MetricWithRunId]:
        """At most ``max_results`` points of ``metric_key`` per run, with steps in ``[start_step, end_step]``
        (None: unbounded), ordered by run (as given), step and timestamp. A run with more points keeps each
        step bucket's min and max (see :mod:`tracklet.tracking.stores.downsample`), so no spike is lost.

        This generic version reads each whole history; stores override it with something faster."""
        run_ids, max_results, start_step, end_step = validate_bulk_interval(run_ids, max_results, start_step, end_step)
        out = []
        for run_id in run_ids:
            points = [
                (m.value, m.step, m.timestamp)
                for m in self.get_metric_history(run_id, metric_key)
                if (start_step is None or m.step >= start_step) and (end_step is None or m.step <= end_step)
            ]
            out += [
                MetricWithRunId(metric_key, v, ts, step, run_id)
                for v, step, ts in downsample.downsample(points, max_results)
            ]
        return out

    @abc.abstractmethod
    def search_runs(
        self,
        experiment_ids: list[str],
        filter_string: str | None,
        run_view_type: int,
        max_results: int,
        order_by: list[str] | None,
        page_token: str | None,
    ) -> PagedList: ...

    @abc.abstractmethod
    def record_logged_model(self, run_id: str, model_dict: dict) -> None:
        """Append ``model_dict`` to the run's ``mlflow.log-model.history`` JSON list, atomically
        (two concurrent calls both land)."""

    def log_inputs(self, run_id: str, datasets: list) -> None:
        """Record dataset inputs (list of DatasetInput). Stores without dataset support ignore them."""

    def close(self) -> None:
        """Release connections/file handles."""
