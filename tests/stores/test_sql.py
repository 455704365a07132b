"""What only the SQL store has: SQLite pragmas, the schema version and migrations, several processes
writing one SQLite file, in-memory databases, and searches compiled to SQL."""

from __future__ import annotations

import json
import math
import multiprocessing
import threading
import uuid

import pytest
import sqlalchemy as sa

from tracklet.exceptions import TrackletException
from tracklet.tracking.entities import Metric, Param, RunTag, ViewType
from tracklet.tracking.stores.sql import SqlStore, schema
from tracklet.tracking.stores.sql._engine import resolve_url

T0 = 1_700_000_000_000


def sqlite_uri(tmp_path, name="tracking.db") -> str:
    return f"sqlite:///{tmp_path / name}"


@pytest.fixture
def sql_store(tmp_path):
    s = SqlStore(sqlite_uri(tmp_path), (tmp_path / "artifacts").as_uri())
    yield s
    s.close()


def test_sqlite_pragmas_on_every_connection(sql_store):
    engine = sql_store._engine
    with engine.connect() as first, engine.connect() as second:  # two pooled connections
        for conn in (first, second):
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL


def test_parent_directory_is_created(tmp_path):
    s = SqlStore(f"sqlite:///{tmp_path / 'a' / 'b' / 'x.db'}", (tmp_path / "art").as_uri())
    assert (tmp_path / "a" / "b" / "x.db").exists()
    s.close()


def test_schema_version_and_tables(sql_store):
    with sql_store._engine.connect() as conn:
        assert schema.current_version(conn) == schema.LATEST_VERSION == len(schema.MIGRATIONS)
        names = set(sa.inspect(conn).get_table_names())
    assert {
        "schema_version",
        "experiments",
        "experiment_tags",
        "runs",
        "metrics",
        "latest_metrics",
        "params",
        "tags",
    } <= names


def _add_note_column(conn) -> None:
    conn.exec_driver_sql("ALTER TABLE runs ADD COLUMN note VARCHAR(100) DEFAULT 'none'")


def test_migration_upgrades_an_older_database(tmp_path):
    uri = sqlite_uri(tmp_path)
    old = SqlStore(uri, (tmp_path / "art").as_uri())
    rid = old.create_run("0", "u", T0, [], "kept").info.run_id
    old.log_param(rid, Param("p", "1"))
    old.close()

    engine = sa.create_engine(uri)
    with engine.begin() as conn:
        assert schema.upgrade(conn, [*schema.MIGRATIONS, _add_note_column]) == len(schema.MIGRATIONS) + 1
    with engine.begin() as conn:  # applying again is a no-op
        assert schema.upgrade(conn, [*schema.MIGRATIONS, _add_note_column]) == len(schema.MIGRATIONS) + 1
        assert conn.exec_driver_sql("SELECT version FROM schema_version").all() == [(len(schema.MIGRATIONS) + 1,)]
        assert conn.exec_driver_sql("SELECT name, note FROM runs").all() == [("kept", "none")]
    engine.dispose()

    # the data written before the migration is intact; this code (one version older) refuses the newer schema
    with pytest.raises(TrackletException, match="newer"):
        SqlStore(uri, (tmp_path / "art").as_uri())


def test_empty_database_file_is_initialised(tmp_path):
    (tmp_path / "empty.db").touch()
    s = SqlStore(sqlite_uri(tmp_path, "empty.db"), (tmp_path / "art").as_uri())
    assert s.get_experiment("0").name == "Default"
    s.close()
    again = SqlStore(sqlite_uri(tmp_path, "empty.db"), (tmp_path / "art").as_uri())  # reopening keeps data
    assert [e.name for e in again.search_experiments()] == ["Default"]
    again.close()


def test_special_metric_values_are_encoded(sql_store):
    rid = sql_store.create_run("0", "u", T0, [], "r").info.run_id
    sql_store.log_batch(
        rid, [Metric("m", v, T0, i) for i, v in enumerate([1.5, math.nan, math.inf, -math.inf])], [], []
    )
    with sql_store._engine.connect() as conn:
        rows = conn.execute(sa.select(schema.metrics.c.special).order_by(schema.metrics.c.step)).scalars().all()
    assert rows == [0, 1, 2, 3]


