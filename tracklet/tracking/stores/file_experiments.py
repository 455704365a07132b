"""Experiments of the file store, over an explicit :class:`~.file_layout.RunLayout`.

An experiment is ``<root>/<id>/`` (``meta.yaml`` + ``tags/<key>``); a deleted one is moved to
``<root>/.trash/<id>/``. Every experiment write happens under the root lock (``<root>/.lock``), so
name uniqueness and id allocation hold across threads and processes.
"""

from __future__ import annotations

import os
import shutil
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
from tracklet.tracking.stores.file_layout import REMOVE, CorruptFile, RunLayout, load_meta

DEFAULT_EXPERIMENT_ID = "0"
DEFAULT_EXPERIMENT_NAME = "Default"
TAGS = "tags"
_ACTIVE, _DELETED = LifecycleStage.ACTIVE, LifecycleStage.DELETED


def _check_tag(key: str, value) -> None:
    fio.check_key_name("experiment tag", key)
    fio.check_text(f"experiment tag value of '{key}'", value)


def _not_found(experiment_id) -> ResourceDoesNotExist:
    return ResourceDoesNotExist(f"No Experiment with id={experiment_id} exists")


class ExperimentStore:
    """Experiment CRUD and search of a file store."""

    def __init__(self, layout: RunLayout):
        self.layout = layout

    # ------------------------------------------------------------------ locating and reading
    def _load_experiment(
        self, experiment_id: str, path: str, trashed: bool, with_tags: bool = True, strict: bool = False
    ) -> Experiment | None:
        """The experiment in ``path``; None when its meta.yaml is missing, unreadable (reported, or raised
        with ``strict``) or names another id. ``with_tags=False`` skips reading the tag files."""
        meta = self.layout.experiment_meta(path, strict)
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

    def find(self, experiment_id, with_tags: bool = False) -> tuple[Experiment, str]:
        """(experiment, folder); RESOURCE_DOES_NOT_EXIST if unknown, a TrackletException naming its meta.yaml
        if that cannot be read."""
        found = self.layout.experiment_path(experiment_id)
        exp = self._load_experiment(str(experiment_id), *found, with_tags, strict=True) if found else None
        if exp is None:
            raise _not_found(experiment_id)
        return exp, found[0]

    def _all_experiments(self, with_tags: bool = True) -> list[tuple[Experiment, str]]:
        """(experiment, folder) of every readable experiment, active and deleted."""
        out = []
        for eid, path, trashed in self.layout.experiment_dirs():
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
        self.layout.experiment_metas.forget(meta_path)

    @staticmethod
    def _raw_experiment_meta(path: str) -> dict:
        try:
            return load_meta(os.path.join(path, fio.META))
        except FileNotFoundError:
            return {}
        except CorruptFile as exc:
            raise exc.to_tracklet("experiment metadata") from None

    def _set_run_lifecycle(
        self, run_dir: str, stage: str, deleted_time: int | None, only_if: str, deleted_since: int | None = None
    ) -> None:
        """Experiment deletion/restore (under the root lock): flip one run's stage if it is ``only_if``."""
        layout = self.layout
        with layout.run_lock(run_dir):
            layout.recover(run_dir)  # a batch accepted before the deletion lands with the run
            info = layout.run_info_at(run_dir)
            if info is None or info.lifecycle_stage != only_if:
                return
            if deleted_since is not None:
                meta = load_meta(os.path.join(run_dir, fio.META))
                if int(meta.get("deleted_time") or 0) < deleted_since:
                    return  # deleted before the experiment was: stays deleted
            layout.rewrite_run_meta(
                run_dir, lifecycle_stage=stage, deleted_time=REMOVE if deleted_time is None else deleted_time
            )

    def _artifact_location(self, experiment_id: str) -> str:
        return f"{self.layout.artifact_root_uri.rstrip('/')}/{experiment_id}"

    def _check_name_free(self, name: str) -> None:
        for exp, _ in self._all_experiments(with_tags=False):
            if exp.name == name:
                state = (
                    " (in the deleted state: restore it, or remove it from .trash)"
                    if (exp.lifecycle_stage == _DELETED)
                    else ""
                )
                raise ResourceAlreadyExists(f"Experiment(name={name}) already exists{state}.")

    def ensure_default(self) -> None:
        if self.layout.experiment_path(DEFAULT_EXPERIMENT_ID) is not None:
            return
        with self.layout.root_lock():
            if self.layout.experiment_path(DEFAULT_EXPERIMENT_ID) is None:
                self._create_experiment_dir(DEFAULT_EXPERIMENT_ID, DEFAULT_EXPERIMENT_NAME, None, {})

    def _create_experiment_dir(self, eid: str, name: str, artifact_location: str | None, tags: dict[str, str]) -> None:
        path = os.path.join(self.layout.root, eid)
        os.mkdir(path)  # raises FileExistsError when another writer took this id
        try:
            for key, value in tags.items():
                fio.atomic_write(fio.key_path(os.path.join(path, TAGS), key), value, path)
            now = now_ms()
            exp = Experiment(eid, name, artifact_location or self._artifact_location(eid), _ACTIVE, {}, now, now)
            self._write_experiment_meta(path, exp)  # last: a folder without meta.yaml is not listed yet
        except BaseException:
            shutil.rmtree(path, ignore_errors=True)  # no orphan folder, no id used up
            raise

    # ------------------------------------------------------------------ the Store API
    def create_experiment(
        self, name: str, artifact_location: str | None = None, tags: list[RunTag] | None = None
    ) -> str:
        """Create an active experiment; its id is the largest numeric id in use plus one.

        RESOURCE_ALREADY_EXISTS if the name is taken, even by a deleted experiment."""
        validation.validate_experiment_name(name)
        fio.check_text("experiment name", name)
        fio.check_text("artifact_location", artifact_location)
        tag_map = {}
        for t in tags or []:
            key, value = validation.validate_experiment_tag(t.key, t.value)
            _check_tag(key, value)
            tag_map[key] = value
        conflict = fio.batch_key_conflict(tag_map)
        if conflict:
            raise InvalidParameterValue(f"Invalid experiment tags: {conflict}")
        with self.layout.root_lock():
            self._check_name_free(name)
            ids = [int(eid) for eid, _, _ in self.layout.experiment_dirs() if eid.isdigit()]
            next_id = max(ids, default=0) + 1
            while True:
                try:
                    self._create_experiment_dir(str(next_id), name, artifact_location, tag_map)
                    return str(next_id)
                except FileExistsError:  # a writer that does not take our lock (e.g. MLflow) got there first
                    next_id += 1

    def get_experiment(self, experiment_id: str) -> Experiment:
        """The experiment (active or deleted); RESOURCE_DOES_NOT_EXIST if unknown; a TrackletException naming
        its meta.yaml if that cannot be read."""
        return self.find(experiment_id, with_tags=True)[0]

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
        with self.layout.root_lock():
            exp, path = self.find(experiment_id)
            if exp.lifecycle_stage != _ACTIVE:
                raise ResourceDoesNotExist(f"No active Experiment with id={experiment_id} exists")
            target = os.path.join(self.layout.trash, exp.experiment_id)
            if os.path.exists(target):
                raise InvalidState(f"Cannot delete experiment {experiment_id}: '{target}' already exists")
            now = now_ms()
            for run_dir in self.layout.run_dirs_of(path):
                self._set_run_lifecycle(run_dir, _DELETED, now, only_if=_ACTIVE)
            meta = self._raw_experiment_meta(path)
            self._write_experiment_meta(path, replace(exp, lifecycle_stage=_DELETED, last_update_time=now), meta)
            os.rename(path, target)

    def restore_experiment(self, experiment_id: str) -> None:
        """Move the experiment back from ``.trash`` and restore the runs its deletion deleted."""
        with self.layout.root_lock():
            exp, path = self.find(experiment_id)
            if exp.lifecycle_stage != _DELETED:
                raise ResourceDoesNotExist(f"No deleted Experiment with id={experiment_id} exists")
            target = os.path.join(self.layout.root, exp.experiment_id)
            if os.path.normpath(path) != os.path.normpath(target):
                if os.path.exists(target):
                    raise ResourceAlreadyExists(
                        f"Cannot restore experiment {experiment_id}: an active experiment has the same id"
                    )
                os.rename(path, target)
            deleted_at = exp.last_update_time or 0
            for run_dir in self.layout.run_dirs_of(target):
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
        fio.check_text("experiment name", new_name)
        with self.layout.root_lock():
            exp, path = self.find(experiment_id)
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
        exp, path = self.find(experiment_id)
        if exp.lifecycle_stage != _ACTIVE:
            raise InvalidState(
                f"The experiment {experiment_id} must be in the 'active' state. Current state is {exp.lifecycle_stage}."
            )
        return exp, path

    def set_experiment_tag(self, experiment_id: str, tag: RunTag) -> None:
        """Set (or overwrite) a tag of an active experiment (``tags/<key>``, written atomically)."""
        key, value = validation.validate_experiment_tag(tag.key, tag.value)
        _check_tag(key, value)
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
