"""Tracking URI -> Store. One store object per resolved URI, shared by every client in the process.

Default (no URI set anywhere): ``./mlruns`` as a file store if that folder exists and ``./tracklet.db``
does not, else ``sqlite:///tracklet.db`` with artifacts in ``./tracklet-artifacts``.

Paths and URIs: a plain path is taken literally; a URI is a URL, so its path is percent-decoded once
(``sqlite:///a%23b/t.db`` is the file ``a#b/t.db``, as SQLAlchemy and MLflow read it) and a path put into a
URI is percent-encoded (``pathlib.Path.as_uri``), so ``#``, ``%``, ``?`` and spaces survive the round trip.
"""

from __future__ import annotations

import os
import pathlib
import threading
from urllib.parse import parse_qsl, quote, unquote, urlparse

from tracklet import env
from tracklet.exceptions import InvalidParameterValue

DEFAULT_DB = "tracklet.db"
DEFAULT_ARTIFACTS_DIR = "tracklet-artifacts"
_SQL_SCHEMES = ("sqlite", "postgresql", "postgres", "mysql", "mssql", "oracle")
_MEMORY = ":memory:"

_stores: dict[str, object] = {}
_lock = threading.Lock()


def default_tracking_uri() -> str:
    if os.path.isdir("mlruns") and not os.path.exists(DEFAULT_DB):
        return os.path.abspath("mlruns")
    return f"sqlite:///{DEFAULT_DB}"


def _file_uri(path: str) -> str:
    return pathlib.Path(os.path.abspath(path)).as_uri()


def sqlite_uri(path: str) -> str:
    """The ``sqlite:///`` URI of the database file ``path`` (made absolute, percent-encoded)."""
    return "sqlite:///" + quote(os.path.abspath(path), safe="/")


def _split_sqlite(uri: str) -> tuple[str, str, str]:
    """``sqlite[+driver]:///<path>?<query>`` -> (prefix up to ``///``, raw path, raw query)."""
    prefix, _, rest = uri.partition(":///") if ":///" in uri else (uri.partition("://")[0], "", "")
    raw_path, _, query = rest.partition("?")
    return prefix + ":///", raw_path, query


def sqlite_database(uri: str) -> str | None:
    """The database file a ``sqlite:///`` URI names (percent-decoded, as SQLAlchemy reads it); None for an
    in-memory or ``file:`` URI database."""
    _, raw_path, _ = _split_sqlite(uri)
    path = unquote(raw_path)
    if not path or path == _MEMORY or path.startswith("file:"):
        return None
    return path


def _check_sqlite_uri(uri: str) -> None:
    prefix, raw_path, query = _split_sqlite(uri)
    if not raw_path:
        raise InvalidParameterValue(
            f"Tracking URI {uri!r} names no database file (SQLite would silently use an in-memory database, "
            "lost at exit): write sqlite:///<path to a .db file>, or sqlite:///:memory: for an in-memory one"
        )
    if query:
        try:
            parse_qsl(query, keep_blank_values=True, strict_parsing=True)
        except ValueError:
            raise InvalidParameterValue(
                f"Tracking URI {uri!r}: {query!r} after '?' is not a list of SQLite options (key=value&...); "
                "'?' starts the query of a URI, so write a '?' inside a path as %3F"
            ) from None


def _sql_artifact_root(uri: str) -> str:
    configured = env.get("DEFAULT_ARTIFACT_ROOT")
    if configured:
        return configured if "://" in configured else _file_uri(configured)
    if urlparse(uri).scheme.startswith("sqlite"):
        db_path = sqlite_database(uri)
        if db_path:
            return _file_uri(os.path.join(os.path.dirname(os.path.abspath(db_path)), DEFAULT_ARTIFACTS_DIR))
    return _file_uri(DEFAULT_ARTIFACTS_DIR)