def test_in_memory_database_shared_by_threads(tmp_path):
    s = SqlStore("sqlite://", (tmp_path / "art").as_uri())
    rid = s.create_run("0", "u", T0, [], "mem").info.run_id
    threads = [
        threading.Thread(
            target=lambda n=n: [s.log_metric(rid, Metric("m", float(i), T0, n * 100 + i)) for i in range(25)]
        )
        for n in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(s.get_metric_history(rid, "m")) == 100
    s.close()


def test_resolve_url_picks_an_installed_driver():
    url = resolve_url("postgres://u:p@localhost/db")
    assert url.get_backend_name() == "postgresql"
    assert url.database == "db"
    assert resolve_url("sqlite:///x.db").drivername == "sqlite"


# ---------------------------------------------------------------------------- several processes


def _open_and_create(uri: str, artifact_root: str, n: int, barrier) -> None:
    barrier.wait(60)  # every process opens the fresh database at the same moment
    store = SqlStore(uri, artifact_root)
    store.create_experiment(f"proc-{n}")
    store.close()


def _log_from_process(uri: str, artifact_root: str, shared_run: str, n: int, batches: int, barrier) -> None:
    store = SqlStore(uri, artifact_root)
    barrier.wait(60)  # start logging together, so the writes really interleave
    for i in range(batches):
        step = n * 10_000 + i
        store.log_batch(
            shared_run,
            [Metric("shared", float(step), T0 + i, step), Metric(f"proc{n}", float(i), T0 + i, i)],
            [Param(f"p{n}-{i}", str(i))] if i % 10 == 0 else [],
            [RunTag(f"last{n}", str(i))],
        )
        if i % 20 == 0:
            store.record_logged_model(shared_run, {"artifact_path": f"model-{n}-{i}"})
    store.close()


def _run_processes(target, arg_tuples) -> None:
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(len(arg_tuples))
    workers = [ctx.Process(target=target, args=(*args, barrier)) for args in arg_tuples]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=120)
    assert [w.exitcode for w in workers] == [0] * len(workers)


def test_several_processes_open_a_fresh_database_at_once(tmp_path):
    uri, root = sqlite_uri(tmp_path), (tmp_path / "art").as_uri()
    _run_processes(_open_and_create, [(uri, root, n) for n in range(3)])
    s = SqlStore(uri, root)
    assert sorted(e.name for e in s.search_experiments()) == ["Default", "proc-0", "proc-1", "proc-2"]
    s.close()


def test_several_processes_log_to_one_sqlite_file_and_lose_nothing(tmp_path):
    uri, root = sqlite_uri(tmp_path), (tmp_path / "art").as_uri()
    store = SqlStore(uri, root)
    rid = store.create_run("0", "u", T0, [], "shared").info.run_id
    procs, batches = 3, 200
    _run_processes(_log_from_process, [(uri, root, rid, n, batches) for n in range(procs)])
    assert len(store.get_metric_history(rid, "shared")) == procs * batches
    data = store.get_run(rid).data
    assert data.metrics["shared"] == float((procs - 1) * 10_000 + batches - 1)
    for n in range(procs):
        assert len(store.get_metric_history(rid, f"proc{n}")) == batches
        assert data.metrics[f"proc{n}"] == float(batches - 1)
        assert data.tags[f"last{n}"] == str(batches - 1)
    assert len(data.params) == procs * batches // 10
    history = json.loads(data.tags["mlflow.log-model.history"])
    assert len(history) == procs * batches // 20
    store.close()


# ---------------------------------------------------------------------------- searches run in SQL


def _bulk_runs(store: SqlStore, count: int) -> dict[str, tuple[float, int]]:
    """Insert ``count`` runs straight into the tables (fast), each with metric ``acc`` and param ``kind``."""
    runs, latest, params = [], [], []
    expected = {}
    for i in range(count):
        rid = uuid.uuid4().hex
        acc = (i * 37 % 1000) / 1000
        runs.append(
            {
                "run_uuid": rid,
                "name": f"run{i}",
                "experiment_id": 0,
                "user_id": "u",
                "status": "FINISHED",
                "start_time": T0 + i,
                "end_time": None,
                "lifecycle_stage": "active",
                "artifact_uri": f"x/{rid}",
                "deleted_time": None,
            }
        )
        latest.append(
            {"run_uuid": rid, "key": "acc", "value": acc, "special": 0, "timestamp": T0, "step": 0, "experiment_id": 0}
        )
        params.append({"run_uuid": rid, "key": "kind", "value": "a" if i % 3 else "b", "experiment_id": 0})
        if i % 3 and acc > 0.5:
            expected[rid] = (acc, i)
    with store._engine.begin() as conn:
        conn.execute(schema.runs.insert(), runs)
        conn.execute(schema.latest_metrics.insert(), latest)
        conn.execute(schema.params.insert(), params)
    return expected


