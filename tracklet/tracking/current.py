"""The "current" tracking state every layer shares: the tracking URI and the client for it.

``get_client()`` is the one shared :class:`TrackletClient` for the URI in effect; fluent, autolog and flavors
use it. An explicit ``TrackletClient(uri)`` reads nothing from here except its default URI.
"""

from __future__ import annotations

import threading

from tracklet.tracking import uri as _uri
from tracklet.tracking.batching import wait_for_barriers
from tracklet.tracking.client import TrackletClient
from tracklet.tracking.uri import get_tracking_uri, is_tracking_uri_set

_clients: dict[str, TrackletClient] = {}
_lock = threading.Lock()


def set_tracking_uri(uri) -> None:
    """Set the tracking store for this process: a path, ``file://``, ``sqlite:///``, ``postgresql://`` ...
    (``None`` goes back to the environment / default). What autologging still records from a fit that returned
    goes to the store it started in: that finishes first."""
    wait_for_barriers()
    _uri.set_tracking_uri(uri)


def get_client() -> TrackletClient:
    """The shared client for the current tracking URI (created on first use; constructing one does no I/O)."""
    uri = get_tracking_uri()
    client = _clients.get(uri)
    if client is None:
        with _lock:
            client = _clients.setdefault(uri, TrackletClient(uri))
    return client


def _reset_for_tests() -> None:
    """Forget the set URI and the cached clients (the stores are closed by the store registry)."""
    set_tracking_uri(None)
    with _lock:
        _clients.clear()


__all__ = ["get_client", "get_tracking_uri", "is_tracking_uri_set", "set_tracking_uri"]