def normalize_uri(uri: str) -> str:
    """Make relative sqlite/file URIs absolute so the cache and other threads agree on them."""
    if not isinstance(uri, str) or not uri.strip():
        raise InvalidParameterValue(
            f"Tracking URI {uri!r} is blank: set a path, sqlite:///<file>, postgresql://..., or unset it "
            "to use the default (./mlruns or sqlite:///tracklet.db)"
        )
    parsed = urlparse(uri)
    scheme = parsed.scheme.split("+")[0]
    if scheme == "sqlite":
        _check_sqlite_uri(uri)
        prefix, raw_path, query = _split_sqlite(uri)
        if not raw_path.startswith("/") and raw_path != _MEMORY and not raw_path.startswith("file:"):
            # the working directory is a path: quote it before it becomes part of the URI
            absolute = quote(os.getcwd(), safe="/") + "/" + raw_path
            return prefix + absolute + ("?" + query if query else "")
    if scheme == "file":
        return _file_uri(unquote(parsed.path))
    if scheme == "" or (len(scheme) == 1 and scheme.isalpha()):
        return os.path.abspath(uri)
    return uri


def _file_store(path: str):
    from tracklet.tracking.stores.file import FileStore

    if os.path.exists(path) and not os.path.isdir(path):
        raise InvalidParameterValue(f"Tracking URI {path!r} is a file, not a directory: a file store needs a folder")
    try:
        return FileStore(os.path.abspath(path), env.get("DEFAULT_ARTIFACT_ROOT"))
    except OSError as exc:
        raise InvalidParameterValue(f"Cannot create a file store at {path!r}: {exc.strerror or exc}") from None


def create_store(uri: str):
    """Build a new Store for ``uri`` (no caching); a URI that cannot give a store raises TrackletException."""
    if not isinstance(uri, str) or not uri.strip():
        normalize_uri(uri)  # raises the blank-URI error
    parsed = urlparse(uri)
    scheme = parsed.scheme.split("+")[0].lower()
    if scheme in _SQL_SCHEMES:
        if scheme == "sqlite":
            _check_sqlite_uri(uri)
        from tracklet.tracking.stores.sql import SqlStore

        return SqlStore(uri, _sql_artifact_root(uri))
    if scheme in ("", "file") or (len(scheme) == 1 and scheme.isalpha()):
        return _file_store(unquote(parsed.path) if scheme == "file" else uri)
    if scheme in ("http", "https"):
        try:
            from tracklet.tracking.stores.rest import RestStore
        except ImportError:
            raise InvalidParameterValue(
                f"Tracking URI {uri!r}: the REST store (http/https) is not available in this version"
            ) from None
        return RestStore(uri)
    raise InvalidParameterValue(
        f"Unsupported tracking URI {uri!r}: use a path, file://, sqlite:///, postgresql://, mysql:// or http(s)://"
    )


def store_modules(uri: str) -> tuple[str, ...]:
    """The modules :func:`create_store` will import for ``uri`` (SQLAlchemy and the SQL store, the file store or
    the REST store), for a background warm-up; () for a URI it cannot use (creating the store reports that)."""
    scheme = urlparse(uri).scheme.split("+")[0].lower() if isinstance(uri, str) else "?"
    if scheme in _SQL_SCHEMES:
        return ("tracklet.tracking.stores.sql", "tracklet.tracking.stores.sql.logged_models")
    if scheme in ("", "file") or (len(scheme) == 1 and scheme.isalpha()):
        return ("tracklet.tracking.stores.file",)
    if scheme in ("http", "https"):
        return ("tracklet.tracking.stores.rest",)
    return ()


def get_store(uri: str):
    """The shared Store for ``uri`` (created on first use)."""
    key = normalize_uri(uri)
    store = _stores.get(key)
    if store is None:
        with _lock:
            store = _stores.get(key)
            if store is None:
                store = create_store(key)
                _stores[key] = store
    return store


def clear_cache() -> None:
    """Close and forget every cached store, after stopping its batching logger (tests switch URIs often)."""
    from tracklet.tracking.batching import close_logger

    with _lock:
        for store in _stores.values():
            close_logger(store)
            try:
                store.close()
            except Exception:
                pass
        _stores.clear()
