"""Writes to file-store runs: log_batch, run renames, tags, metric history and the log-model history.

Every batch is checked whole first -- values, limits, what the file system can store (UTF-8, 255-byte
file names), param conflicts and key paths against what is on disk -- then written under the run's lock
through the run's journal (:mod:`.file_journal`), so it lands all or nothing, also after kill -9.
"""

from __future__ import annotations

import json
import os
import stat

from tracklet.exceptions import InvalidParameterValue, ResourceDoesNotExist
from tracklet.tracking import system_tags, validation
from tracklet.tracking.entities import Metric, MetricHistory, Param, RunInfo, RunTag
from tracklet.tracking.stores import file_cache as fc
from tracklet.tracking.stores import file_io as fio
from tracklet.tracking.stores import file_journal as journal
from tracklet.tracking.stores.file_layout import METRICS, PARAMS, RUN_NAME_TAG, TAGS, RunLayout, check_active

LOG_MODEL_HISTORY_TAG = system_tags.LOG_MODEL_HISTORY


def check_storable(kind: str, values: dict) -> None:
    """Keys (file names) and values (UTF-8 file contents) of one kind that the file system can store."""
    try:  # one call each for the common case, where there is nothing to report
        "".join(values).encode("utf-8")
        "".join(values.values()).encode("utf-8")
    except UnicodeEncodeError:
        for key, value in values.items():
            fio.check_text(f"{kind} key", key)
            fio.check_text(f"{kind} value of '{key}'", value)
    for key in values:
        if len(key) * 4 > fio.MAX_NAME_BYTES:  # else short enough whatever its characters
            fio.check_key_name(kind, key)
    if any("/" in k for k in values):
        conflict = fio.batch_key_conflict(values)
        if conflict:
            raise InvalidParameterValue(f"Invalid {kind} name: {conflict}")


def _size_on_disk(base: str, key: str, kind: str) -> int | None:
    """Size of the key's file (None if absent); INVALID_PARAMETER_VALUE when the key cannot be a file there
    (it is a folder of other keys, or one of its '/'-prefixes is a key). One stat."""
    try:
        st = os.stat(fio.key_path(base, key))
    except FileNotFoundError:
        return None
    except NotADirectoryError:
        st = None
    if st is None or stat.S_ISDIR(st.st_mode):
        raise InvalidParameterValue(f"Invalid {kind} name: {fio.key_path_conflict(base, key)}")
    return st.st_size


