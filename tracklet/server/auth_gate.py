"""Where authentication and authorization happen in the app built by ``create_app(..., auth)``.

- :class:`AuthMiddleware` (pure ASGI, around every route): no valid credentials -> 401 with a Basic challenge (so a
  browser opening the UI asks for them), except ``/health`` and ``/version``. It records the caller for the
  handlers and checks the routes that carry no handler of ours: the artifact proxy and ``/get-artifact``.
- :meth:`AuthGate.guard` wraps each REST handler with its rule from :mod:`auth_rules` (403 PERMISSION_DENIED).

Artifact proxy: ``/api/2.0/mlflow-artifacts/artifacts/<experiment_id>/...`` needs READ (GET), EDIT (PUT) or
MANAGE (DELETE) on that experiment; a path whose first part is not an experiment id (the root listing, a custom
``--default-artifact-root mlflow-artifacts:/team/...``) is for admins only. The UI (``/``, ``/static``) needs
any signed-in user; the data it shows comes through the REST API, checked there.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.concurrency import run_in_threadpool

from tracklet.exceptions import TrackletException
from tracklet.server import auth_rules
from tracklet.server._endpoint import error_response
from tracklet.server.artifacts_api import PROXY_PREFIX
from tracklet.server.auth import (
    PermissionDenied,
    Principal,
    current_principal,
    reset_current_principal,
    set_current_principal,
)

PUBLIC_PATHS = frozenset({"/health", "/version"})
SCOPE_KEY = "tracklet.principal"
_NEED_BY_METHOD = {"GET": auth_rules.READ, "HEAD": auth_rules.READ, "PUT": auth_rules.UPDATE}
_NEED_NAMES = {auth_rules.READ: "READ", auth_rules.UPDATE: "EDIT", auth_rules.MANAGE: "MANAGE"}


class _BoundedMap(dict):
    """run/model id -> experiment id: these never change, so entries never go stale; bounded in size."""

    def __init__(self, max_size: int = 100_000):
        super().__init__()
        self.max_size = max_size

    def remember(self, key, value):
        if len(self) >= self.max_size:
            self.clear()
        self[key] = value
        return value


class AuthGate:
    """The auth of one app: ``auth`` (:class:`~tracklet.server.auth.Auth` or ``BasicAuth``) over ``ctx.store``."""

    def __init__(self, ctx, auth):
        self.ctx = ctx
        self.auth = auth
        self._run_experiments = _BoundedMap()
        self._model_experiments = _BoundedMap()

    # ------------------------------------------------------------------ decisions
    def allowed(self, principal: Principal, experiment_id: str, need: str) -> bool:
        """True when ``principal`` may ``need`` (read / update / manage) the experiment."""
        if principal.is_admin:
            return True
        return getattr(self.auth.permission(principal, str(experiment_id)), "can_" + need)

    def require(self, principal: Principal, experiment_id: str, need: str) -> None:
        """PermissionDenied unless :meth:`allowed`."""
        if not self.allowed(principal, experiment_id, need):
            raise PermissionDenied(
                f"Permission denied: user '{principal.username}' needs {_NEED_NAMES[need]} on experiment "
                f"{experiment_id}"
            )

    def experiment_of_run(self, run_id: str) -> str:
        found = self._run_experiments.get(run_id)
        if found is None:
            found = self._run_experiments.remember(run_id, self.ctx.store.get_run(run_id).info.experiment_id)
        return found

    def experiment_of_model(self, model_id: str) -> str:
        found = self._model_experiments.get(model_id)
        if found is None:
            from tracklet.server.logged_models_api import _models

            experiment_id = _models(self.ctx).get(model_id, allow_deleted=True).experiment_id
            found = self._model_experiments.remember(model_id, experiment_id)
        return found

    # ------------------------------------------------------------------ wiring
    def guard(self, handler):
        """``handler`` with its permission check (see :mod:`auth_rules`); unknown handlers are admin-only."""
        rule = auth_rules.RULES.get(handler) or getattr(handler, "auth_rule", None)
        if rule is None:
            # the server-info closure of app.py describes the server only; MLflow's client reads it before uploads
            rule = auth_rules.anyone if handler.__qualname__.startswith("_server_info.") else auth_rules.admins

        def guarded(ctx, args):
            return rule(self, current_principal(), ctx, args, handler)

        guarded.__name__ = getattr(handler, "__name__", "handler")
        return guarded

    def middleware(self) -> list:
        from starlette.middleware import Middleware

        return [Middleware(AuthMiddleware, gate=self)]

    def routes(self) -> list:
        """The admin REST API (users, permissions, tokens) when the auth keeps users; none otherwise."""
        if getattr(self.auth, "store", None) is None:
            return []
        from tracklet.server.auth_api import routes

        return routes(self.ctx)

    # ------------------------------------------------------------------ routes without a handler of ours
    def check_path(self, scope: dict, principal: Principal) -> None:
        """PermissionDenied for an artifact-proxy or get-artifact request ``principal`` may not make."""
        if principal.is_admin:
            return
        path, method = _route_path(scope), scope["method"]
        if path == PROXY_PREFIX or path.startswith(PROXY_PREFIX + "/"):
            rel = path[len(PROXY_PREFIX) + 1 :] if path != PROXY_PREFIX else _query(scope, "path")
            need = _NEED_BY_METHOD.get(method, auth_rules.MANAGE)
            experiment_id = (rel or "").lstrip("/").split("/", 1)[0]
            if not (experiment_id.isascii() and experiment_id.isdigit()):
                raise PermissionDenied(
                    f"Permission denied: only admins may use artifact paths outside an experiment ({rel or '/'!r})"
                )
            self.require(principal, experiment_id, need)
        elif path.endswith("/get-artifact"):
            run_id = _query(scope, "run_uuid") or _query(scope, "run_id")
            if not run_id or self.ctx.store is None:
                raise PermissionDenied("Permission denied: get-artifact without a run id is for admins only")
            self.require(principal, self.experiment_of_run(run_id), auth_rules.READ)


def _query(scope: dict, name: str) -> str | None:
    """The value the handler will read: Starlette keeps blank values and the last of repeated ones."""
    values = [
        v for k, v in parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True) if k == name
    ]
    return values[-1] if values else None


def _route_path(scope: dict) -> str:
    """The path the router matches (without the ``root_path`` the app may be mounted under)."""
    path, root = scope["path"], scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


def _header(scope: dict, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


class AuthMiddleware:
    """ASGI middleware: authenticate every HTTP request (bcrypt off the event loop), then hand over the caller."""

    def __init__(self, app, gate: AuthGate):
        self.app = app
        self.gate = gate
        self.slow = getattr(gate.auth, "authenticate", None)  # None: the fast check is the whole check

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or _route_path(scope) in PUBLIC_PATHS:
            return await self.app(scope, receive, send)
        authorization = _header(scope, b"authorization")
        principal = self.gate.auth.authenticate_cached(authorization)
        if principal is None and authorization and self.slow is not None:
            principal = await run_in_threadpool(self.slow, authorization)
        if principal is None:
            response = error_response("UNAUTHENTICATED", "Missing or invalid credentials", 401)
            response.headers["WWW-Authenticate"] = 'Basic realm="tracklet"'
            return await response(scope, receive, send)
        scope[SCOPE_KEY] = principal
        token = set_current_principal(principal)
        try:
            path = _route_path(scope)
            if not principal.is_admin and (path.startswith(PROXY_PREFIX) or path.endswith("/get-artifact")):
                try:
                    await run_in_threadpool(self.gate.check_path, scope, principal)
                except TrackletException as exc:  # 403, or e.g. an unknown run answered as the handler would
                    return await error_response(exc.error_code, exc.message, exc.http_status)(scope, receive, send)
            await self.app(scope, receive, send)
        finally:
            reset_current_principal(token)
