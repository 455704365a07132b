"""Turning a synchronous handler into an ASGI endpoint: auth, request fields, JSON replies, error bodies."""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.responses import Response

from tracklet.exceptions import InvalidParameterValue, TrackletException
from tracklet.server._args import Args

try:
    import orjson as _orjson
except ImportError:  # optional: the standard library's json answers the same
    _orjson = None

_logger = logging.getLogger("tracklet.server")
DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024  # room for a 16 MB dataset profile in log-inputs


@dataclass
class ServerContext:
    """What the handlers share: the tracking store, the proxied artifact repository and the options."""

    store: object
    artifact_repo: object = None
    auth: object = None
    serve_artifacts: bool = True
    artifacts_only: bool = False
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    # Store calls run in these threads (the stores are synchronous): a plain executor's round trip costs
    # about half of anyio's (measured: 40 vs 75 µs of CPU). One queue of writes on a single thread measured
    # slower than letting SQLite's locking order concurrent writers.
    executor: ThreadPoolExecutor = field(init=False, repr=False)

    def __post_init__(self):
        self.executor = ThreadPoolExecutor(thread_name_prefix="tracklet-server")


def _dumps(data: dict) -> bytes | str:
    """Compact JSON. orjson (the server extra) writes a 400-run search page about 8x faster than the standard
    library; what it refuses (a lone surrogate in a string, an integer beyond 64 bits) goes through ``json``."""
    if _orjson is not None:
        try:
            return _orjson.dumps(data)
        except TypeError:  # orjson.JSONEncodeError is a TypeError
            pass
    return json.dumps(data, allow_nan=False, separators=(",", ":"), check_circular=False)


def json_response(data: dict, status: int = 200) -> Response:
    return Response(_dumps(data), status, media_type="application/json")


def error_response(code: str, message: str, status: int) -> Response:
    return json_response({"error_code": code, "message": message}, status)


def check_auth(ctx: ServerContext, request: Request) -> Response | None:
    """None when the request may proceed, else the 401 to send. With auth, the middleware (server/auth_gate.py)
    has authenticated the caller already; this refuses a request that did not pass through it."""
    if ctx.auth is None or request.scope.get("tracklet.principal") is not None:
        return None
    response = error_response("UNAUTHENTICATED", "Missing or invalid credentials", 401)
    response.headers["WWW-Authenticate"] = 'Basic realm="tracklet"'
    return response


async def read_json_body(request: Request, limit: int) -> dict:
    """The request's JSON object ({} when empty); 400 for malformed JSON, a non-object or more than ``limit`` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise InvalidParameterValue(f"Request body of {declared} bytes exceeds the limit of {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise InvalidParameterValue(f"Request body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    body = b"".join(chunks)
    if not body.strip():
        return {}
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise InvalidParameterValue(f"Malformed JSON request body: {str(exc)[:200]}") from None
    if not isinstance(data, dict):
        raise InvalidParameterValue(f"Request body must be a JSON object, got {type(data).__name__}")
    return data


def query_args(request: Request) -> dict:
    out: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        out.setdefault(key, []).append(value)
    return out


async def call_handler(ctx: ServerContext, handler, request: Request, args: Args) -> Response:
    """Run a synchronous handler in a worker thread and turn its result or error into a response."""
    try:
        # the caller's context goes along (a plain executor doesn't copy it): the auth guard reads the principal there
        call = contextvars.copy_context().run
        result = await asyncio.get_running_loop().run_in_executor(ctx.executor, call, handler, ctx, args)
        return json_response(result)
    except TrackletException as exc:
        return error_response(exc.error_code, exc.message, exc.http_status)
    except Exception:
        _logger.exception("Internal error in %s %s", request.method, request.url.path)
        return error_response("INTERNAL_ERROR", "Internal server error (details are in the server log)", 500)


def api_endpoint(ctx: ServerContext, handler, tracking: bool = True):
    """An ASGI endpoint for ``handler``: auth, fields from the query (GET/DELETE) or JSON body, path params."""
    if ctx.auth is not None:
        handler = ctx.auth.guard(handler)  # the permission the handler needs (server/auth_rules.py)

    async def endpoint(request: Request) -> Response:
        denied = check_auth(ctx, request)
        if denied is not None:
            return denied
        if tracking and ctx.artifacts_only:
            return error_response("ENDPOINT_NOT_FOUND", "Tracking endpoints are disabled with --artifacts-only", 503)
        try:
            if request.method in ("GET", "DELETE"):
                args = Args(query_args(request), from_query=True)
            else:
                args = Args(await read_json_body(request, ctx.max_body_bytes))
        except TrackletException as exc:
            return error_response(exc.error_code, exc.message, exc.http_status)
        for key, value in request.path_params.items():
            args.data[key] = [value] if args.from_query else value
        return await call_handler(ctx, handler, request, args)

    return endpoint
