"""The web UI: static assets shipped in the package, served by the tracking server at ``/``.

No build step: plain ES modules under ``static/`` talk to the server's own REST API (``/ajax-api/2.0/mlflow``).
Vendored third-party files live in ``static/vendor/`` with their licenses.
"""

from __future__ import annotations

from pathlib import Path

STATIC_DIR = Path(__file__).parent / "static"


def ui_routes(ctx=None) -> list:
    """Starlette routes for the UI: ``/`` (the single page), ``/static/...`` (its assets) and, given the server
    context ``ctx``, ``/get-artifact`` (run artifacts for previews and downloads)."""
    from starlette.responses import FileResponse
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    index = STATIC_DIR / "index.html"

    def page(request):
        return FileResponse(index, media_type="text/html", headers={"Cache-Control": "no-cache"})

    routes = [
        Route("/", page, methods=["GET"]),
        Mount("/static", app=StaticFiles(directory=STATIC_DIR), name="static"),
    ]
    if ctx is not None:
        from tracklet.server.ui.artifacts import get_artifact_route

        routes.append(get_artifact_route(ctx))
    return routes
