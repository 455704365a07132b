"""The tracking server: ``create_app(store, artifact_repo, auth=None)`` builds the ASGI app (Starlette);
``serve`` is ``tracklet server`` / ``tracklet ui``. Imports ``tracking`` only; needs the ``server`` extra.

The names load on first use, so ``tracklet.cli`` can register the server commands without starlette installed.
"""

from __future__ import annotations

__all__ = ["create_app", "Auth"]


def __getattr__(name: str):
    if name == "create_app":
        from tracklet.server.app import create_app

        return create_app
    if name == "Auth":
        from tracklet.server.auth import Auth

        return Auth
    raise AttributeError(f"module 'tracklet.server' has no attribute {name!r}")
