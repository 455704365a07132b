"""``create_app(store, artifact_repo, auth=None)``: the tracking server as a Starlette (ASGI) application.

Everything the app needs hangs off one :class:`ServerContext` built here, so several apps (or workers)
share nothing but what they are given. Every error becomes ``{"error_code", "message"}`` with the
matching HTTP status; a bug of ours is logged and answered 500 without a traceback.
"""

from __future__ import annotations

import logging

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from tracklet.server import artifacts_api, logged_models_api, metrics
from tracklet.server import tracking_api as T
from tracklet.server._endpoint import DEFAULT_MAX_BODY_BYTES, ServerContext, api_endpoint, error_response
from tracklet.server._routing import fast_routes

_logger = logging.getLogger("tracklet.server")

API_PREFIXES = ("/api/2.0/mlflow", "/ajax-api/2.0/mlflow")


TRACKING_ROUTES = [
    ("/experiments/create", ["POST"], T.create_experiment),
    ("/experiments/get", ["GET"], T.get_experiment),
    ("/experiments/get-by-name", ["GET"], T.get_experiment_by_name),
    ("/experiments/search", ["GET", "POST"], T.search_experiments),
    ("/experiments/delete", ["POST"], T.delete_experiment),
    ("/experiments/restore", ["POST"], T.restore_experiment),
    ("/experiments/update", ["POST"], T.update_experiment),
    ("/experiments/set-experiment-tag", ["POST"], T.set_experiment_tag),
    ("/experiments/delete-experiment-tag", ["POST"], T.delete_experiment_tag),
    ("/runs/create", ["POST"], T.create_run),
    ("/runs/get", ["GET"], T.get_run),
    ("/runs/update", ["POST"], T.update_run),
    ("/runs/delete", ["POST"], T.delete_run),
    ("/runs/restore", ["POST"], T.restore_run),
    ("/runs/search", ["POST"], T.search_runs),
    ("/runs/log-metric", ["POST"], T.log_metric),
    ("/runs/log-parameter", ["POST"], T.log_param),
    ("/runs/set-tag", ["POST"], T.set_tag),
    ("/runs/delete-tag", ["POST"], T.delete_tag),
    ("/runs/log-batch", ["POST"], T.log_batch),
    ("/runs/log-model", ["POST"], T.log_model),
    ("/runs/log-inputs", ["POST"], T.log_inputs),
    ("/metrics/get-history", ["GET"], T.get_metric_history),
    ("/metrics/get-history-bulk-interval", ["GET"], T.get_metric_history_bulk_interval),
]


def _server_info(ctx: ServerContext):
    def handler(_ctx, _args) -> dict:
        return {
            "store_type": type(ctx.store).__name__ if ctx.store is not None else None,
            "workspaces_enabled": False,
            "multipart_uploads_enabled": False,
            "multipart_downloads_enabled": False,
        }

    return handler


def create_app(
    store,
    artifact_repo=None,
    auth=None,
    *,
    serve_artifacts: bool = True,
    artifacts_only: bool = False,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    expose_prometheus: bool = False,
) -> Starlette:
    """Build the ASGI app serving ``store`` (a tracking Store; None with ``artifacts_only``).

    ``artifact_repo`` is where proxied artifacts (``mlflow-artifacts:/`` URIs) live; ``auth`` a
    :class:`tracklet.server.auth.Auth` (one fixed credential) or :class:`tracklet.server.auth_basic.BasicAuth`.
    """
    ctx = ServerContext(store, artifact_repo, None, serve_artifacts, artifacts_only, max_body_bytes)
    if auth is not None:
        from tracklet.server.auth_gate import AuthGate

        ctx.auth = AuthGate(ctx, auth)
    stats = metrics.RequestStats() if expose_prometheus else None
    routes = []
    tracking_routes = TRACKING_ROUTES + logged_models_api.ROUTES
    for prefix in API_PREFIXES:
        for path, methods, handler in tracking_routes:
            routes.append(Route(prefix + path, api_endpoint(ctx, handler), methods=methods))
        routes.append(
            Route(prefix + "/artifacts/list", api_endpoint(ctx, artifacts_api.list_run_artifacts), methods=["GET"])
        )
    for path, handler in (("/runs/hard-delete", T.hard_delete_run),):
        routes.append(Route("/api/2.0/tracklet" + path, api_endpoint(ctx, handler), methods=["POST"]))
    routes.append(Route("/api/3.0/mlflow/server-info", api_endpoint(ctx, _server_info(ctx), False), methods=["GET"]))
    if ctx.auth is not None:
        routes += ctx.auth.routes()  # users, permissions and tokens (server/auth_api.py)
    if serve_artifacts:
        routes += artifacts_api.proxy_routes(ctx)
    routes.append(Route("/health", _health, methods=["GET"]))
    routes.append(Route("/version", _version, methods=["GET"]))
    if stats is not None:
        routes.append(Route("/metrics", stats.endpoint, methods=["GET"]))
    if not artifacts_only:
        from tracklet.server.ui import ui_routes

        routes += ui_routes(ctx)

    async def not_found(request: Request, exc) -> Response:
        return error_response("ENDPOINT_NOT_FOUND", f"No endpoint {request.method} {request.url.path}", 404)

    async def not_allowed(request: Request, exc) -> Response:
        return error_response("ENDPOINT_NOT_FOUND", f"Method {request.method} not allowed on {request.url.path}", 405)

    async def internal(request: Request, exc) -> Response:
        _logger.error("Internal error in %s %s: %r", request.method, request.url.path, exc)
        return error_response("INTERNAL_ERROR", "Internal server error (details are in the server log)", 500)

    middleware = ctx.auth.middleware() if ctx.auth is not None else None
    app = Starlette(
        routes=fast_routes(routes),
        middleware=middleware,
        exception_handlers={404: not_found, 405: not_allowed, 500: internal},
    )
    app.state.context = ctx
    if stats is not None:
        return stats.wrap(app)
    return app


async def _health(request: Request) -> Response:
    return PlainTextResponse("OK")  # async: a sync endpoint would cost a thread-pool round trip


def _version(request: Request) -> Response:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return PlainTextResponse(version("tracklet"))
    except PackageNotFoundError:
        return PlainTextResponse("0+unknown")
