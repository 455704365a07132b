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
import time

from tracklet.tracking.entities import Experiment, Metric, PagedList, Param, Run, RunInfo, RunTag


def now_ms() -> int:
    return int(time.time() * 1000)


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
    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        """Every logged value of ``key``, ordered by (step, timestamp)."""

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
