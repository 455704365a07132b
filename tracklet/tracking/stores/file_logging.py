"""The logging half of FileStore (a mixin: it uses the store's run lookup, caches and locks):
log_batch, tags, metric history and the log-model history."""

from __future__ import annotations

import json
import os

from tracklet.exceptions import InvalidParameterValue, InvalidState, ResourceDoesNotExist
from tracklet.tracking import validation
from tracklet.tracking.entities import LifecycleStage, Metric, Param, RunInfo, RunTag
from tracklet.tracking.stores import file_cache as fc
from tracklet.tracking.stores import file_io as fio

RUN_NAME_TAG = "mlflow.runName"
LOG_MODEL_HISTORY_TAG = "mlflow.log-model.history"
METRICS, PARAMS, TAGS = "metrics", "params", "tags"


def check_active(info: RunInfo) -> None:
    """INVALID_STATE unless the run is active (deleted runs take no writes)."""
    if info.lifecycle_stage != LifecycleStage.ACTIVE:
        raise InvalidState(
            f"The run {info.run_id} must be in the 'active' state. Current state is {info.lifecycle_stage}."
        )


class LoggingMethods:
    """Writes to runs for :class:`~tracklet.tracking.stores.file.FileStore`."""

    def log_batch(self, run_id: str, metrics: list[Metric], params: list[Param], tags: list[RunTag]) -> None:
        """Validate the whole batch (values, limits, param conflicts, key paths), then write it.

        A rejected batch writes nothing. Each metric key's new lines are appended with one write."""
        validation.validate_batch(metrics, params, tags)
        run_dir, info = self._locate(run_id)
        check_active(info)
        groups: dict[str, list] = {}
        for m in metrics:
            groups.setdefault(m.key, []).append((int(m.timestamp), float(m.value), int(m.step or 0)))
        done: set[str] = set()  # metric keys already appended (a retry must not append them twice)
        if not params and not tags:
            self._check_keys(run_dir, METRICS, groups, "metric")
            try:
                self._append_metrics(run_dir, groups, done)
            except FileNotFoundError:  # the experiment folder moved (deleted/restored) meanwhile: look again
                run_dir, info = self._locate(run_id)
                check_active(info)
                self._append_metrics(run_dir, groups, done)
            return
        with self._locked_run(run_id) as (run_dir, info):
            check_active(info)
            new_params = self._check_params(run_dir, run_id, params)
            tag_map = {t.key: "" if t.value is None else str(t.value) for t in tags}
            self._check_keys(run_dir, TAGS, tag_map, "tag")
            self._check_keys(run_dir, METRICS, groups, "metric")
            try:
                self._write_batch(run_dir, info, new_params, tag_map, groups, done)
            except FileNotFoundError:
                run_dir, info = self._locate(run_id)
                check_active(info)
                self._write_batch(run_dir, info, new_params, tag_map, groups, done)

    def _write_batch(
        self, run_dir: str, info: RunInfo, new_params: dict, tag_map: dict, groups: dict, done: set
    ) -> None:
        for key, value in new_params.items():
            fio.atomic_write(fio.key_path(os.path.join(run_dir, PARAMS), key), value, run_dir)
        for key, value in tag_map.items():
            fio.atomic_write(fio.key_path(os.path.join(run_dir, TAGS), key), value, run_dir)
        self._append_metrics(run_dir, groups, done)
        if RUN_NAME_TAG in tag_map and tag_map[RUN_NAME_TAG] != info.run_name:
            self._rewrite_run_meta(run_dir, run_name=tag_map[RUN_NAME_TAG])

    def _check_params(self, run_dir: str, run_id: str, params: list[Param]) -> dict[str, str]:
        """The params not logged yet; INVALID_PARAMETER_VALUE if one was logged with another value."""
        wanted = {p.key: "" if p.value is None else str(p.value) for p in params}
        params_dir = os.path.join(run_dir, PARAMS)
        new = {}
        for key, value in wanted.items():
            old = self._params.get(fio.key_path(params_dir, key))
            if old is None:
                new[key] = value
            elif old != value:
                raise InvalidParameterValue(
                    f"Changing param values is not allowed. Param with key='{key}' was already logged with "
                    f"value='{old}' for run ID='{run_id}'. Attempted logging new value '{value}'."
                )
        self._check_keys(run_dir, PARAMS, new, "param")
        return new

    def _check_keys(self, run_dir: str, sub: str, keys, kind: str) -> None:
        """Keys become paths: reject a key that is a folder of other keys, or has a key as prefix."""
        if not keys:
            return
        conflict = fio.batch_key_conflict(keys) if any("/" in k for k in keys) else None
        base = os.path.join(run_dir, sub)
        for key in keys:
            if conflict:
                break
            path = fio.key_path(base, key)
            if path not in self._checked_keys:
                conflict = fio.key_path_conflict(base, key)
        if conflict:
            raise InvalidParameterValue(f"Invalid {kind} name: {conflict}")

    def _append_metrics(self, run_dir: str, groups: dict[str, list], done: set[str]) -> None:
        """Append each key's lines with one open and one write (O_APPEND: concurrent appends never mix)."""
        base = os.path.join(run_dir, METRICS)
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT
        checked = self._checked_keys
        for key, rows in groups.items():
            if key in done:
                continue
            path = fio.key_path(base, key)
            try:
                fd = os.open(path, flags, 0o666)
            except FileNotFoundError:
                if not os.path.isdir(run_dir):
                    raise  # the run moved: never recreate its old folder
                os.makedirs(os.path.dirname(path), exist_ok=True)
                fd = os.open(path, flags, 0o666)
            try:
                fio.write_all(fd, fc.format_metric_lines(rows))
            finally:
                os.close(fd)
            done.add(key)
            if len(checked) > 100_000:
                checked.clear()
            checked.add(path)

    def delete_tag(self, run_id: str, key: str) -> None:
        """Remove a run tag; RESOURCE_DOES_NOT_EXIST if the run has no such tag."""
        run_dir, info = self._locate(run_id)
        check_active(info)
        try:
            validation.validate_key(key, "tag")
        except InvalidParameterValue:
            raise ResourceDoesNotExist(f"No tag with name: {key} in run with id {run_id}") from None
        if not fio.remove_key_file(os.path.join(run_dir, TAGS), key):
            raise ResourceDoesNotExist(f"No tag with name: {key} in run with id {run_id}")

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        """Every logged value of ``key``, ordered by (step, timestamp) (file order on ties)."""
        run_dir, _ = self._locate(run_id)
        try:
            validation.validate_key(key, "metric")
        except InvalidParameterValue:
            return []  # such a key cannot have been logged (and must not become a path)
        try:
            data = fio.read_bytes(fio.key_path(os.path.join(run_dir, METRICS), key))
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return []
        rows = fc.parse_metric_lines(data)
        rows.sort(key=lambda r: (r[2], r[0]))
        return [Metric(key, value, ts, step) for ts, value, step in rows]

    def record_logged_model(self, run_id: str, model_dict: dict) -> None:
        """Append ``model_dict`` to the ``mlflow.log-model.history`` tag under the run lock, so concurrent
        appends from threads and processes all land."""
        with self._locked_run(run_id) as (run_dir, info):
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
            fio.atomic_write(path, json.dumps(history), run_dir)