class RunWriter:
    """The writes of a file store to its runs, over an explicit :class:`RunLayout`."""

    def __init__(self, layout: RunLayout):
        self.layout = layout

    def log_batch(self, run_id: str, metrics: list[Metric], params: list[Param], tags: list[RunTag]) -> None:
        """Validate the whole batch (values, limits, file names, param conflicts, key paths), then write it
        all or nothing. Each metric key's new lines are appended with one write."""
        validation.validate_batch(metrics, params, tags)
        groups: dict[str, list] = {}
        for m in metrics:
            groups.setdefault(m.key, []).append((int(m.timestamp), float(m.value), int(m.step or 0)))
        param_map = {p.key: "" if p.value is None else str(p.value) for p in params}
        tag_map = {t.key: "" if t.value is None else str(t.value) for t in tags}
        check_storable("param", param_map)
        check_storable("tag", tag_map)
        check_storable("metric", dict.fromkeys(groups, ""))
        with self.layout.locked_run(run_id) as (run_dir, info):
            check_active(info)
            batch = journal.Batch()
            self._plan_params(batch, run_dir, run_id, param_map)
            self._plan_tags(batch, run_dir, tag_map)
            base = os.path.join(run_dir, METRICS)
            for key, rows in groups.items():
                size = _size_on_disk(base, key, "metric") or 0
                batch.metrics[key] = (size, fc.format_metric_lines(rows).decode("ascii"))
            if RUN_NAME_TAG in tag_map and tag_map[RUN_NAME_TAG] != info.run_name:
                batch.meta["run_name"] = tag_map[RUN_NAME_TAG]
            if batch.params or batch.tags or batch.metrics or batch.meta:
                journal.commit(self.layout, run_dir, batch)

    def _plan_params(self, batch: journal.Batch, run_dir: str, run_id: str, wanted: dict[str, str]) -> None:
        """The params not logged yet; INVALID_PARAMETER_VALUE if one was logged with another value."""
        base = os.path.join(run_dir, PARAMS)
        for key, value in wanted.items():
            path = fio.key_path(base, key)
            if _size_on_disk(base, key, "param") is None:
                batch.params[key] = value
                batch.new.add(path)
                continue
            old = self.layout.params.get(path)
            if old is None or old == "":
                old = fio.read_text(path)  # "" may be a foreign writer's file caught mid-write: read again
            if old != value:
                raise InvalidParameterValue(
                    f"Changing param values is not allowed. Param with key='{key}' was already logged with "
                    f"value='{old}' for run ID='{run_id}'. Attempted logging new value '{value}'."
                )

    @staticmethod
    def _plan_tags(batch: journal.Batch, run_dir: str, tags: dict[str, str]) -> None:
        base = os.path.join(run_dir, TAGS)
        for key, value in tags.items():
            path = fio.key_path(base, key)
            if _size_on_disk(base, key, "tag") is None:
                batch.new.add(path)
            else:
                batch.old_tags[key] = fio.read_bytes(path)
            batch.tags[key] = value

    def rename_run(self, run_dir: str, run_name: str, meta_changes: dict) -> RunInfo:
        """Set the run's name in meta.yaml (with ``meta_changes``) and the ``mlflow.runName`` tag together,
        all or nothing (run lock held)."""
        batch = journal.Batch(meta={**meta_changes, "run_name": run_name})
        self._plan_tags(batch, run_dir, {RUN_NAME_TAG: run_name})
        journal.commit(self.layout, run_dir, batch)
        return self.layout.run_info_at(run_dir, strict=True)

    def delete_tag(self, run_id: str, key: str) -> None:
        """Remove a run tag; RESOURCE_DOES_NOT_EXIST if the run has no such tag."""
        try:
            validation.validate_key(key, "tag")
            fio.check_key_name("tag", key)
        except InvalidParameterValue:
            raise ResourceDoesNotExist(f"No tag with name: {key} in run with id {run_id}") from None
        with self.layout.locked_run(run_id) as (run_dir, info):
            check_active(info)
            if not fio.remove_key_file(os.path.join(run_dir, TAGS), key):
                raise ResourceDoesNotExist(f"No tag with name: {key} in run with id {run_id}")

    def metric_file(self, run_id: str, key: str) -> tuple[str, str | None]:
        """(run folder, path of the metric file of ``key`` or None when no such key can exist); the run must."""
        run_dir, _ = self.layout.locate(run_id)
        try:
            validation.validate_key(key, "metric")
            fio.check_key_name("metric", key)
        except InvalidParameterValue:
            return run_dir, None  # such a key cannot have been logged (and must not become a path)
        self.layout.settle(run_dir)
        return run_dir, fio.key_path(os.path.join(run_dir, METRICS), key)

    def get_metric_history(self, run_id: str, key: str) -> MetricHistory:
        """Every logged value of ``key``, ordered by (step, timestamp) (file order on ties)."""
        _, path = self.metric_file(run_id, key)
        if path is None:
            return MetricHistory(key, [])
        try:
            data = fio.read_bytes(path)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return MetricHistory(key, [])
        columns, bad = fc.parse_history(data)
        if bad:
            self.layout.report(path, f"{bad} malformed metric line(s) skipped")
        return MetricHistory.from_columns(key, *columns)

    def record_logged_model(self, run_id: str, model_dict: dict) -> None:
        """Append ``model_dict`` to the ``mlflow.log-model.history`` tag under the run lock, so concurrent
        appends from threads and processes all land."""
        with self.layout.locked_run(run_id) as (run_dir, info):
            check_active(info)
            path = os.path.join(run_dir, TAGS, LOG_MODEL_HISTORY_TAG)
            current = fio.read_text(path)
            try:
                history = json.loads(current) if current else []
            except ValueError:
                history = []
            if not isinstance(history, list):
                history = [history]
            history.append(model_dict)
            fio.atomic_write(path, json.dumps(history), run_dir)  # ASCII: always storable
