"""Where things are in an ``mlruns`` folder, and how to find, read, lock and repair one run.

:class:`RunLayout` is the one object the parts of the file store share, passed to each of them explicitly
(experiments, logging, inputs, search): the root and trash folders, the stat-validated caches, the run
lookup (which experiment holds a run, without a scan per call), the per-run and root locks, and the
journal check that completes a batch a crashed writer left half-applied (:mod:`.file_journal`).

A file that cannot be read (invalid or truncated YAML, non-UTF-8 bytes, a directory where a file belongs,
fields of the wrong type) is reported once with a :class:`StoreCorruptionWarning` naming it and skipped
by listings; asking for that run or experiment by id raises a :class:`TrackletException` naming the file.
"""

from __future__ import annotations

import contextlib
import os
import threading
import warnings
from dataclasses import replace

import yaml

from tracklet.exceptions import InvalidParameterValue, InvalidState, ResourceDoesNotExist, TrackletException
from tracklet.tracking import validation
from tracklet.tracking.entities import LifecycleStage, RunInfo, RunStatus
from tracklet.tracking.stores import file_cache as fc
from tracklet.tracking.stores import file_io as fio
from tracklet.tracking.stores import file_journal as journal
from tracklet.tracking.stores import file_lock as flock

METRICS, PARAMS, TAGS, ARTIFACTS = "metrics", "params", "tags", "artifacts"
RUN_NAME_TAG = validation.RUN_NAME_TAG
# folders of the mlruns root / of an experiment folder that are not experiments / runs
RESERVED_ROOT = frozenset({"models"})
RESERVED_EXPERIMENT = frozenset({"tags", "datasets", "traces", "models"})
_EXPERIMENT_ID_RE = validation.EXPERIMENT_ID_RE  # matched with fullmatch
_RUN_ID_RE = validation.RUN_ID_RE
_ACTIVE = LifecycleStage.ACTIVE
_STAGES = frozenset({LifecycleStage.ACTIVE, LifecycleStage.DELETED})


def check_active(info: RunInfo) -> None:
    """INVALID_STATE unless the run is active (deleted runs take no writes)."""
    if info.lifecycle_stage != _ACTIVE:
        raise InvalidState(
            f"The run {info.run_id} must be in the 'active' state. Current state is {info.lifecycle_stage}."
        )


class StoreCorruptionWarning(UserWarning):
    """A file of the store could not be read and was skipped (reported once per file)."""


class CorruptFile(Exception):
    """Internal: ``path`` exists but cannot be read as what it should be (``why``)."""

    def __init__(self, path: str, why: str):
        super().__init__(f"'{path}' {why}")
        self.path, self.why = path, why

    def to_tracklet(self, what: str) -> TrackletException:
        return TrackletException(f"The {what} file '{self.path}' is corrupted ({self.why}): fix or remove it")


