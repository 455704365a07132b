"""Run lifecycle of the file store: create, read, update, delete, restore, remove -- over an explicit
:class:`~.file_layout.RunLayout`, the experiments (:class:`~.file_experiments.ExperimentStore`) and the run
writer (:class:`~.file_logging.RunWriter`)."""

from __future__ import annotations

import os
import shutil
import uuid
from dataclasses import replace

from tracklet.exceptions import InvalidState
from tracklet.tracking import validation
from tracklet.tracking.entities import LifecycleStage, Metric, Run, RunInfo, RunStatus, RunTag, make_run_data
from tracklet.tracking.stores import file_io as fio
from tracklet.tracking.stores import file_journal as journal
from tracklet.tracking.stores.base import now_ms
from tracklet.tracking.stores.file_experiments import ExperimentStore
from tracklet.tracking.stores.file_inputs import load_run_inputs
from tracklet.tracking.stores.file_layout import (
    ARTIFACTS,
    METRICS,
    PARAMS,
    REMOVE,
    RUN_NAME_TAG,
    TAGS,
    RunLayout,
    check_active,
)
from tracklet.tracking.stores.file_logging import RunWriter, check_storable

_ACTIVE, _DELETED = LifecycleStage.ACTIVE, LifecycleStage.DELETED


def load_run(layout: RunLayout, run_dir: str, info: RunInfo) -> Run:
    """The run in ``run_dir``: each metric's latest value, params, tags and dataset inputs."""
    metrics_dir = os.path.join(run_dir, METRICS)
    metrics = []
    for key in sorted(fio.list_keys(metrics_dir)):
        row = layout.latest.latest(fio.key_path(metrics_dir, key))
        if row is not None:
            metrics.append(Metric(key, row[1], row[0], row[2]))
    params_dir = os.path.join(run_dir, PARAMS)
    params = {key: layout.params.get(fio.key_path(params_dir, key)) for key in fio.list_keys(params_dir)}
    params = {k: v for k, v in params.items() if v is not None}
    tags = fio.read_key_files(os.path.join(run_dir, TAGS))
    if not info.run_name and tags.get(RUN_NAME_TAG):
        info = replace(info, run_name=tags[RUN_NAME_TAG])
    return Run(info=info, data=make_run_data(metrics, params, tags), inputs=load_run_inputs(run_dir, layout.report))


class RunStore:
    """Creating, reading and changing the state of file-store runs."""

    def __init__(self, layout: RunLayout, experiments: ExperimentStore, writer: RunWriter):
        self.layout = layout
        self.experiments = experiments
        self.writer = writer

    def create_run(
        self, experiment_id: str, user_id: str, start_time: int, tags: list[RunTag], run_name: str | None
    ) -> Run:
        """Create a RUNNING run; ``run_name`` and the ``mlflow.runName`` tag are kept equal. meta.yaml is
        written last: until then the folder is not a run, so a crash leaves no half-created run."""
        tag_map, run_name = validation.resolve_run_name_and_tags(tags, run_name)
        check_storable("tag", tag_map)
        fio.check_text("user_id", user_id)
        fio.check_text("run_name", run_name)
        run_id = uuid.uuid4().hex
        start_time = now_ms() if start_time is None else int(start_time)
        with self.layout.root_lock():  # no run may appear in an experiment while it is being deleted
            exp, exp_path = self.experiments.find(experiment_id)
            if exp.lifecycle_stage != _ACTIVE:
                raise InvalidState(
                    f"The experiment {experiment_id} must be in the 'active' state to create runs in it. "
                    f"Current state is {exp.lifecycle_stage}."
                )
            run_dir = os.path.join(exp_path, run_id)
            os.mkdir(run_dir)
            sep = os.sep
            for sub in (METRICS, PARAMS, TAGS, ARTIFACTS):  # MLflow checks these exist
                os.mkdir(f"{run_dir}{sep}{sub}")
            tags_dir = f"{run_dir}{sep}{TAGS}"
            for key, value in tag_map.items():
                fio.create_file(fio.key_path(tags_dir, key), value.encode("utf-8"), run_dir)
            artifact_uri = f"{exp.artifact_location.rstrip('/')}/{run_id}/artifacts"
            meta = {
                "artifact_uri": artifact_uri,
                "end_time": None,
                "entry_point_name": "",
                "experiment_id": exp.experiment_id,
                "lifecycle_stage": _ACTIVE,
                "run_id": run_id,
                "run_uuid": run_id,
                "run_name": run_name,
                "source_name": "",
                "source_type": 4,
                "source_version": "",
                "start_time": start_time,
                "status": RunStatus.to_int(RunStatus.RUNNING),
                "tags": [],
                "user_id": user_id or "",
            }
            meta_path = f"{run_dir}{sep}{fio.META}"
            written = fio.atomic_write(meta_path, fio.dump_meta(meta), run_dir, want_stat=True)  # last
        self.layout.run_experiment[run_id] = exp.experiment_id
        info = RunInfo(
            run_id=run_id,
            experiment_id=exp.experiment_id,
            user_id=user_id or "",
            status=RunStatus.RUNNING,
            start_time=start_time,
            end_time=None,
            artifact_uri=artifact_uri,
            lifecycle_stage=_ACTIVE,
            run_name=run_name,
        )
        self.layout.run_infos.prime(meta_path, written, info)  # the first log_batch need not read it back
        return Run(info=info, data=make_run_data([], {}, tag_map))

    def get_run(self, run_id: str) -> Run:
        """The run with each metric's latest value, its params and tags (active or deleted)."""
        run_dir, info = self.layout.locate(run_id)
        if os.path.exists(journal.path_of(run_dir)):
            self.layout.settle(run_dir)
            run_dir, info = self.layout.locate(run_id)
        return load_run(self.layout, run_dir, info)

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
            fio.check_text("run_name", run_name)
        with self.layout.locked_run(run_id) as (run_dir, info):
            check_active(info)
            if run_name:
                info = self.writer.rename_run(run_dir, str(run_name), changes)
            elif changes:
                info = self.layout.rewrite_run_meta(run_dir, **changes)
        return self.layout.named(run_dir, info)

    def delete_run(self, run_id: str) -> None:
        """Soft-delete: lifecycle_stage 'deleted' and deleted_time in meta.yaml."""
        with self.layout.locked_run(run_id) as (run_dir, _):
            self.layout.rewrite_run_meta(run_dir, lifecycle_stage=_DELETED, deleted_time=now_ms())

    def restore_run(self, run_id: str) -> None:
        """Undo :meth:`delete_run` (deleted_time is removed)."""
        with self.layout.locked_run(run_id) as (run_dir, _):
            self.layout.rewrite_run_meta(run_dir, lifecycle_stage=_ACTIVE, deleted_time=REMOVE)

    def hard_delete_run(self, run_id: str) -> None:
        """Remove the run's folder (metrics, params, tags, meta; artifacts under it too) and its journal."""
        run_dir, _ = self.layout.locate(run_id)
        shutil.rmtree(run_dir)
        try:
            os.unlink(journal.path_of(run_dir))
        except FileNotFoundError:
            pass
        self.layout.run_infos.forget(os.path.join(run_dir, fio.META))
        self.layout.params.forget_prefix(run_dir + os.sep)
        self.layout.run_experiment.pop(run_id, None)
