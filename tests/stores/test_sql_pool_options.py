"""The SQLAlchemy pool options of the SQL store (``MLFLOW_SQLALCHEMYSTORE_*`` and their ``TRACKLET_*`` twins) reach
the engine: checked on the pool of a real SQLite engine and, when ``TRACKLET_TEST_POSTGRES_URI`` names one, a real
PostgreSQL engine (which then runs a query through that pool). Bad values are refused, naming the variable."""

from __future__ import annotations

import os

import pytest

sa = pytest.importorskip("sqlalchemy")

from sqlalchemy import pool  # noqa: E402

from tracklet.exceptions import InvalidParameterValue  # noqa: E402
from tracklet.tracking.stores.sql import SqlStore, _engine  # noqa: E402

NAMES = ["POOL_SIZE", "MAX_OVERFLOW", "POOL_RECYCLE", "POOL_PRE_PING", "ECHO", "POOLCLASS"]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for prefix in ("TRACKLET_", "MLFLOW_"):
        for name in NAMES:
            monkeypatch.delenv(f"{prefix}SQLALCHEMYSTORE_{name}", raising=False)


@pytest.fixture(params=["sqlite", "postgres"])
def db_uri(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'pool.db'}"
    uri = os.environ.get("TRACKLET_TEST_POSTGRES_URI")
    if not uri:
        pytest.skip("TRACKLET_TEST_POSTGRES_URI is not set")
    pytest.importorskip("psycopg2")
    return uri


def _engine_for(uri):
    engine, _single = _engine.create_engine(uri)
    with engine.connect() as conn:  # the pool really hands out a working connection
        assert conn.exec_driver_sql("SELECT 1").scalar() == 1
    return engine


def test_mlflow_names_reach_the_pool(db_uri, monkeypatch):
    monkeypatch.setenv("MLFLOW_SQLALCHEMYSTORE_POOL_SIZE", "7")
    monkeypatch.setenv("MLFLOW_SQLALCHEMYSTORE_MAX_OVERFLOW", "3")
    monkeypatch.setenv("MLFLOW_SQLALCHEMYSTORE_POOL_RECYCLE", "1800")
    monkeypatch.setenv("MLFLOW_SQLALCHEMYSTORE_ECHO", "true")
    engine = _engine_for(db_uri)
    assert isinstance(engine.pool, pool.QueuePool)
    assert engine.pool.size() == 7 and engine.pool._max_overflow == 3 and engine.pool._recycle == 1800
    assert engine.echo is True
    engine.dispose()


def test_tracklet_twins_win_and_nullpool_opens_a_connection_per_use(db_uri, monkeypatch):
    monkeypatch.setenv("MLFLOW_SQLALCHEMYSTORE_POOLCLASS", "QueuePool")
    monkeypatch.setenv("TRACKLET_SQLALCHEMYSTORE_POOLCLASS", "NullPool")
    monkeypatch.setenv("TRACKLET_SQLALCHEMYSTORE_POOL_PRE_PING", "false")
    monkeypatch.setenv("TRACKLET_SQLALCHEMYSTORE_ECHO", "debug")
    engine = _engine_for(db_uri)
    assert isinstance(engine.pool, pool.NullPool) and engine.pool._pre_ping is False and engine.echo == "debug"
    engine.dispose()


def test_defaults_are_unchanged(db_uri):
    engine = _engine_for(db_uri)
    assert isinstance(engine.pool, pool.QueuePool)
    assert engine.pool._pre_ping is (not db_uri.startswith("sqlite")) and not engine.echo
    engine.dispose()


def test_a_store_works_over_a_null_pool(tmp_path, monkeypatch):
    monkeypatch.setenv("TRACKLET_SQLALCHEMYSTORE_POOLCLASS", "NullPool")
    store = SqlStore(f"sqlite:///{tmp_path / 's.db'}", str(tmp_path / "artifacts"))
    assert isinstance(store._engine.pool, pool.NullPool)
    eid = store.create_experiment("pooled")
    assert store.get_experiment(eid).name == "pooled"


def test_in_memory_sqlite_keeps_its_single_connection(monkeypatch):
    monkeypatch.setenv("TRACKLET_SQLALCHEMYSTORE_POOLCLASS", "NullPool")
    monkeypatch.setenv("TRACKLET_SQLALCHEMYSTORE_ECHO", "1")
    engine, single = _engine.create_engine("sqlite:///:memory:")
    assert single and isinstance(engine.pool, pool.StaticPool) and engine.echo is True


@pytest.mark.parametrize(
    "name,value,rule",
    [
        ("POOL_SIZE", "ten", "integer >= 0"),
        ("POOL_SIZE", "-1", "integer >= 0"),
        ("MAX_OVERFLOW", "-2", "integer >= -1"),
        ("POOL_RECYCLE", "1.5", "integer >= -1"),
        ("POOL_PRE_PING", "maybe", "expected one of"),
        ("ECHO", "loud", "expected one of"),
        ("POOLCLASS", "NoSuchPool", "pool class of sqlalchemy.pool"),
        ("POOLCLASS", "Pool", "pool class of sqlalchemy.pool"),
        ("POOLCLASS", "QueuePool.__init__", "pool class of sqlalchemy.pool"),
    ],
)
def test_bad_values_name_the_variable_and_the_rule(tmp_path, monkeypatch, name, value, rule):
    monkeypatch.setenv(f"MLFLOW_SQLALCHEMYSTORE_{name}", value)
    with pytest.raises(InvalidParameterValue, match=rf"MLFLOW_SQLALCHEMYSTORE_{name}=.*{rule}"):
        _engine.create_engine(f"sqlite:///{tmp_path / 'bad.db'}")
    assert not (tmp_path / "bad.db").exists()


def test_a_size_with_a_pool_that_has_none_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("TRACKLET_SQLALCHEMYSTORE_POOLCLASS", "NullPool")
    monkeypatch.setenv("TRACKLET_SQLALCHEMYSTORE_POOL_SIZE", "5")
    with pytest.raises(InvalidParameterValue, match="TRACKLET_SQLALCHEMYSTORE_POOL_SIZE is set.*NullPool"):
        _engine.create_engine(f"sqlite:///{tmp_path / 'x.db'}")
