"""The SQL tracking store (SQLite, PostgreSQL, MySQL) on SQLAlchemy Core. Imports SQLAlchemy: load on use."""

from tracklet.tracking.stores.sql.store import SqlStore

__all__ = ["SqlStore"]
