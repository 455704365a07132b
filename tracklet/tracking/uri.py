"""The process-wide tracking URI: what ``set_tracking_uri`` set, else the environment, else the default.

A leaf module so that both :class:`~tracklet.tracking.client.TrackletClient` (its default URI) and
:mod:`tracklet.tracking.current` (the shared client for the URI) read it without importing each other.
Use it through :mod:`tracklet.tracking.current`.
"""

from __future__ import annotations

import os

from tracklet import env

_tracking_uri: str | None = None


def set_tracking_uri(uri: str | os.PathLike | None) -> None:
    """Set the tracking store for this process: a path, ``file://``, ``sqlite:///``, ``postgresql://`` ...
    (``None`` goes back to the environment / default)."""
    global _tracking_uri
    _tracking_uri = None if uri is None else os.fspath(uri)


def get_tracking_uri() -> str:
    """The tracking URI in effect: ``set_tracking_uri``, else ``TRACKLET_TRACKING_URI``/``MLFLOW_TRACKING_URI``,
    else the default (``./mlruns`` if it exists and ``./tracklet.db`` doesn't, else ``sqlite:///tracklet.db``)."""
    if _tracking_uri:
        return _tracking_uri
    from_env = env.get(env.TRACKING_URI)
    if from_env:
        return from_env
    from tracklet.tracking.stores.registry import default_tracking_uri

    return default_tracking_uri()


def is_tracking_uri_set() -> bool:
    """True when a URI was set by ``set_tracking_uri`` or the environment (not the default)."""
    return bool(_tracking_uri or env.get(env.TRACKING_URI))
