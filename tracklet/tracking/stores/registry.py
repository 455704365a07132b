"""Tracking URI -> Store. One store object per resolved URI, shared by every client in the process.

Default (no URI set anywhere): ``./mlruns`` as a file store if that folder exists and ``./tracklet.db``
does not, else ``sqlite:///tracklet.db`` with artifacts in ``./tracklet-artifacts``.
"""

from __future__ import annotations

import os
import threading
from urllib.parse import unquote, urlparse

from tracklet import env
from tracklet.exceptions import InvalidParameterValue

DEFAULT_DB = "tracklet.db"
DEFAULT_ARTIFACTS_DIR = "tracklet-artifacts"
_SQL_SCHEMES = ("sqlite", "postgresql", "postgres", "mysql", "mssql", "oracle")

_stores: dict[str, object] = {}
_lock = threading.Lock()


def default_tracking_uri() -> str:
    if os.path.isdir("mlruns") and not os.path.exists(DEFAULT_DB):
        return os.path.abspath("mlruns")
    return f"sqlite:///{DEFAULT_DB}"


def _file_uri(path: str) -> str:
    return "file://" + os.path.abspath(path)


def _sql_artifact_root(uri: str) -> str:
    configured = env.get("DEFAULT_ARTIFACT_ROOT")
    if configured:
        return configured if "://" in configured else _file_uri(configured)
    parsed = urlparse(uri)
    if parsed.scheme.startswith("sqlite"):
        db_path = uri.split(":///", 1)[1] if ":///" in uri else ""
        if db_path and db_path != ":memory:" and not db_path.startswith("file:"):
            return _file_uri(os.path.join(os.path.dirname(os.path.abspath(db_path)), DEFAULT_ARTIFACTS_DIR))
    return _file_uri(DEFAULT_ARTIFACTS_DIR)


def normalize_uri(uri: str) -> str:
    """Make relative sqlite/file URIs absolute so the cache and other threads agree on them."""
    parsed = urlparse(uri)
    scheme = parsed.scheme.split("+")[0]
    if scheme == "sqlite" and uri.startswith("sqlite:///") and not uri.startswith("sqlite:////"):
        rest = uri[len("sqlite:///") :]
        if rest and rest != ":memory:" and not rest.startswith("file:"):
            return "sqlite:///" + os.path.abspath(rest)
    if scheme == "file":
        return _file_uri(unquote(parsed.path))
    if scheme == "" or (len(scheme) == 1 and scheme.isalpha()):
        return os.path.abspath(uri)
    return uri


def create_store(uri: str):
    """Build a new Store for ``uri`` (no caching)."""
    parsed = urlparse(uri)
    scheme = parsed.scheme.split("+")[0].lower()
    if scheme in _SQL_SCHEMES:
        from tracklet.tracking.stores.sql import SqlStore

        return SqlStore(uri, _sql_artifact_root(uri))
    if scheme in ("", "file") or (len(scheme) == 1 and scheme.isalpha()):
        from tracklet.tracking.stores.file import FileStore

        path = unquote(parsed.path) if scheme == "file" else uri
        configured = env.get("DEFAULT_ARTIFACT_ROOT")
        return FileStore(os.path.abspath(path), configured)
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
