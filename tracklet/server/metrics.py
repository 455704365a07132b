"""Prometheus text-format metrics for ``--expose-prometheus``: request counts and latency per route and status.

Hand-written (a few counters) rather than a dependency; the format is Prometheus' text exposition 0.0.4.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict

from starlette.responses import PlainTextResponse


class RequestStats:
    """Counts requests; ``wrap(app)`` returns an ASGI app that records every HTTP request of ``app``."""

    def __init__(self):
        self._lock = threading.Lock()
        self._count: dict[tuple[str, str, int], int] = defaultdict(int)
        self._seconds: dict[tuple[str, str, int], float] = defaultdict(float)

    def wrap(self, app):
        async def asgi(scope, receive, send):
            if scope["type"] != "http":
                return await app(scope, receive, send)
            status = [500]
            start = time.perf_counter()

            async def send_wrapper(message):
                if message["type"] == "http.response.start":
                    status[0] = message["status"]
                await send(message)

            try:
                await app(scope, receive, send_wrapper)
            finally:
                self.record(scope["method"], _route_label(scope["path"]), status[0], time.perf_counter() - start)

        asgi.state = getattr(app, "state", None)
        return asgi

    def record(self, method: str, route: str, status: int, seconds: float) -> None:
        with self._lock:
            self._count[(method, route, status)] += 1
            self._seconds[(method, route, status)] += seconds

    def render(self) -> str:
        lines = [
            "# HELP tracklet_http_requests_total HTTP requests served",
            "# TYPE tracklet_http_requests_total counter",
        ]
        with self._lock:
            items = sorted(self._count.items())
            seconds = dict(self._seconds)
        for (method, route, status), n in items:
            lines.append(f'tracklet_http_requests_total{{method="{method}",route="{route}",status="{status}"}} {n}')
        lines += [
            "# HELP tracklet_http_request_seconds_total Time spent serving HTTP requests",
            "# TYPE tracklet_http_request_seconds_total counter",
        ]
        for key, _ in items:
            method, route, status = key
            lines.append(
                f'tracklet_http_request_seconds_total{{method="{method}",route="{route}",status="{status}"}} '
                f"{seconds[key]:.6f}"
            )
        return "\n".join(lines) + "\n"

    async def endpoint(self, request):
        return PlainTextResponse(self.render(), media_type="text/plain; version=0.0.4")


def _route_label(path: str) -> str:
    """The path with per-object parts (artifact paths, model ids) cut off, so labels stay few."""
    for prefix in ("/api/2.0/mlflow-artifacts/artifacts", "/api/2.0/mlflow/logged-models"):
        if path.startswith(prefix):
            return prefix
    return path if path.count("/") <= 6 and len(path) <= 100 else "other"
