"""The experiment half of FileStore (a mixin: it uses the store's root, caches and locks).

An experiment is ``<root>/<id>/`` (``meta.yaml`` + ``tags/<key>``); a deleted one is moved to
``<root>/.trash/<id>/``. Every experiment write happens under the root lock (``<root>/.lock``), so
name uniqueness and id allocation hold across threads and processes.
"""

from __future__ import annotations

import os
import re
from dataclasses import replace

from tracklet.exceptions import (
    InvalidParameterValue,
    InvalidState,
    ResourceAlreadyExists,
    ResourceDoesNotExist,
)
from tracklet.tracking import search, validation
from tracklet.tracking.entities import Experiment, LifecycleStage, PagedList, RunTag, ViewType
from tracklet.tracking.stores import file_io as fio
from tracklet.tracking.stores.base import now_ms

DEFAULT_EXPERIMENT_ID = "0"
DEFAULT_EXPERIMENT_NAME = "Default"
TAGS = "tags"
# folders of the mlruns root / an experiment folder that are not experiments / runs
RESERVED_ROOT = frozenset({"models"})
RESERVED_EXPERIMENT = frozenset({"tags", "datasets", "traces", "models"})
_EXPERIMENT_ID_RE = re.compile(r"^[a-zA-Z0-9][\w\-]{0,63}$")
_ACTIVE, _DELETED = LifecycleStage.ACTIVE, LifecycleStage.DELETED


def _not_found(experiment_id) -> ResourceDoesNotExist:
    return ResourceDoesNotExist(f"No Experiment with id={experiment_id} exists")


