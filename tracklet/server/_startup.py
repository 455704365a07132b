"""Answering ``/health`` before the app is built: the server listens first, then opens its store.

Opening a store means importing SQLAlchemy, connecting and migrating the database: most of a cold start.
:class:`DeferredApp` is the ASGI app uvicorn serves. It builds the real app in a background thread, started
shortly after the lifespan startup (uvicorn binds its socket then) or by the first request. ``GET /health``
answers ``OK`` at once (the process is up and will serve); every other request waits for the build and then
goes to the real app. If the build fails, ``on_error`` is called (``tracklet server`` stops and exits 1 with
the message) and requests get a 503 that names the cause.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import threading
from collections.abc import Callable

_logger = logging.getLogger("tracklet.server")
START_DELAY_S = 0.1  # after the lifespan startup, unless a request comes first


class DeferredApp:
    """An ASGI app that builds ``build()`` (the real ASGI app) in a thread when the server starts."""

    def __init__(self, build: Callable[[], object], on_error: Callable[[BaseException], None] | None = None):
        self._build = build
        self._on_error = on_error
        self._future: concurrent.futures.Future = concurrent.futures.Future()
        self._lock = threading.Lock()
        self._started = False

    def start(self) -> None:
        """Start building (once); the lifespan startup calls this, tests may call it directly."""
        with self._lock:
            if self._started:
                return
            self._started = True
        threading.Thread(target=self._run, name="tracklet-server-startup", daemon=True).start()

    def _run(self) -> None:
        # the future holds (app, None) or (None, error), so awaiting it never raises in the event loop
        try:
            app = self._build()
        except BaseException as exc:  # passed to on_error, then answered to every request
            _logger.error("tracklet server cannot start: %s", exc)
            try:
                if self._on_error is not None:
                    self._on_error(exc)
            finally:
                self._future.set_result((None, exc))
            return
        self._future.set_result((app, None))

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if not self._future.done():
            if scope["type"] == "http" and scope["path"] == "/health" and scope["method"] == "GET":
                await _plain(send, 200, b"OK")
                self.start()
                return
            self.start()
            await asyncio.wrap_future(self._future)
        app, exc = self._future.result()
        if exc is not None:
            if scope["type"] == "http":
                body = {"error_code": "TEMPORARILY_UNAVAILABLE", "message": f"The server could not start: {exc}"}
                await _plain(send, 503, json.dumps(body).encode(), b"application/json")
            return
        await app(scope, receive, send)

    async def _lifespan(self, receive, send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                # uvicorn binds its socket after this; building meanwhile would slow that down (one GIL)
                asyncio.get_running_loop().call_later(START_DELAY_S, self.start)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return


async def _plain(send, status: int, body: bytes, content_type: bytes = b"text/plain; charset=utf-8") -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
