"""The experiment half of SqlStore (a mixin: it uses the store's engine, transactions and locks)."""

from __future__ import annotations

import sqlalchemy as sa

from tracklet.exceptions import (
    InvalidParameterValue,
    InvalidState,
    ResourceAlreadyExists,
    ResourceDoesNotExist,
)
from tracklet.tracking import search, validation
from tracklet.tracking.entities import Experiment, LifecycleStage, PagedList, RunTag, ViewType
from tracklet.tracking.stores.base import now_ms
from tracklet.tracking.stores.sql import _rows
from tracklet.tracking.stores.sql.compile import experiment_search_statement
from tracklet.tracking.stores.sql.schema import experiment_tags, experiments, runs

DEFAULT_EXPERIMENT_ID = 0
DEFAULT_EXPERIMENT_NAME = "Default"
_MAX_ID = 2**31 - 1
_ACTIVE, _DELETED = LifecycleStage.ACTIVE, LifecycleStage.DELETED
_q_by_name = sa.select(*experiments.c).where(experiments.c.name == sa.bindparam("n"))


def _id(experiment_id) -> int | None:
    """The integer id, or None when ``experiment_id`` cannot be an id of this store."""
    text = str(experiment_id)
    if not text.isdigit() or int(text) > _MAX_ID:
        return None
    return int(text)