class ExperimentMethods:
    """Experiment CRUD and search for :class:`~tracklet.tracking.stores.file.FileStore`."""

    root_directory: str
    trash_folder: str
    artifact_root_uri: str

    # ------------------------------------------------------------------ locating and reading
    def _experiment_path(self, experiment_id) -> tuple[str, bool] | None:
        """(directory, is_deleted_folder) of an experiment, or None (also for ids that are not ids)."""
        eid = str(experiment_id)
        if not _EXPERIMENT_ID_RE.match(eid):
            return None
        for base, trashed in ((self.root_directory, False), (self.trash_folder, True)):
            path = os.path.join(base, eid)
            if os.path.isdir(path):
                return path, trashed
        return None

    def _experiment_dirs(self) -> list[tuple[str, str, bool]]:
        """(id, directory, is_deleted_folder) of every folder that may hold an experiment."""
        out = []
        for base, trashed in ((self.root_directory, False), (self.trash_folder, True)):
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

    def _experiment_meta(self, path: str) -> dict | None:
        try:
            return self._exp_meta_cache.get(os.path.join(path, fio.META))
        except (FileNotFoundError, NotADirectoryError):
            return None

    def _load_experiment(
        self, experiment_id: str, path: str, trashed: bool, with_tags: bool = True
    ) -> Experiment | None:
        """The experiment in ``path``; None when its meta.yaml is missing, malformed or names another id.
        ``with_tags=False`` skips reading the tag files (the entity then has no tags)."""
        meta = self._experiment_meta(path)
        if meta is None or str(meta.get("experiment_id", experiment_id)) != experiment_id:
            return None
        stage = meta.get("lifecycle_stage") or _ACTIVE
        return Experiment(
            experiment_id=experiment_id,
            name=str(meta.get("name", "")),
            artifact_location=str(meta.get("artifact_location") or ""),
            lifecycle_stage=_DELETED if trashed else stage,
            tags=fio.read_key_files(os.path.join(path, TAGS)) if with_tags else {},
            creation_time=meta.get("creation_time"),
            last_update_time=meta.get("last_update_time"),
        )

    def _experiment(self, experiment_id, with_tags: bool = False) -> tuple[Experiment, str]:
        found = self._experiment_path(experiment_id)
        exp = self._load_experiment(str(experiment_id), *found, with_tags) if found else None
        if exp is None:
            raise _not_found(experiment_id)
        return exp, found[0]

    def _all_experiments(self, with_tags: bool = True) -> list[tuple[Experiment, str]]:
        """(experiment, folder) of every readable experiment, active and deleted."""
        out = []
        for eid, path, trashed in self._experiment_dirs():
            exp = self._load_experiment(eid, path, trashed, with_tags)
            if exp is not None:
                out.append((exp, path))
        return out

    @staticmethod
    def _add_tags(exp: Experiment, path: str) -> Experiment:
        return replace(exp, tags=fio.read_key_files(os.path.join(path, TAGS)))

    def _write_experiment_meta(self, path: str, exp: Experiment, meta: dict | None = None) -> None:
        data = dict(meta or {})
        data.pop("tags", None)
        data.update(
            {
                "artifact_location": exp.artifact_location,
                "creation_time": exp.creation_time,
                "experiment_id": exp.experiment_id,
                "last_update_time": exp.last_update_time,
                "lifecycle_stage": exp.lifecycle_stage,
                "name": exp.name,
            }
        )
        meta_path = os.path.join(path, fio.META)
        fio.atomic_write(meta_path, fio.dump_yaml(data), path)
        self._exp_meta_cache.forget(meta_path)

    def _raw_experiment_meta(self, path: str) -> dict:
        try:
            return fio.load_yaml(os.path.join(path, fio.META)) or {}
        except FileNotFoundError:
            return {}

    def _root_lock(self):
        return fio.locked(os.path.join(self.root_directory, fio.LOCK_FILE))

    def _artifact_location(self, experiment_id: str) -> str:
        return f"{self.artifact_root_uri.rstrip('/')}/{experiment_id}"

    def _check_name_free(self, name: str) -> None:
        for exp, _ in self._all_experiments(with_tags=False):
            if exp.name == name:
                state = (
                    " (in the deleted state: restore it, or remove it from .trash)"
                    if (exp.lifecycle_stage == _DELETED)
                    else ""
                )
                raise ResourceAlreadyExists(f"Experiment(name={name}) already exists{state}.")

    def _ensure_default_experiment(self) -> None:
        if self._experiment_path(DEFAULT_EXPERIMENT_ID) is not None:
            return
        with self._root_lock():
            if self._experiment_path(DEFAULT_EXPERIMENT_ID) is None:
                self._create_experiment_dir(DEFAULT_EXPERIMENT_ID, DEFAULT_EXPERIMENT_NAME, None, {})

    def _create_experiment_dir(self, eid: str, name: str, artifact_location: str | None, tags: dict[str, str]) -> None:
        path = os.path.join(self.root_directory, eid)
        os.mkdir(path)  # raises FileExistsError when another writer took this id
        for key, value in tags.items():
            fio.atomic_write(fio.key_path(os.path.join(path, TAGS), key), value, path)
        now = now_ms()
        exp = Experiment(eid, name, artifact_location or self._artifact_location(eid), _ACTIVE, {}, now, now)
        self._write_experiment_meta(path, exp)  # last: a folder without meta.yaml is not listed yet

    # ------------------------------------------------------------------ the Store API
    def create_experiment(
        self, name: str, artifact_location: str | None = None, tags: list[RunTag] | None = None
    ) -> str:
        """Create an active experiment; its id is the largest numeric id in use plus one.

        RESOURCE_ALREADY_EXISTS if the name is taken, even by a deleted experiment."""
        validation.validate_experiment_name(name)
        tag_map = {}
        for t in tags or []:
            key, value = validation.validate_experiment_tag(t.key, t.value)
            tag_map[key] = value
        conflict = fio.batch_key_conflict(tag_map)
        if conflict:
            raise InvalidParameterValue(f"Invalid experiment tags: {conflict}")
        with self._root_lock():
            self._check_name_free(name)
            ids = [int(eid) for eid, _, _ in self._experiment_dirs() if eid.isdigit()]
            next_id = max(ids, default=0) + 1
            while True:
                try:
                    self._create_experiment_dir(str(next_id), name, artifact_location, tag_map)
                    return str(next_id)
                except FileExistsError:  # a writer that does not take our lock (e.g. MLflow) got there first
                    next_id += 1

    def get_experiment(self, experiment_id: str) -> Experiment:
        """The experiment (active or deleted); RESOURCE_DOES_NOT_EXIST if unknown."""
        return self._experiment(experiment_id, with_tags=True)[0]

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        """The experiment called ``name`` (active or deleted), or None."""
        for exp, path in self._all_experiments(with_tags=False):
            if exp.name == name:
                return self._add_tags(exp, path)
        return None

    def search_experiments(
        self,
        view_type: int = ViewType.ACTIVE_ONLY,
        max_results: int = validation.MAX_RESULTS_DEFAULT,
        filter_string: str | None = None,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList:
        """Experiments matching ``filter_string``, sorted by ``order_by`` (default: newest first), paged."""
        max_results = validation.validate_max_results(max_results)
        comparisons = search.parse_experiment_filter(filter_string)
        orders = search.parse_order_by(order_by, experiments=True)
        stages = ViewType.stages(view_type)
        # tag files are read for every experiment only when the filter or order_by looks at tags
        tags_first = any(c.kind == search.TAG for c in comparisons) or any(o.kind == search.TAG for o in orders)
        paths = {}
        found = []
        for exp, path in self._all_experiments(with_tags=tags_first):
            if exp.lifecycle_stage in stages and search.experiment_matches(exp, comparisons):
                paths[exp.experiment_id] = path
                found.append(exp)
        page, token = search.paginate(search.sort_experiments(found, orders), max_results, page_token)
        if not tags_first:
            page = [self._add_tags(e, paths[e.experiment_id]) for e in page]
        return PagedList(page, token)

    def delete_experiment(self, experiment_id: str) -> None:
        """Mark the experiment and its active runs deleted, then move its folder to ``.trash``."""
        if str(experiment_id) == DEFAULT_EXPERIMENT_ID:
            raise InvalidParameterValue("The default experiment (id 0) cannot be deleted")
        with self._root_lock():
            exp, path = self._experiment(experiment_id)
            if exp.lifecycle_stage != _ACTIVE:
                raise ResourceDoesNotExist(f"No active Experiment with id={experiment_id} exists")
            target = os.path.join(self.trash_folder, exp.experiment_id)
            if os.path.exists(target):
                raise InvalidState(f"Cannot delete experiment {experiment_id}: '{target}' already exists")
            now = now_ms()
            for run_dir in self._run_dirs_of(path):
                self._set_run_lifecycle(run_dir, _DELETED, now, only_if=_ACTIVE)
            meta = self._raw_experiment_meta(path)
            self._write_experiment_meta(path, replace(exp, lifecycle_stage=_DELETED, last_update_time=now), meta)
            os.rename(path, target)

    def restore_experiment(self, experiment_id: str) -> None:
        """Move the experiment back from ``.trash`` and restore the runs its deletion deleted."""
        with self._root_lock():
            exp, path = self._experiment(experiment_id)
            if exp.lifecycle_stage != _DELETED:
                raise ResourceDoesNotExist(f"No deleted Experiment with id={experiment_id} exists")
            target = os.path.join(self.root_directory, exp.experiment_id)
            if os.path.normpath(path) != os.path.normpath(target):
                if os.path.exists(target):
                    raise ResourceAlreadyExists(
                        f"Cannot restore experiment {experiment_id}: an active experiment has the same id"
                    )
                os.rename(path, target)
            deleted_at = exp.last_update_time or 0
            for run_dir in self._run_dirs_of(target):
                self._set_run_lifecycle(run_dir, _ACTIVE, None, only_if=_DELETED, deleted_since=deleted_at)
            meta = self._raw_experiment_meta(target)
            self._write_experiment_meta(
                target,
                replace(exp, lifecycle_stage=_ACTIVE, last_update_time=now_ms()),
                meta,
            )

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        """Rename an active experiment; RESOURCE_ALREADY_EXISTS if ``new_name`` is taken."""
        validation.validate_experiment_name(new_name)
        with self._root_lock():
            exp, path = self._experiment(experiment_id)
            if exp.lifecycle_stage != _ACTIVE:
                raise InvalidState(f"Cannot rename a non-active experiment (id={experiment_id}).")
            if exp.name == new_name:
                return
            self._check_name_free(new_name)
            self._write_experiment_meta(
                path,
                replace(exp, name=new_name, last_update_time=now_ms()),
                self._raw_experiment_meta(path),
            )

    def _active_experiment(self, experiment_id) -> tuple[Experiment, str]:
        exp, path = self._experiment(experiment_id)
        if exp.lifecycle_stage != _ACTIVE:
            raise InvalidState(
                f"The experiment {experiment_id} must be in the 'active' state. Current state is {exp.lifecycle_stage}."
            )
        return exp, path

    def set_experiment_tag(self, experiment_id: str, tag: RunTag) -> None:
        """Set (or overwrite) a tag of an active experiment (``tags/<key>``, written atomically)."""
        key, value = validation.validate_experiment_tag(tag.key, tag.value)
        _, path = self._active_experiment(experiment_id)
        tags_dir = os.path.join(path, TAGS)
        conflict = fio.key_path_conflict(tags_dir, key)
        if conflict:
            raise InvalidParameterValue(f"Invalid experiment tag name '{key}': {conflict}")
        fio.atomic_write(fio.key_path(tags_dir, key), value, path)

    def delete_experiment_tag(self, experiment_id: str, key: str) -> None:
        """Remove a tag of an active experiment; RESOURCE_DOES_NOT_EXIST if it has no such tag."""
        _, path = self._active_experiment(experiment_id)
        try:
            validation.validate_key(key, "tag")
        except InvalidParameterValue:
            ok = False
        else:
            ok = fio.remove_key_file(os.path.join(path, TAGS), key)
        if not ok:
            raise ResourceDoesNotExist(f"No tag with name: {key} in experiment with id {experiment_id}")
