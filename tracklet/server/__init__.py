"""The tracking server: ``create_app(store, artifact_repo, auth=None)`` builds the ASGI app (Starlette);
``serve.main`` is ``tracklet server`` / ``tracklet ui``. Imports ``tracking`` only; needs the ``server`` extra."""

from __future__ import annotations

from tracklet.server.app import create_app
from tracklet.server.auth import Auth

__all__ = ["create_app", "Auth"]
