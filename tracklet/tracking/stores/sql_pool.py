"""SQLAlchemy connection-pool options of the SQL store, from the environment (MLflow's names and TRACKLET_ twins).

| variable (``TRACKLET_`` or ``MLFLOW_`` prefix) | ``create_engine`` argument | accepted values |
|---|---|---|
| ``SQLALCHEMYSTORE_POOL_SIZE`` | ``pool_size`` | integer >= 0 (0: no limit) |
| ``SQLALCHEMYSTORE_MAX_OVERFLOW`` | ``max_overflow`` | integer >= -1 (-1: no limit) |
| ``SQLALCHEMYSTORE_POOL_RECYCLE`` | ``pool_recycle`` | seconds, integer >= -1 (-1: never) |
| ``SQLALCHEMYSTORE_POOL_PRE_PING`` | ``pool_pre_ping`` | true/false (default: true except for SQLite) |
| ``SQLALCHEMYSTORE_ECHO`` | ``echo`` | true/false, or ``debug`` |
| ``SQLALCHEMYSTORE_POOLCLASS`` | ``poolclass`` | a class of ``sqlalchemy.pool``: ``NullPool``, ``QueuePool``, ... |

A value that is not one of these raises ``InvalidParameterValue`` naming the variable, before any connection.
"""

from __future__ import annotations

import os

from tracklet import env
from tracklet.exceptions import InvalidParameterValue

PREFIX = "SQLALCHEMYSTORE_"
_SIZED_POOLS = ("QueuePool", "AsyncAdaptedQueuePool")  # the pools that take pool_size / max_overflow
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def _name(key: str) -> str:
    """The variable the value came from, as the user spelled it."""
    return next((p + PREFIX + key for p in ("TRACKLET_", "MLFLOW_") if os.environ.get(p + PREFIX + key)), key)


def _int(key: str, minimum: int) -> int | None:
    raw = env.get(PREFIX + key)
    if raw is None:
        return None
    try:
        value = int(raw.strip())
    except ValueError:
        value = None
    if value is None or value < minimum:
        raise InvalidParameterValue(f"{_name(key)}={raw!r}: expected an integer >= {minimum}")
    return value


def _flag(key: str, extra: tuple[str, ...] = ()) -> bool | str | None:
    raw = env.get(PREFIX + key)
    if raw is None:
        return None
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    if value in extra:
        return value
    raise InvalidParameterValue(f"{_name(key)}={raw!r}: expected one of {', '.join(_TRUE + _FALSE + extra)}")


def _poolclass():
    raw = env.get(PREFIX + "POOLCLASS")
    if raw is None:
        return None
    import sqlalchemy.pool

    cls = getattr(sqlalchemy.pool, raw.strip(), None)
    if not (isinstance(cls, type) and issubclass(cls, sqlalchemy.pool.Pool)) or cls is sqlalchemy.pool.Pool:
        names = sorted(
            n
            for n in dir(sqlalchemy.pool)
            if isinstance(getattr(sqlalchemy.pool, n), type)
            and issubclass(getattr(sqlalchemy.pool, n), sqlalchemy.pool.Pool)
            and n != "Pool"
        )
        raise InvalidParameterValue(f"{_name('POOLCLASS')}={raw!r}: expected a pool class of sqlalchemy.pool: {names}")
    return cls


def engine_pool_options(backend: str, single_connection: bool = False) -> dict:
    """``create_engine`` keyword arguments from the ``SQLALCHEMYSTORE_*`` variables for a database of ``backend``
    (``"sqlite"``, ``"postgresql"``...). ``single_connection`` (in-memory SQLite: one shared connection) keeps
    only ``echo``, since any other pool would lose the database."""
    out: dict = {}
    echo = _flag("ECHO", extra=("debug",))
    if echo is not None:
        out["echo"] = echo
    pool_size, max_overflow = _int("POOL_SIZE", 0), _int("MAX_OVERFLOW", -1)
    recycle, pre_ping, poolclass = _int("POOL_RECYCLE", -1), _flag("POOL_PRE_PING"), _poolclass()
    if single_connection:
        return out
    out["pool_pre_ping"] = pre_ping if pre_ping is not None else backend != "sqlite"
    if recycle is not None:
        out["pool_recycle"] = recycle
    if poolclass is not None:
        out["poolclass"] = poolclass
    if pool_size is not None or max_overflow is not None:
        if poolclass is not None and poolclass.__name__ not in _SIZED_POOLS:
            raise InvalidParameterValue(
                f"{_name('POOL_SIZE') if pool_size is not None else _name('MAX_OVERFLOW')} is set, but "
                f"{_name('POOLCLASS')}={poolclass.__name__} has no size: pool size and overflow apply to QueuePool"
            )
        if pool_size is not None:
            out["pool_size"] = pool_size
        if max_overflow is not None:
            out["max_overflow"] = max_overflow
    return out