def load_meta(path: str) -> dict:
    """The mapping in a meta.yaml; FileNotFoundError/NotADirectoryError when there is none, CorruptFile when
    it is empty, truncated, not YAML, not UTF-8, not a mapping or a directory."""
    try:
        data = fio.read_bytes(path)
        if data and not data.endswith(b"\n"):
            raise CorruptFile(path, "is truncated (no final newline)")
        meta = fio.load_yaml_text(data.decode("utf-8"))
    except IsADirectoryError:
        raise CorruptFile(path, "is a directory") from None
    except UnicodeDecodeError as exc:
        raise CorruptFile(path, f"is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except yaml.YAMLError as exc:
        raise CorruptFile(path, f"is not valid YAML: {str(exc).splitlines()[0]}") from None
    if meta is None:
        raise CorruptFile(path, "is empty or not a YAML mapping")
    return meta


def load_experiment_meta(meta_path: str) -> dict:
    """An experiment's meta.yaml; CorruptFile when it cannot be read or a field has the wrong type."""
    meta = load_meta(meta_path)
    for key in ("creation_time", "last_update_time"):
        value = meta.get(key)
        if value is not None and (type(value) is not int):
            raise CorruptFile(meta_path, f"has a field of the wrong type ({key}: {value!r} is not an integer)")
    if meta.get("lifecycle_stage") not in (None, *_STAGES):
        raise CorruptFile(meta_path, f"has an unknown lifecycle_stage {meta['lifecycle_stage']!r}")
    return meta


def parse_run_meta(meta_path: str) -> RunInfo:
    """RunInfo from a run's meta.yaml (MLflow 1.x-3.x files); CorruptFile when it cannot be read."""
    meta = load_meta(meta_path)
    try:
        status = meta.get("status", 1)
        status = RunStatus.from_int(status) if isinstance(status, int) else RunStatus.normalize(status)
        end_time = meta.get("end_time")
        info = RunInfo(
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
    except KeyError as exc:
        raise CorruptFile(meta_path, f"has no {exc.args[0]}") from None
    except (TypeError, ValueError, InvalidParameterValue) as exc:
        raise CorruptFile(meta_path, f"has a field of the wrong type ({exc})") from None
    if info.lifecycle_stage not in _STAGES:
        raise CorruptFile(meta_path, f"has an unknown lifecycle_stage {info.lifecycle_stage!r}")
    return info


class RunLayout:
    """Paths, lookup, caches and locks of one ``mlruns`` folder (see the module doc)."""

    def __init__(self, root_directory: str, artifact_root_uri: str):
        self.root = root_directory
        self.trash = os.path.join(root_directory, ".trash")
        self.artifact_root_uri = artifact_root_uri
        self.run_infos = fc.StatCache(parse_run_meta)
        self.experiment_metas = fc.StatCache(load_experiment_meta)
        self.latest = fc.LatestMetricCache(self.report)
        self.params = fc.ImmutableFileCache()
        self.run_experiment: dict[str, str] = {}  # run_id -> experiment id: no scan per call
        self._reported: set[str] = set()
        self._reported_lock = threading.Lock()

    def clear_caches(self) -> None:
        for cache in (self.run_infos, self.experiment_metas, self.latest, self.params):
            cache.clear()

    def report(self, path: str, why: str) -> None:
        """Warn once per file that it was skipped because it cannot be read."""
        with self._reported_lock:
            if path in self._reported:
                return
            self._reported.add(path)
        warnings.warn(f"tracklet file store: skipped '{path}': {why}", StoreCorruptionWarning, stacklevel=4)

    # ------------------------------------------------------------------ experiments
    def root_lock(self):
        """Held by every experiment write (ids, names, moves to and from .trash)."""
        return flock.locked(os.path.join(self.root, flock.LOCK_FILE))

    def experiment_path(self, experiment_id) -> tuple[str, bool] | None:
        """(directory, is_deleted_folder) of an experiment, or None (also for ids that are not ids)."""
        eid = str(experiment_id)
        if not _EXPERIMENT_ID_RE.fullmatch(eid):
            return None
        for base, trashed in ((self.root, False), (self.trash, True)):
            path = os.path.join(base, eid)
            if os.path.isdir(path):
                return path, trashed
        return None

    def experiment_dirs(self) -> list[tuple[str, str, bool]]:
        """(id, directory, is_deleted_folder) of every folder that may hold an experiment."""
        out = []
        for base, trashed in ((self.root, False), (self.trash, True)):
            try:
                entries = list(os.scandir(base))
            except FileNotFoundError:
                continue
            for entry in entries:
                name = entry.name
                if name.startswith(".") or (not trashed and name in RESERVED_ROOT) or not entry.is_dir():
                    continue
                out.append((name, entry.path, trashed))
        return out

    def experiment_meta(self, path: str, strict: bool = False) -> dict | None:
        """The experiment folder's meta.yaml (None when missing; when corrupted: reported and None, or the
        TrackletException naming it with ``strict``)."""
        return self._read(self.experiment_metas, path, "experiment metadata", strict)

    def _read(self, cache: fc.StatCache, folder: str, what: str, strict: bool):
        try:
            return cache.get(os.path.join(folder, fio.META))
        except (FileNotFoundError, NotADirectoryError):
            return None
        except CorruptFile as exc:
            if strict:
                raise exc.to_tracklet(what) from None
            self.report(exc.path, exc.why)
            return None

    # ------------------------------------------------------------------ runs
    def run_dirs_of(self, experiment_path: str, pending: set | None = None) -> list[str]:
        """Run folders of an experiment folder; ids of runs with a batch journal are added to ``pending``."""
        try:
            entries = list(os.scandir(experiment_path))
        except FileNotFoundError:
            return []
        out = []
        for e in entries:
            name = e.name
            if name[0] == ".":
                if pending is not None and name.startswith(journal.PREFIX):
                    pending.add(name[len(journal.PREFIX) :])
            elif name not in RESERVED_EXPERIMENT and e.is_dir():
                out.append(e.path)
        return out

    def run_info_at(self, run_dir: str, strict: bool = False) -> RunInfo | None:
        """The RunInfo of ``run_dir`` (None when it has no meta.yaml; corruption as in experiment_meta)."""
        return self._read(self.run_infos, run_dir, "run metadata", strict)

    def locate(self, run_id: str) -> tuple[str, RunInfo]:
        """(run folder, RunInfo) of ``run_id``: the cached experiment first, a scan on a miss."""
        if not isinstance(run_id, str) or not _RUN_ID_RE.fullmatch(run_id):
            raise ResourceDoesNotExist(f"Run with id={run_id} not found")
        bases = (self.root, self.trash)
        eid = self.run_experiment.get(run_id)
        if eid is not None:
            for base in bases:
                run_dir = os.path.join(base, eid, run_id)
                info = self.run_info_at(run_dir, strict=True)
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
                info = self.run_info_at(run_dir, strict=True)
                if info is not None:
                    self.run_experiment[run_id] = name
                    return run_dir, info
        raise ResourceDoesNotExist(f"Run with id={run_id} not found")

    def named(self, run_dir: str, info: RunInfo) -> RunInfo:
        """Runs written before run_name was in meta.yaml take their name from the mlflow.runName tag."""
        if info.run_name:
            return info
        name = fio.read_text(os.path.join(run_dir, TAGS, RUN_NAME_TAG))
        return replace(info, run_name=name) if name else info

    def run_lock(self, run_dir: str):
        return flock.locked(os.path.join(run_dir, flock.LOCK_FILE))

    @contextlib.contextmanager
    def locked_run(self, run_id: str):
        """Hold the run's lock, with any batch a crashed writer left completed first; yields (run folder,
        RunInfo) read under the lock. If the run's experiment moves to or from .trash meanwhile (only ever
        done under the root lock), follow it."""
        for _ in range(10):
            run_dir = self._guess_dir(run_id)
            try:
                handle = flock.acquire(os.path.join(run_dir, flock.LOCK_FILE))
            except FileNotFoundError:
                continue
            try:
                here, info = self.locate(run_id)
                if here != run_dir:
                    continue
                if self.recover(run_dir):
                    info = self.run_info_at(run_dir, strict=True) or info
                yield run_dir, info
                return
            finally:
                flock.release(handle)
        raise InvalidState(f"Run {run_id} kept moving while waiting for its lock")

    def _guess_dir(self, run_id: str) -> str:
        """The run's folder from the lookup cache (one stat, no meta.yaml read), else from a full lookup."""
        eid = self.run_experiment.get(run_id)
        if eid is not None:
            for base in (self.root, self.trash):
                run_dir = os.path.join(base, eid, run_id)
                if os.path.isdir(run_dir):
                    return run_dir
        return self.locate(run_id)[0]

    def recover(self, run_dir: str) -> bool:
        """With the run's lock held: complete the batch a crashed writer left, if any (True if there was one)."""
        if not os.path.exists(journal.path_of(run_dir)):
            return False
        journal.recover(self, run_dir)
        return True

    def settle(self, run_dir: str) -> None:
        """Readers: complete a batch that a crashed writer left half-applied (waits while a live writer is
        still applying it: it holds the run's lock). Never call with this run's lock held."""
        if os.path.exists(journal.path_of(run_dir)):
            with self.run_lock(run_dir):
                self.recover(run_dir)

    def rewrite_run_meta(self, run_dir: str, **changes) -> RunInfo:
        """Read-modify-write meta.yaml atomically; call with the run lock held. Unknown keys are kept;
        :data:`REMOVE` as a value drops the key."""
        meta_path = os.path.join(run_dir, fio.META)
        try:
            meta = load_meta(meta_path)
        except CorruptFile as exc:
            raise exc.to_tracklet("run metadata") from None
        for key, value in changes.items():
            if value is REMOVE:
                meta.pop(key, None)
            else:
                meta[key] = value
        fio.atomic_write(meta_path, fio.dump_meta(meta), run_dir)
        self.run_infos.forget(meta_path)
        return parse_run_meta(meta_path)


class _Remove:
    """Marker: drop this key from meta.yaml."""


REMOVE = _Remove()
