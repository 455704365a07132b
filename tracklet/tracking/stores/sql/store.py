"""SqlStore: the tracking store on any SQLAlchemy database (SQLite, PostgreSQL, MySQL), on SQLAlchemy Core.

Every call is one transaction. Writes to a run first lock that run (SQLite: ``BEGIN IMMEDIATE``; other
databases: ``SELECT ... FOR UPDATE`` on its ``runs`` row), so the read-then-write steps (param
immutability, the latest-metric row, the log-model history) are atomic across threads and processes.
Experiment methods live in :mod:`.experiments`.
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import sqlite3
import sys
import uuid

import sqlalchemy as sa

from tracklet.exceptions import InvalidState, ResourceDoesNotExist, TrackletException
from tracklet.tracking import search, system_tags, validation, wire
from tracklet.tracking.entities import (
    LifecycleStage,
    Metric,
    PagedList,
    Run,
    RunInfo,
    RunStatus,
    RunTag,
    ViewType,
    make_run_data,
)
from tracklet.tracking.stores.base import Store, now_ms
from tracklet.tracking.stores.sql import _engine, _rows, _writer, schema
from tracklet.tracking.stores.sql.compile import (
    metric_segments,
    probe_statements,
    run_search_statement,
    segment_of,
    sorted_by_start_time,
    sorts_in_sql,
)
from tracklet.tracking.stores.sql.experiments import ExperimentMethods
from tracklet.tracking.stores.sql.history import HistoryMethods
from tracklet.tracking.stores.sql.schema import experiments, latest_metrics, metrics, params, runs, tags

RUN_NAME_TAG = _writer.RUN_NAME_TAG
LOG_MODEL_HISTORY_TAG = system_tags.LOG_MODEL_HISTORY
_ACTIVE, _DELETED = LifecycleStage.ACTIVE, LifecycleStage.DELETED
_WALK_CAP = 1000  # see SqlStore._walks


# Built search statements, by everything they are built from (filter values included): building one and
# SQLAlchemy's cache key for it cost about 2 ms of a 400-run search, and the same search comes back (the UI
# polls, pages, sorts back and forth). Statements are immutable, so threads share them.
@functools.lru_cache(maxsize=256)
def _search_statement(dialect, key, after, drive, segment, limit, offset):
    ids, stages, comparisons, orders = key
    after = list(after) if after is not None else None
    stmt = run_search_statement(dialect, list(ids), stages, comparisons, list(orders), after, segment, drive)
    return stmt.limit(limit).offset(offset)


@functools.lru_cache(maxsize=256)
def _probe_statements(dialect, ids, comparisons, cap) -> tuple:
    return tuple(probe_statements(dialect, list(ids), comparisons, cap))


_b = sa.bindparam
_q_run = sa.select(*runs.c).where(runs.c.run_uuid == _b("r"))
_q_run_exists = sa.select(runs.c.run_uuid).where(runs.c.run_uuid == _b("r"))


class SqlStore(ExperimentMethods, HistoryMethods, Store):
    """Tracking store backed by a SQL database.

    ``db_uri`` is any SQLAlchemy URL; ``default_artifact_root`` is where experiments created without an
    artifact location put their artifacts (``<root>/<experiment_id>``). The schema is created or upgraded
    on first use; experiment "0" ("Default") always exists.
    """

    def __init__(self, db_uri: str, default_artifact_root: str):
        self.db_uri = db_uri
        self.artifact_root_uri = default_artifact_root
        self._engine, single_connection = _engine.create_engine(db_uri)
        self._where = _engine.describe(self._engine.url)
        self._write_engine = self._engine.execution_options(**{_engine.WRITE_OPTION: True})
        self._guard = _engine.make_guard(single_connection)
        self._dialect = self._engine.dialect.name
        # databases without IEEE infinities (MySQL) store +/-inf as the largest double (see ``special``)
        self._inf_stand_in = math.inf if self._dialect in ("sqlite", "postgresql") else sys.float_info.max
        sqlite = self._dialect == "sqlite"
        self._writers = _engine.make_writer_lock(sqlite)
        # (lifecycle_stage, experiment_id); callers that need only the stage take .scalar()
        self._q_lock_run = sa.select(runs.c.lifecycle_stage, runs.c.experiment_id).where(runs.c.run_uuid == _b("r"))
        self._q_lock_experiment = sa.select(*experiments.c).where(experiments.c.experiment_id == _b("e"))
        if not sqlite:
            self._q_lock_run = self._q_lock_run.with_for_update()
            self._q_lock_experiment = self._q_lock_experiment.with_for_update()
        _engine.dispose_after_fork(self._engine)
        self._initialize()

    # ------------------------------------------------------------------ transactions
    @contextlib.contextmanager
    def _database_errors(self):
        """Report a failing database (corrupted file, unreachable server, lock timeout) as a
        TrackletException naming it; constraint violations pass through for the callers that handle them."""
        try:
            yield
        except sa.exc.IntegrityError:
            raise
        except (sa.exc.DBAPIError, sqlite3.DatabaseError) as exc:
            reason = getattr(exc, "orig", None) or exc
            raise TrackletException(f"The tracking database {self._where} failed: {reason}") from exc

    @contextlib.contextmanager
    def _write(self):
        """One write transaction: committed on success, rolled back on any exception."""
        with self._database_errors(), self._guard, self._writers, self._write_engine.begin() as conn:
            yield conn

    @contextlib.contextmanager
    def _read(self):
        """A read-only snapshot (rolled back on exit)."""
        with self._database_errors(), self._guard, self._engine.connect() as conn:
            yield conn

    def _initialize(self) -> None:
        try:
            with self._write() as conn:
                if self._dialect == "postgresql":
                    # two processes creating the schema at once would race on CREATE TABLE
                    conn.exec_driver_sql("SELECT pg_advisory_xact_lock(7261207)")
                schema.upgrade(conn)
                self._ensure_default_experiment(conn)
        except TrackletException as exc:
            self._engine.dispose()
            reason = exc.__cause__.orig if isinstance(exc.__cause__, sa.exc.DBAPIError) else exc.message
            hint = " (is it a SQLite database file?)" if "not a database" in str(reason) else ""
            raise TrackletException(
                f"Cannot open the tracking database {self._where}{hint}: {reason}", exc.error_code
            ) from exc.__cause__

    @functools.cached_property
    def logged_models(self):
        """MLflow 3 logged models kept in this database (``stores/sql/logged_models.py``)."""
        from tracklet.tracking.stores.sql.logged_models import SqlLoggedModels

        return SqlLoggedModels(self)

    def close(self) -> None:
        """Close every pooled connection."""
        self._engine.dispose()

    # ------------------------------------------------------------------ runs
    def _lock_active_run(self, conn, run_id: str) -> _writer.CoreWriter:
        writer = self._core_writer(conn)
        _writer.check_active(writer, run_id)
        return writer

    def _run_row(self, conn, run_id: str):
        row = conn.execute(_q_run, {"r": run_id}).first()
        if row is None:
            raise ResourceDoesNotExist(f"Run with id={run_id} not found")
        return row

    def create_run(
        self, experiment_id: str, user_id: str, start_time: int, tags: list[RunTag], run_name: str | None
    ) -> Run:
        """Create a RUNNING run; ``run_name`` and the ``mlflow.runName`` tag are kept equal."""
        tag_map, run_name = validation.resolve_run_name_and_tags(tags, run_name)
        run_id = uuid.uuid4().hex
        start_time = now_ms() if start_time is None else int(start_time)
        with self._write() as conn:
            exp = self._experiment_row(conn, experiment_id)
            if exp.lifecycle_stage != _ACTIVE:
                raise InvalidState(
                    f"The experiment {experiment_id} must be in the 'active' state to create runs in it. "
                    f"Current state is {exp.lifecycle_stage}."
                )
            artifact_uri = f"{exp.artifact_location.rstrip('/')}/{run_id}/artifacts"
            row = {
                "run_uuid": run_id,
                "name": run_name,
                "experiment_id": exp.experiment_id,
                "user_id": user_id or "",
                "status": RunStatus.RUNNING,
                "start_time": start_time,
                "end_time": None,
                "lifecycle_stage": _ACTIVE,
                "artifact_uri": artifact_uri,
                "deleted_time": None,
            }
            conn.execute(sa.insert(runs), row)
            if tag_map:
                conn.execute(
                    sa.insert(schema.tags),
                    [{"run_uuid": run_id, "key": k, "value": v} for k, v in tag_map.items()],
                )
        info = _rows.run_info_from_row(tuple(row[c.name] for c in runs.c))
        return Run(info=info, data=make_run_data([], {}, tag_map))

    def get_run(self, run_id: str) -> Run:
        """The run with each metric's latest value, its params and tags."""
        with self._read() as conn:
            row = self._run_row(conn, run_id)
            return _rows.load_runs(conn, [row])[0]

    def update_run_info(
        self, run_id: str, run_status: str | None, end_time: int | None, run_name: str | None
    ) -> RunInfo:
        """Set the status, end time and/or name (None leaves a field unchanged)."""
        values: dict = {}
        if run_status is not None:
            values["status"] = RunStatus.normalize(run_status)
        if end_time is not None:
            values["end_time"] = int(end_time)
        if run_name:
            validation.validate_tag(RUN_NAME_TAG, run_name)
            values["name"] = str(run_name)
        with self._write() as conn:
            writer = self._lock_active_run(conn, run_id)
            if values:
                conn.execute(sa.update(runs).where(runs.c.run_uuid == run_id).values(**values))
            if run_name:
                _writer.write_tags(writer, run_id, {RUN_NAME_TAG: str(run_name)})
            return _rows.run_info_from_row(self._run_row(conn, run_id))

    def _set_lifecycle(self, run_id: str, stage: str, deleted_time: int | None) -> None:
        with self._write() as conn:
            current = conn.execute(self._q_lock_run, {"r": run_id}).scalar()
            if current is None:
                raise ResourceDoesNotExist(f"Run with id={run_id} not found")
            if current != stage:  # deleting twice keeps the first deletion time
                conn.execute(
                    sa.update(runs)
                    .where(runs.c.run_uuid == run_id)
                    .values(lifecycle_stage=stage, deleted_time=deleted_time)
                )

    def delete_run(self, run_id: str) -> None:
        """Soft-delete: the run disappears from ACTIVE_ONLY searches and rejects writes."""
        self._set_lifecycle(run_id, _DELETED, now_ms())

    def restore_run(self, run_id: str) -> None:
        """Undo :meth:`delete_run`."""
        self._set_lifecycle(run_id, _ACTIVE, None)

    def hard_delete_run(self, run_id: str) -> None:
        """Remove every row of the run (metrics, params, tags, the run itself)."""
        with self._write() as conn:
            if conn.execute(self._q_lock_run, {"r": run_id}).scalar() is None:
                raise ResourceDoesNotExist(f"Run with id={run_id} not found")
            for table in (metrics, latest_metrics, schema.metric_buckets, params, tags, schema.inputs, runs):
                conn.execute(sa.delete(table).where(table.c.run_uuid == run_id))

    # ------------------------------------------------------------------ logging
    def log_batch(self, run_id: str, metrics: list[Metric], params: list, tags: list[RunTag]) -> None:
        """Validate the whole batch, then write it in one transaction (all or nothing)."""
        validation.validate_batch(metrics, params, tags)
        if self._dialect == "sqlite":
            with self._sqlite_write() as writer:
                _writer.write_batch(writer, run_id, metrics, params, tags, self._inf_stand_in)
            return
        with self._write() as conn:
            _writer.write_batch(self._core_writer(conn), run_id, metrics, params, tags, self._inf_stand_in)

    @contextlib.contextmanager
    def _sqlite_write(self):
        """A BEGIN IMMEDIATE transaction on a pooled sqlite3 connection, for the fixed SQL of SqliteWriter."""
        with self._database_errors(), self._guard, self._writers:
            raw = self._engine.raw_connection()
            try:
                cursor = raw.cursor()
                cursor.execute("BEGIN IMMEDIATE")
                try:
                    yield _writer.SqliteWriter(cursor)
                except BaseException:
                    raw.rollback()
                    raise
                raw.commit()
            finally:
                raw.close()

    def _core_writer(self, conn) -> _writer.CoreWriter:
        return _writer.CoreWriter(conn, self._q_lock_run)

    def delete_tag(self, run_id: str, key: str) -> None:
        """Remove a run tag; RESOURCE_DOES_NOT_EXIST if the run has no such tag."""
        with self._write() as conn:
            self._lock_active_run(conn, run_id)
            result = conn.execute(sa.delete(tags).where(tags.c.run_uuid == run_id, tags.c.key == key))
            if result.rowcount == 0:
                raise ResourceDoesNotExist(f"No tag with name: {key} in run with id {run_id}")

    def record_logged_model(self, run_id: str, model_dict: dict) -> None:
        """Append ``model_dict`` to the ``mlflow.log-model.history`` tag inside the run's write lock."""
        with self._write() as conn:
            writer = self._lock_active_run(conn, run_id)
            current = conn.execute(
                sa.select(tags.c.value).where(tags.c.run_uuid == run_id, tags.c.key == LOG_MODEL_HISTORY_TAG)
            ).scalar()
            try:
                history = json.loads(current) if current else []
            except ValueError:
                history = []
            if not isinstance(history, list):
                history = [history]
            history.append(model_dict)
            _writer.write_tags(writer, run_id, {LOG_MODEL_HISTORY_TAG: json.dumps(history)})

    def log_inputs(self, run_id: str, datasets: list) -> None:
        """Link dataset inputs to the run: each dataset is stored once per experiment (by name and digest),
        and each (dataset, ``mlflow.data.context``) once per run; a repeat is ignored."""
        entries = validation.validate_dataset_inputs(datasets)
        with self._write() as conn:
            self._lock_active_run(conn, run_id)
            experiment_id = conn.execute(sa.select(runs.c.experiment_id).where(runs.c.run_uuid == run_id)).scalar()
            linked = {
                (d, ctx)
                for d, ctx in conn.execute(
                    sa.select(schema.inputs.c.dataset_uuid, schema.inputs.c.context).where(
                        schema.inputs.c.run_uuid == run_id
                    )
                )
            }
            position = len(linked)
            for dataset, input_tags in entries:
                dataset_uuid = self._dataset_uuid(conn, experiment_id, dataset)
                context = input_tags.get(validation.DATASET_CONTEXT_TAG, "")
                if (dataset_uuid, context) in linked:
                    continue
                linked.add((dataset_uuid, context))
                position += 1
                conn.execute(
                    sa.insert(schema.inputs).values(
                        run_uuid=run_id,
                        dataset_uuid=dataset_uuid,
                        context=context,
                        tags=json.dumps(input_tags),
                        position=position,
                    )
                )

    def _dataset_uuid(self, conn, experiment_id: int, dataset) -> str:
        """The id of the experiment's dataset with this name and digest, inserting it if new."""
        t = schema.datasets
        query = sa.select(t.c.dataset_uuid).where(
            t.c.experiment_id == experiment_id, t.c.name == dataset.name, t.c.digest == dataset.digest
        )
        found = conn.execute(query).scalar()
        if found is not None:
            return found
        row = {
            "dataset_uuid": uuid.uuid4().hex,
            "experiment_id": experiment_id,
            "name": dataset.name,
            "digest": dataset.digest,
            "source_type": dataset.source_type or "",
            "source": dataset.source or "",
            "schema": dataset.schema,
            "profile": dataset.profile,
        }
        if self._dialect == "sqlite":  # BEGIN IMMEDIATE: no other writer can insert it meanwhile
            conn.execute(sa.insert(t).values(**row))
            return row["dataset_uuid"]
        try:  # another run of the experiment may insert the same dataset concurrently
            with conn.begin_nested():
                conn.execute(sa.insert(t).values(**row))
            return row["dataset_uuid"]
        except sa.exc.IntegrityError:
            return conn.execute(query).scalar_one()

    # ------------------------------------------------------------------ search
    def search_runs(
        self,
        experiment_ids: list[str],
        filter_string: str | None,
        run_view_type: int,
        max_results: int = validation.MAX_RESULTS_DEFAULT,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList:
        """Runs of ``experiment_ids`` matching ``filter_string``, sorted and paged, filtered in SQL."""
        page, token = self._search(experiment_ids, filter_string, run_view_type, max_results, order_by, page_token)
        return PagedList(page, token)

    def search_runs_json(
        self,
        experiment_ids: list[str],
        filter_string: str | None,
        run_view_type: int,
        max_results: int = validation.MAX_RESULTS_DEFAULT,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> tuple[list[dict], str | None]:
        """:meth:`search_runs`'s page as the REST API's JSON runs (and the next page's token), built from the
        rows without the entities: what the server answers."""
        args = (experiment_ids, filter_string, run_view_type, max_results, order_by, page_token)
        return self._search(*args, as_json=True)

    def _search(self, experiment_ids, filter_string, run_view_type, max_results, order_by, page_token, as_json=False):
        max_results = validation.validate_max_results(max_results)
        comparisons = search.parse_filter(filter_string)
        orders = search.parse_order_by(order_by)
        offset, after = search.decode_page_state(page_token)
        stages = ViewType.stages(run_view_type)
        ids = [int(e) for e in (str(x) for x in experiment_ids or []) if e.isdigit()]
        if not ids:
            return [], None
        load = _rows.load_runs_json if as_json else _rows.load_runs
        with self._read() as conn:
            if not sorts_in_sql(orders):  # dozens of sort keys: sort the selected runs as the file store does
                stmt = run_search_statement(self._dialect, ids, stages, comparisons, orders)
                page, token = search.paginate(
                    search.sort_runs(_rows.load_runs(conn, conn.execute(stmt).cursor.fetchall()), orders),
                    max_results,
                    page_token,
                )
                return ([wire.run_to_json(run) for run in page] if as_json else page), token
            # the page after the last row served (keyset), so runs logged meanwhile shift nothing
            walk = self._walks(conn, ids, comparisons, orders, max_results, offset, after)
            key = (tuple(ids), tuple(stages), tuple(comparisons), tuple(orders))
            after = None if after is None else tuple(after)
            if walk and metric_segments(orders):
                rows = self._segmented_rows(conn, key, orders, max_results, after)
            else:
                first = 0 if after is not None else offset
                stmt = _search_statement(self._dialect, key, after, not walk, None, max_results + 1, first)
                rows = conn.execute(stmt).cursor.fetchall()
            token = None
            if len(rows) > max_results:
                last = rows[max_results - 1]
                token = search.encode_page_token(offset + max_results, list(last[len(runs.c) :]))
            return load(conn, rows[:max_results]), token

    def _walks(self, conn, ids, comparisons, orders, max_results, offset, after) -> bool:
        """Whether to read the runs in page order, checking the filters per run (walking the sort metric's
        index in metric segments, or the start-time index), rather than starting from the runs passing the
        most selective filter: the search is sorted first by a metric or the start time over one experiment
        (an index range in page order), and no metric/param filter is selective (each passes at least
        ``_WALK_CAP`` runs: then the walk meets a passing run every few rows, while a driver visits them all)."""
        walkable = metric_segments(orders) is not None or sorted_by_start_time(orders)
        if len(ids) != 1 or not walkable or (after is None and offset):
            return False
        cap = max(_WALK_CAP, 10 * (max_results + 1))
        return all(
            conn.execute(probe).scalar() >= cap
            for probe in _probe_statements(self._dialect, tuple(ids), tuple(comparisons), cap)
        )

    def _segmented_rows(self, conn, key, orders, max_results, after) -> list:
        segments = metric_segments(orders)
        if after is not None:
            segments = segments[segments.index(segment_of(after)) :]
        rows: list = []
        for segment in segments:
            stmt = _search_statement(self._dialect, key, after, True, segment, max_results + 1 - len(rows), None)
            rows += conn.execute(stmt).cursor.fetchall()
            if len(rows) > max_results:
                break
        return rows