def test_search_is_compiled_to_sql_and_loads_pages_in_bulk(sql_store):
    expected = _bulk_runs(sql_store, 3000)
    statements = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    sa.event.listen(sql_store._engine, "before_cursor_execute", record)
    try:
        page = sql_store.search_runs(
            ["0"],
            "metrics.acc > 0.5 and params.kind = 'a'",
            ViewType.ACTIVE_ONLY,
            100,
            ["metrics.acc DESC"],
            None,
        )
    finally:
        sa.event.remove(sql_store._engine, "before_cursor_execute", record)
    # ties on acc fall back to the default order: start_time DESC
    best = sorted(expected, key=lambda rid: (-expected[rid][0], -expected[rid][1]))
    assert [r.info.run_id for r in page] == best[:100]
    assert page.token is not None
    # a capped count per metric/param filter picks the plan, at most one statement per metric segment
    # (NaN, numbers, missing) filters, sorts and limits; four more load the page's metrics, params, tags, inputs
    queries = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert len(queries) <= 2 + 3 + 4
    assert all("LIMIT" in q and "ORDER BY" in q for q in queries[2:-4])
    assert "EXISTS" in queries[2] and all(" IN (" in q for q in queries[-4:])

    everything, token = [], None
    while True:
        page = sql_store.search_runs(
            ["0"],
            "metrics.acc > 0.5 and params.kind = 'a'",
            ViewType.ACTIVE_ONLY,
            1000,
            ["metrics.acc DESC"],
            token,
        )
        everything += [r.info.run_id for r in page]
        token = page.token
        if token is None:
            break
    assert everything == best


def test_core_writer_matches_the_sqlite_fast_path(sql_store):
    """log_batch runs fixed SQL on SQLite and SQLAlchemy Core elsewhere: both must store the same thing."""
    from tracklet.tracking.stores.sql import _writer

    batches = [
        (
            [Metric("a", 1.0, T0, 1), Metric("a", 0.5, T0 + 5, 0), Metric("b", math.nan, T0, 0)],
            [Param("p", "1")],
            [RunTag("t", "x"), RunTag("mlflow.runName", "renamed")],
        ),
        (
            [Metric("a", 2.0, T0, 1), Metric("b", 3.0, T0, 0), Metric("c", -math.inf, T0, 0)],
            [Param("p", "1"), Param("q", "2")],
            [RunTag("t", "y")],
        ),
        ([Metric("a", 9.0, T0 - 1, 1)], [], []),
    ]
    fast = sql_store.create_run("0", "u", T0, [], "fast").info.run_id
    core = sql_store.create_run("0", "u", T0, [], "core").info.run_id
    for metrics, params, tags in batches:
        sql_store.log_batch(fast, metrics, params, tags)
        with sql_store._write() as conn:
            _writer.write_batch(sql_store._core_writer(conn), core, metrics, params, tags, math.inf)
    with pytest.raises(Exception, match="Changing param values"), sql_store._write() as conn:
        _writer.write_batch(sql_store._core_writer(conn), core, [], [Param("p", "other")], [], math.inf)

    a, b = sql_store.get_run(fast), sql_store.get_run(core)
    assert a.info.run_name == b.info.run_name == "renamed"
    assert a.data.params == b.data.params == {"p": "1", "q": "2"}
    assert a.data.tags == b.data.tags
    assert a.data.metric_objs == b.data.metric_objs
    assert a.data.metrics == {"a": 2.0, "b": 3.0, "c": -math.inf}
    with sql_store._engine.connect() as conn:  # both paths record the run's experiment for the search indexes
        for table in (schema.latest_metrics, schema.params):
            assert set(conn.execute(sa.select(table.c.experiment_id)).scalars()) == {0}
    for key in ("a", "b", "c"):
        assert repr(sql_store.get_metric_history(fast, key)) == repr(sql_store.get_metric_history(core, key))


