"""The admin REST API of ``--auth basic``, shaped like MLflow's auth app (``/api/2.0/mlflow/users/...`` and
``/experiments/permissions/...``, also under ``/ajax-api``), plus tracklet's tokens (``/api/2.0/tracklet/tokens/...``).

Who may call what: creating, listing and deleting users and changing the admin flag is for admins; a user reads
themself, changes their own password (giving the current one) and manages their own tokens; granting on an
experiment needs MANAGE on it. Every change clears the server's credential and permission caches.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route

from tracklet.exceptions import InvalidParameterValue, ResourceDoesNotExist, TrackletException
from tracklet.server import auth_rules
from tracklet.server._args import Args
from tracklet.server._endpoint import call_handler, check_auth, error_response, query_args, read_json_body
from tracklet.server.auth import PermissionDenied, current_principal
from tracklet.server.auth_store import permission as parse_permission

PREFIXES = ("/api/2.0/mlflow", "/ajax-api/2.0/mlflow")
TOKENS_PREFIX = "/api/2.0/tracklet/tokens"


def _auth(ctx):
    return ctx.auth.auth


def _changed(ctx) -> None:
    _auth(ctx).invalidate()


def _user_json(ctx, user) -> dict:
    grants = _auth(ctx).store.permissions_of(user.username)
    permissions = [{"experiment_id": e, "user_id": user.id, "permission": p} for e, p in sorted(grants.items())]
    return dict(user.to_json(), experiment_permissions=permissions, registered_model_permissions=[])


def self_or_admin(gate, principal, ctx, args, handler) -> dict:
    username = args.str("username")
    if not principal.is_admin and username not in (None, principal.username):
        raise PermissionDenied(f"Permission denied: user '{principal.username}' may act only on their own account")
    return handler(ctx, args)


def _rule(rule):
    def mark(handler):
        handler.auth_rule = rule
        return handler

    return mark


# ------------------------------------------------------------------ users


@_rule(auth_rules.admins)
def create_user(ctx, a: Args) -> dict:
    store = _auth(ctx).store
    user = store.create_user(a.str("username", required=True), a.str("password", required=True), a.bool("is_admin"))
    return {"user": _user_json(ctx, user)}


@_rule(self_or_admin)
def get_user(ctx, a: Args) -> dict:
    return {"user": _user_json(ctx, _auth(ctx).store.get_user(a.str("username", required=True)))}


@_rule(auth_rules.anyone)
def current_user(ctx, a: Args) -> dict:
    return {"user": _user_json(ctx, _auth(ctx).store.get_user(current_principal().username))}


@_rule(auth_rules.admins)
def list_users(ctx, a: Args) -> dict:
    return {"users": [u.to_json() for u in _auth(ctx).store.list_users()]}


@_rule(self_or_admin)
def update_password(ctx, a: Args) -> dict:
    store, principal = _auth(ctx).store, current_principal()
    username, password = a.str("username", required=True), a.str("password", required=True)
    if not principal.is_admin or principal.username == username:
        # changing one's own password needs the current one (a stolen token alone cannot take the account)
        current = a.str("current_password")
        if not current or store.verify_password(username, current) is None:
            raise PermissionDenied("Permission denied: 'current_password' is missing or wrong")
    store.update_password(username, password)
    _changed(ctx)
    return {}


@_rule(auth_rules.admins)
def update_admin(ctx, a: Args) -> dict:
    _auth(ctx).store.set_admin(a.str("username", required=True), a.bool("is_admin"))
    _changed(ctx)
    return {}


@_rule(auth_rules.admins)
def delete_user(ctx, a: Args) -> dict:
    username = a.str("username", required=True)
    if username == current_principal().username:
        raise InvalidParameterValue("An admin cannot delete their own account (another admin can)")
    _auth(ctx).store.delete_user(username)
    _changed(ctx)
    return {}


# ------------------------------------------------------------------ experiment permissions


def _grant_reply(ctx, a: Args, name: str) -> dict:
    user = _auth(ctx).store.get_user(a.str("username", required=True))
    experiment_id = a.str("experiment_id", required=True)
    return {"experiment_permission": {"experiment_id": experiment_id, "user_id": user.id, "permission": name}}


def _set_grant(ctx, a: Args, create: bool) -> dict:
    experiment_id = a.str("experiment_id", required=True)
    if ctx.store is not None:
        ctx.store.get_experiment(experiment_id)  # 404 for an unknown experiment
    name = parse_permission(a.str("permission", required=True)).name
    _auth(ctx).store.set_permission(a.str("username", required=True), experiment_id, name, create=create)
    _changed(ctx)
    return _grant_reply(ctx, a, name)


@_rule(auth_rules.on_experiment(auth_rules.MANAGE))
def create_permission(ctx, a: Args) -> dict:
    return _set_grant(ctx, a, create=True)


@_rule(auth_rules.on_experiment(auth_rules.MANAGE))
def update_permission(ctx, a: Args) -> dict:
    return _set_grant(ctx, a, create=False)


@_rule(auth_rules.on_experiment(auth_rules.MANAGE))
def get_permission(ctx, a: Args) -> dict:
    grants = _auth(ctx).store.permissions_of(a.str("username", required=True))
    experiment_id = a.str("experiment_id", required=True)
    if experiment_id not in grants:
        raise ResourceDoesNotExist(f"User '{a.str('username')}' has no permission on experiment {experiment_id}")
    return _grant_reply(ctx, a, grants[experiment_id])


@_rule(auth_rules.on_experiment(auth_rules.MANAGE))
def delete_permission(ctx, a: Args) -> dict:
    _auth(ctx).store.delete_permission(a.str("username", required=True), a.str("experiment_id", required=True))
    _changed(ctx)
    return {}


# ------------------------------------------------------------------ tokens


def _token_owner(a: Args) -> str:
    return a.str("username") or current_principal().username


@_rule(self_or_admin)
def create_token(ctx, a: Args) -> dict:
    token_id, secret = _auth(ctx).store.create_token(_token_owner(a), a.str("name"))
    return {"token_id": token_id, "token": secret}


@_rule(self_or_admin)
def list_tokens(ctx, a: Args) -> dict:
    return {"tokens": _auth(ctx).store.list_tokens(_token_owner(a))}


@_rule(self_or_admin)
def revoke_token(ctx, a: Args) -> dict:
    _auth(ctx).store.revoke_token(_token_owner(a), a.int("token_id", required=True))
    _changed(ctx)
    return {}


def _endpoint(ctx, handler):
    """Like ``api_endpoint``, but a DELETE may carry its fields in a JSON body too (MLflow's auth client does)."""
    guarded = ctx.auth.guard(handler)

    async def endpoint(request: Request):
        denied = check_auth(ctx, request)
        if denied is not None:
            return denied
        try:
            if request.method == "GET":
                args = Args(query_args(request), from_query=True)
            else:
                data = await read_json_body(request, 1024 * 1024)
                if request.method == "DELETE":
                    data = {**{k: v[-1] for k, v in query_args(request).items()}, **data}
                args = Args(data)
        except TrackletException as exc:
            return error_response(exc.error_code, exc.message, exc.http_status)
        return await call_handler(ctx, guarded, request, args)

    return endpoint


ROUTES = [
    ("/users/create", "POST", create_user),
    ("/users/get", "GET", get_user),
    ("/users/current", "GET", current_user),
    ("/users/list", "GET", list_users),
    ("/users/update-password", "PATCH", update_password),
    ("/users/update-admin", "PATCH", update_admin),
    ("/users/delete", "DELETE", delete_user),
    ("/experiments/permissions/create", "POST", create_permission),
    ("/experiments/permissions/get", "GET", get_permission),
    ("/experiments/permissions/update", "PATCH", update_permission),
    ("/experiments/permissions/delete", "DELETE", delete_permission),
]
TOKEN_ROUTES = [("/create", "POST", create_token), ("/list", "GET", list_tokens), ("/revoke", "DELETE", revoke_token)]


def routes(ctx) -> list[Route]:
    """Starlette routes of the admin API for the app of ``ctx``."""
    out = [Route(p + path, _endpoint(ctx, h), methods=[m]) for p in PREFIXES for path, m, h in ROUTES]
    out += [Route(TOKENS_PREFIX + path, _endpoint(ctx, h), methods=[m]) for path, m, h in TOKEN_ROUTES]
    return out
