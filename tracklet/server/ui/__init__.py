"""The web UI: static assets shipped in the package, served by the tracking server at ``/``.

No build step: plain ES modules under ``static/`` talk to the server's own REST API (``/ajax-api/2.0/mlflow``).
Vendored third-party files live in ``static/vendor/`` with their licenses.
"""

from __future__ import annotations

from pathlib import Path

STATIC_DIR = Path(__file__).parent / "static"


def ui_routes() -> list:
    """Starlette routes for the UI: ``/`` (the single page) and ``/static/...`` (its assets)."""
    from starlette.responses import FileResponse
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    index = STATIC_DIR / "index.html"

    def page(request):
        return FileResponse(index, media_type="text/html", headers={"Cache-Control": "no-cache"})

    return [
        Route("/", page, methods=["GET"]),
        Mount("/static", app=StaticFiles(directory=STATIC_DIR), name="static"),
    ]
