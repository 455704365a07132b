"""The ``store`` fixture: every Store implementation, fresh for each test.

* ``sqlite``   -- SqlStore on a SQLite file in tmp_path
* ``file``     -- FileStore on tmp_path/mlruns
* ``rest``     -- RestStore -> create_app (in-process, no socket) -> SqlStore on SQLite in tmp_path
* ``postgres`` -- SqlStore on $TRACKLET_TEST_POSTGRES_URI (skipped when unset); every table is dropped
  before each test, so point it at a throwaway database

Only a missing optional third-party package (the PostgreSQL driver) skips; an ImportError in tracklet's own
modules fails the tests that need them.
"""

from __future__ import annotations

import os

import pytest

STORE_KINDS = ["sqlite", "file", "rest", "postgres"]
POSTGRES_ENV = "TRACKLET_TEST_POSTGRES_URI"


_postgres_dropped = False


def _reset_postgres(uri: str) -> None:
    """Drop every table on first use (a stale schema from another run), then just empty them (faster)."""
    global _postgres_dropped
    import sqlalchemy as sa

    from tracklet.tracking.stores.sql import logged_models, schema
    from tracklet.tracking.stores.sql._engine import resolve_url

    engine = sa.create_engine(resolve_url(uri))
    try:
        with engine.begin() as conn:
            if not _postgres_dropped:
                logged_models.metadata.drop_all(conn)  # its own MetaData, created on first use
                schema.metadata.drop_all(conn)
                _postgres_dropped = True
            else:
                inspector = sa.inspect(conn)
                tables = [t.name for t in schema.DATA_TABLES] + list(logged_models.metadata.tables)
                names = ", ".join(name for name in tables if inspector.has_table(name))
                if names:
                    conn.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    finally:
        engine.dispose()


def make_store(kind: str, tmp_path):
    """A fresh store of ``kind`` rooted in ``tmp_path`` (pytest.skip when that kind is unavailable)."""
    artifact_root = (tmp_path / "artifacts").as_uri()
    if kind == "sqlite":
        from tracklet.tracking.stores.sql import SqlStore

        return SqlStore(f"sqlite:///{tmp_path / 'tracking.db'}", artifact_root)
    if kind == "file":
        from tracklet.tracking.stores.file import FileStore  # ours: an ImportError is a failure, not a skip

        return FileStore(str(tmp_path / "mlruns"))
    if kind == "rest":
        pytest.importorskip("starlette")
        pytest.importorskip("httpx")
        from tracklet.server.inprocess import rest_store_over_app
        from tracklet.tracking.stores.sql import SqlStore

        backing = SqlStore(f"sqlite:///{tmp_path / 'tracking.db'}", artifact_root)
        return rest_store_over_app(backing, str(tmp_path / "proxied"))
    if kind == "postgres":
        uri = os.environ.get(POSTGRES_ENV)
        if not uri:
            pytest.skip(f"{POSTGRES_ENV} is not set")
        pytest.importorskip("psycopg2")
        from tracklet.tracking.stores.sql import SqlStore

        _reset_postgres(uri)
        return SqlStore(uri, artifact_root)
    raise ValueError(kind)


@pytest.fixture(params=STORE_KINDS)
def store_kind(request) -> str:
    return request.param


@pytest.fixture
def store(store_kind, tmp_path):
    s = make_store(store_kind, tmp_path)
    yield s
    s.close()
