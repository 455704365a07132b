"""Logged models in the SQL store: four tables beside the tracking tables, created by schema migration 5.

They live in their own ``MetaData``; migration 5 creates them with ``checkfirst`` because databases of
schema version 4 may already have them (they were created on first use then).
"""

from __future__ import annotations

import sqlalchemy as sa

from tracklet.tracking.stores.logged_models import LoggedModel, LoggedModelStore

metadata = sa.MetaData()
_ID = sa.String(64)

models = sa.Table(
    "logged_models",
    metadata,
    sa.Column("model_id", _ID, primary_key=True),
    sa.Column("experiment_id", sa.String(64), nullable=False, index=True),
    sa.Column("name", sa.String(500), nullable=False),
    sa.Column("artifact_location", sa.Text, nullable=False),
    sa.Column("creation_timestamp", sa.BigInteger, nullable=False),
    sa.Column("last_updated_timestamp", sa.BigInteger, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("model_type", sa.String(500)),
    sa.Column("source_run_id", sa.String(64), index=True),
    sa.Column("status_message", sa.Text),
    sa.Column("lifecycle_stage", sa.String(32), nullable=False),
)


def _key_values(name: str) -> sa.Table:
    return sa.Table(
        name,
        metadata,
        sa.Column("model_id", _ID, primary_key=True),
        sa.Column("key", sa.String(250), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )


model_tags = _key_values("logged_model_tags")
model_params = _key_values("logged_model_params")
run_outputs = sa.Table(
    "run_model_outputs",
    metadata,
    sa.Column("run_id", sa.String(64), primary_key=True),
    sa.Column("model_id", _ID, primary_key=True),
    sa.Column("experiment_id", sa.String(64), nullable=False),
    sa.Column("step", sa.BigInteger, nullable=False),
)
_FIELDS = [c.name for c in models.c]


class SqlLoggedModels(LoggedModelStore):
    """Logged models of a SqlStore, in its database (reads and writes go through the store's transactions)."""

    def _replace(self, conn, table, model_id: str, items: dict[str, str]) -> None:
        if not items:
            return
        conn.execute(table.delete().where(table.c.model_id == model_id, table.c.key.in_(list(items))))
        conn.execute(table.insert(), [{"model_id": model_id, "key": k, "value": v} for k, v in items.items()])

    def _insert(self, model: LoggedModel) -> None:
        with self.store._write() as conn:
            conn.execute(models.insert().values(**{f: getattr(model, f) for f in _FIELDS}))
            self._replace(conn, model_tags, model.model_id, model.tags)
            self._replace(conn, model_params, model.model_id, model.params)

    def _build(self, conn, rows) -> list[LoggedModel]:
        ids = [r.model_id for r in rows]
        if not ids:
            return []
        tags: dict[str, dict] = {i: {} for i in ids}
        params: dict[str, dict] = {i: {} for i in ids}
        for table, into in ((model_tags, tags), (model_params, params)):
            for r in conn.execute(sa.select(table).where(table.c.model_id.in_(ids))):
                into[r.model_id][r.key] = r.value
        return [
            LoggedModel(**{f: getattr(r, f) for f in _FIELDS}, tags=tags[r.model_id], params=params[r.model_id])
            for r in rows
        ]

    def _load(self, model_id: str) -> LoggedModel | None:
        with self.store._read() as conn:
            rows = conn.execute(sa.select(models).where(models.c.model_id == model_id)).all()
            found = self._build(conn, rows)
        return found[0] if found else None

    def _load_all(self, experiment_ids: list[str]) -> list[LoggedModel]:
        with self.store._read() as conn:
            rows = conn.execute(sa.select(models).where(models.c.experiment_id.in_(experiment_ids))).all()
            return self._build(conn, rows)

    def _update(self, model_id: str, **fields) -> None:
        with self.store._write() as conn:
            conn.execute(models.update().where(models.c.model_id == model_id).values(**fields))

    def _set_tags(self, model_id: str, tags: dict[str, str]) -> None:
        with self.store._write() as conn:
            self._replace(conn, model_tags, model_id, tags)

    def _delete_tag(self, model_id: str, key: str) -> None:
        with self.store._write() as conn:
            conn.execute(model_tags.delete().where(model_tags.c.model_id == model_id, model_tags.c.key == key))

    def _set_params(self, model_id: str, params: dict[str, str]) -> None:
        with self.store._write() as conn:
            self._replace(conn, model_params, model_id, params)

    def _add_outputs(self, run_id: str, experiment_id: str, outputs: list[tuple[str, int]]) -> None:
        with self.store._write() as conn:
            for model_id, step in outputs:
                where = (run_outputs.c.run_id == run_id, run_outputs.c.model_id == model_id)
                conn.execute(run_outputs.delete().where(*where))
                row = {"run_id": run_id, "model_id": model_id, "experiment_id": experiment_id, "step": step}
                conn.execute(run_outputs.insert().values(**row))

    def _outputs(self, run_id: str) -> list[tuple[str, int]]:
        with self.store._read() as conn:
            query = sa.select(run_outputs.c.model_id, run_outputs.c.step).where(run_outputs.c.run_id == run_id)
            return [(r.model_id, r.step) for r in conn.execute(query)]