def test_upgrade_to_v4_backfills_experiment_ids_and_metric_buckets(tmp_path):
    """A version 2 database (before the search indexes and the bucket summaries) is upgraded in place: its
    runs are found by the indexed search and its histories downsample exactly like the generic version."""
    from tracklet.tracking.stores.base import Store

    uri = sqlite_uri(tmp_path)
    engine = sa.create_engine(uri)
    with engine.begin() as conn:
        assert schema.upgrade(conn, schema.MIGRATIONS[:2]) == 2
        conn.execute(
            schema.experiments.insert().values(
                experiment_id=0, name="Default", artifact_location="x", lifecycle_stage="active", creation_time=T0
            )
        )
        for i, rid in enumerate(["a" * 32, "b" * 32]):
            conn.execute(
                schema.runs.insert().values(
                    run_uuid=rid,
                    name=f"r{i}",
                    experiment_id=0,
                    user_id="u",
                    status="RUNNING",
                    start_time=T0 + i,
                    lifecycle_stage="active",
                    artifact_uri="x",
                )
            )
            conn.execute(
                sa.text("INSERT INTO params (run_uuid, key, value) VALUES (:r, 'p', :v)"), {"r": rid, "v": str(i)}
            )
            conn.execute(
                sa.text(
                    "INSERT INTO latest_metrics (run_uuid, key, value, special, timestamp, step) "
                    "VALUES (:r, 'm', :v, 0, 0, 0)"
                ),
                {"r": rid, "v": float(i)},
            )
            conn.execute(
                schema.metrics.insert(),
                [
                    {
                        "run_uuid": rid,
                        "key": "m",
                        "value": math.sin(s) * (s % 97),
                        "special": 0,
                        "timestamp": T0 + s,
                        "step": s,
                    }
                    for s in range(1000)
                ],
            )
    engine.dispose()
    store = SqlStore(uri, (tmp_path / "art").as_uri())
    with store._engine.connect() as conn:
        assert schema.current_version(conn) == schema.LATEST_VERSION
        assert set(conn.execute(sa.select(schema.params.c.experiment_id)).scalars()) == {0}
        assert conn.execute(sa.select(sa.func.count()).select_from(schema.metric_buckets)).scalar() > 0
    found = store.search_runs(["0"], "params.p = '1' and metrics.m >= 1", ViewType.ACTIVE_ONLY, 10, None, None)
    assert [r.info.run_name for r in found] == ["r1"]
    for max_results, start, end in [(50, None, None), (300, 100, 900), (8, 5, 70)]:
        fast = store.get_metric_history_bulk_interval(["a" * 32, "b" * 32], "m", max_results, start, end)
        generic = Store.get_metric_history_bulk_interval(store, ["a" * 32, "b" * 32], "m", max_results, start, end)
        assert fast == generic and 0 < len(fast) <= 2 * max_results
    store.close()


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
@pytest.mark.parametrize(
    "order_by",
    [None, ["metrics.m DESC"], ["params.p", "attributes.end_time"], ["tags.t DESC", "metrics.m ASC"]],
)
def test_page_tokens_stay_right_while_runs_are_added(kind, order_by, tmp_path):
    """Paging resumes after the last run served (keyset), so runs created or deleted between two pages
    neither repeat nor skip any of the runs that existed throughout."""
    from tests.stores.conftest import make_store

    store = make_store(kind, tmp_path)
    eid = store.create_experiment("paging")

    def add(n, start):
        rid = store.create_run(eid, "u", start, [], f"r{start}").info.run_id
        metrics = [Metric("m", [1.0, math.nan, 2.0][n % 3], T0, 0)] if n % 4 else []
        params = [Param("p", str(n % 5))] if n % 6 else []
        store.log_batch(rid, metrics, params, [RunTag("t", str(n % 2))] if n % 3 else [])
        return rid

    original = {add(n, T0 + n) for n in range(37)}
    seen, token, n = [], None, 100
    while True:
        page = store.search_runs([eid], None, ViewType.ACTIVE_ONLY, 5, order_by, token)
        seen += [r.info.run_id for r in page]
        for _ in range(3):  # newer runs, and runs that sort among the ones already served
            add(n, T0 + 1000 + n if n % 2 else T0 - n)
            n += 1
        token = page.token
        if token is None:
            break
    assert len(seen) == len(set(seen))  # nothing served twice
    assert original <= set(seen)  # nothing skipped
    store.close()


def test_a_fork_while_another_thread_writes_leaves_the_child_a_working_writer_lock(tmp_path):
    """The in-process writer lock is held by a thread that does not exist in a forked child: the child gets a
    fresh one and its writes go through (with the parent's lock it would wait forever)."""
    uri, root = sqlite_uri(tmp_path), (tmp_path / "artifacts").as_uri()
    store = SqlStore(uri, root)
    run_id = store.create_run("0", "u", T0, [], "r").info.run_id
    held, release = threading.Event(), threading.Event()

    def hold():
        with store._writers:
            held.set()
            release.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(10)
    try:
        child = multiprocessing.get_context("fork").Process(
            target=store.log_metric, args=(run_id, Metric("c", 1.0, T0, 0))
        )
        child.start()
        child.join(20)
        if child.is_alive():
            child.kill()
            child.join()
        assert child.exitcode == 0, "the forked child's write did not go through"
    finally:
        release.set()
        holder.join()
    assert store.get_run(run_id).data.metrics == {"c": 1.0}
    store.close()


def test_threads_writing_at_once_all_land_and_wait_their_turn(sql_store):
    run_id = sql_store.create_run("0", "u", T0, [], "r").info.run_id

    def write(n):
        for step in range(20):
            sql_store.log_batch(run_id, [Metric(f"m{n}", float(step), T0, step)], [], [])

    threads = [threading.Thread(target=write, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for n in range(6):
        assert [m.step for m in sql_store.get_metric_history(run_id, f"m{n}")] == list(range(20))