class ExperimentMethods:
    """Experiment CRUD and search for :class:`~tracklet.tracking.stores.sql.SqlStore`."""

    def _artifact_location(self, experiment_id: int) -> str:
        return f"{self.artifact_root_uri.rstrip('/')}/{experiment_id}"

    def _ensure_default_experiment(self, conn) -> None:
        exists = conn.execute(
            sa.select(experiments.c.experiment_id).where(experiments.c.experiment_id == DEFAULT_EXPERIMENT_ID)
        ).first()
        if exists:
            return
        now = now_ms()
        values = {
            "name": DEFAULT_EXPERIMENT_NAME,
            "artifact_location": self._artifact_location(DEFAULT_EXPERIMENT_ID),
            "lifecycle_stage": _ACTIVE,
            "creation_time": now,
            "last_update_time": now,
        }
        if self._dialect == "mysql":
            # MySQL turns an inserted 0 into the next AUTO_INCREMENT value, so move the row to 0 afterwards
            new_id = conn.execute(sa.insert(experiments).values(**values)).inserted_primary_key[0]
            conn.execute(
                sa.update(experiments)
                .where(experiments.c.experiment_id == new_id)
                .values(experiment_id=DEFAULT_EXPERIMENT_ID)
            )
        else:
            conn.execute(sa.insert(experiments).values(experiment_id=DEFAULT_EXPERIMENT_ID, **values))

    def _experiment_row(self, conn, experiment_id, lock: bool = False):
        eid = _id(experiment_id)
        row = None
        if eid is not None:
            query = (
                self._q_lock_experiment
                if lock
                else sa.select(*experiments.c).where(experiments.c.experiment_id == sa.bindparam("e"))
            )
            row = conn.execute(query, {"e": eid}).first()
        if row is None:
            raise ResourceDoesNotExist(f"No Experiment with id={experiment_id} exists")
        return row

    def _check_name_free(self, conn, name: str) -> None:
        if conn.execute(_q_by_name, {"n": name}).first() is not None:
            raise ResourceAlreadyExists(f"Experiment(name={name}) already exists.")

    def create_experiment(
        self, name: str, artifact_location: str | None = None, tags: list[RunTag] | None = None
    ) -> str:
        """Create an active experiment and return its id; RESOURCE_ALREADY_EXISTS if the name is taken
        (even by a deleted experiment)."""
        validation.validate_experiment_name(name)
        tag_map = {}
        for t in tags or []:
            key, value = validation.validate_experiment_tag(t.key, t.value)
            tag_map[key] = value
        now = now_ms()
        try:
            with self._write() as conn:
                self._check_name_free(conn, name)
                result = conn.execute(
                    sa.insert(experiments).values(
                        name=name,
                        artifact_location=artifact_location or "",
                        lifecycle_stage=_ACTIVE,
                        creation_time=now,
                        last_update_time=now,
                    )
                )
                eid = result.inserted_primary_key[0]
                if not artifact_location:
                    conn.execute(
                        sa.update(experiments)
                        .where(experiments.c.experiment_id == eid)
                        .values(artifact_location=self._artifact_location(eid))
                    )
                if tag_map:
                    conn.execute(
                        sa.insert(experiment_tags),
                        [{"experiment_id": eid, "key": k, "value": v} for k, v in tag_map.items()],
                    )
        except sa.exc.IntegrityError:
            # another writer created the same name between our check and our insert
            raise ResourceAlreadyExists(f"Experiment(name={name}) already exists.") from None
        return str(eid)

    def get_experiment(self, experiment_id: str) -> Experiment:
        """The experiment (active or deleted); RESOURCE_DOES_NOT_EXIST if unknown."""
        with self._read() as conn:
            return _rows.load_experiments(conn, [self._experiment_row(conn, experiment_id)])[0]

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        """The experiment called ``name`` (active or deleted), or None."""
        with self._read() as conn:
            row = conn.execute(_q_by_name, {"n": name}).first()
            return _rows.load_experiments(conn, [row])[0] if row is not None else None

    def search_experiments(
        self,
        view_type: int = ViewType.ACTIVE_ONLY,
        max_results: int = validation.MAX_RESULTS_DEFAULT,
        filter_string: str | None = None,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList:
        """Experiments matching ``filter_string`` (``name LIKE 'a%'``, ``tags.team = 'x'``, ...), sorted
        by ``order_by`` (default: newest first) and paged."""
        max_results = validation.validate_max_results(max_results)
        comparisons = search.parse_experiment_filter(filter_string)
        orders = search.parse_order_by(order_by, experiments=True)
        offset = search.decode_page_token(page_token)
        stmt = experiment_search_statement(self._dialect, ViewType.stages(view_type), comparisons, orders)
        stmt = stmt.limit(max_results + 1).offset(offset)
        with self._read() as conn:
            rows = conn.execute(stmt).all()
            token = search.encode_page_token(offset + max_results) if len(rows) > max_results else None
            return PagedList(_rows.load_experiments(conn, rows[:max_results]), token)

    def delete_experiment(self, experiment_id: str) -> None:
        """Soft-delete an active experiment and every active run in it. The default experiment stays."""
        if _id(experiment_id) == DEFAULT_EXPERIMENT_ID:
            raise InvalidParameterValue("The default experiment (id 0) cannot be deleted")
        now = now_ms()
        with self._write() as conn:
            row = self._experiment_row(conn, experiment_id, lock=True)
            if row.lifecycle_stage != _ACTIVE:
                raise ResourceDoesNotExist(f"No active Experiment with id={experiment_id} exists")
            conn.execute(
                sa.update(experiments)
                .where(experiments.c.experiment_id == row.experiment_id)
                .values(lifecycle_stage=_DELETED, last_update_time=now)
            )
            conn.execute(
                sa.update(runs)
                .where(runs.c.experiment_id == row.experiment_id, runs.c.lifecycle_stage == _ACTIVE)
                .values(lifecycle_stage=_DELETED, deleted_time=now)
            )

    def restore_experiment(self, experiment_id: str) -> None:
        """Restore a deleted experiment and the runs its deletion deleted (not runs deleted before)."""
        with self._write() as conn:
            row = self._experiment_row(conn, experiment_id, lock=True)
            if row.lifecycle_stage != _DELETED:
                raise ResourceDoesNotExist(f"No deleted Experiment with id={experiment_id} exists")
            deleted_at = row.last_update_time  # delete_experiment stamped its runs with this time
            conn.execute(
                sa.update(experiments)
                .where(experiments.c.experiment_id == row.experiment_id)
                .values(lifecycle_stage=_ACTIVE, last_update_time=now_ms())
            )
            conn.execute(
                sa.update(runs)
                .where(
                    runs.c.experiment_id == row.experiment_id,
                    runs.c.lifecycle_stage == _DELETED,
                    runs.c.deleted_time == deleted_at,
                )
                .values(lifecycle_stage=_ACTIVE, deleted_time=None)
            )

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        """Rename an active experiment; RESOURCE_ALREADY_EXISTS if ``new_name`` is taken."""
        validation.validate_experiment_name(new_name)
        try:
            with self._write() as conn:
                row = self._experiment_row(conn, experiment_id, lock=True)
                if row.lifecycle_stage != _ACTIVE:
                    raise InvalidState(f"Cannot rename a non-active experiment (id={experiment_id}).")
                if row.name == new_name:
                    return
                self._check_name_free(conn, new_name)
                conn.execute(
                    sa.update(experiments)
                    .where(experiments.c.experiment_id == row.experiment_id)
                    .values(name=new_name, last_update_time=now_ms())
                )
        except sa.exc.IntegrityError:
            raise ResourceAlreadyExists(f"Experiment(name={new_name}) already exists.") from None

    def set_experiment_tag(self, experiment_id: str, tag: RunTag) -> None:
        """Set (or overwrite) a tag of an active experiment."""
        key, value = validation.validate_experiment_tag(tag.key, tag.value)
        with self._write() as conn:
            row = self._active_experiment(conn, experiment_id)
            where = (experiment_tags.c.experiment_id == row.experiment_id, experiment_tags.c.key == key)
            if conn.execute(sa.update(experiment_tags).where(*where).values(value=value)).rowcount == 0:
                conn.execute(sa.insert(experiment_tags).values(experiment_id=row.experiment_id, key=key, value=value))

    def delete_experiment_tag(self, experiment_id: str, key: str) -> None:
        """Remove a tag of an active experiment; RESOURCE_DOES_NOT_EXIST if it has no such tag."""
        with self._write() as conn:
            row = self._active_experiment(conn, experiment_id)
            result = conn.execute(
                sa.delete(experiment_tags).where(
                    experiment_tags.c.experiment_id == row.experiment_id, experiment_tags.c.key == key
                )
            )
            if result.rowcount == 0:
                raise ResourceDoesNotExist(f"No tag with name: {key} in experiment with id {experiment_id}")

    def _active_experiment(self, conn, experiment_id):
        row = self._experiment_row(conn, experiment_id, lock=True)
        if row.lifecycle_stage != _ACTIVE:
            raise InvalidState(
                f"The experiment {experiment_id} must be in the 'active' state. Current state is {row.lifecycle_stage}."
            )
        return row
