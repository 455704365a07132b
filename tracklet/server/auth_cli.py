"""``tracklet users ...`` and the ``--auth basic`` options of ``tracklet server``.

The auth tables live in the backend store's database when it is SQL, else in ``sqlite:///<file store root>/auth.db``;
``--auth-db-uri`` puts them elsewhere. ``tracklet users`` writes the database directly: a running server notices
within its cache time (``--auth-cache-seconds``, default 30 s). Importing this module loads nothing heavy.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from urllib.parse import unquote, urlparse

from tracklet import env

USER_PASSWORD_ENV = "TRACKLET_USER_PASSWORD"


def _add_store_options(p) -> None:
    p.add_argument("--backend-store-uri", default=env.get("BACKEND_STORE_URI"), help="the server's tracking store")
    p.add_argument(
        "--auth-db-uri",
        default=env.get("SERVER_AUTH_DB_URI"),
        help="database of users and permissions (default: the backend store's SQL database, or <root>/auth.db)",
    )


def add_server_options(p) -> None:
    """The auth flags of ``tracklet server`` / ``tracklet ui`` (env ``TRACKLET_SERVER_AUTH`` and friends)."""
    p.add_argument("--auth", choices=["basic"], default=env.get("SERVER_AUTH"), help="users, tokens, permissions")
    p.add_argument("--auth-db-uri", default=env.get("SERVER_AUTH_DB_URI"), help="where users live (see tracklet users)")
    p.add_argument("--admin-username", default=env.get("ADMIN_USERNAME"), help="create this admin if missing")
    p.add_argument("--admin-password-file", help="the admin's password (else TRACKLET_ADMIN_PASSWORD)")
    p.add_argument(
        "--default-permission",
        default=env.get("SERVER_AUTH_DEFAULT_PERMISSION", "READ"),
        help="on experiments without a grant: READ (default), EDIT, MANAGE or NO_PERMISSIONS",
    )
    p.add_argument(
        "--auth-cache-seconds",
        type=float,
        default=env.get_float("SERVER_AUTH_CACHE_SECONDS", 30.0),
        help="how long verified credentials and permissions are remembered (0: never)",
    )


def resolve_auth_db_uri(backend_store_uri: str | None, auth_db_uri: str | None) -> str:
    """``auth_db_uri`` if given; else the backend store's URI when it is SQL; else ``<file store root>/auth.db``."""
    from tracklet.tracking.stores.registry import _SQL_SCHEMES, default_tracking_uri, normalize_uri

    if auth_db_uri:
        return normalize_uri(auth_db_uri)
    uri = normalize_uri(backend_store_uri or default_tracking_uri())
    scheme = urlparse(uri).scheme.split("+")[0].lower()
    if scheme in _SQL_SCHEMES:
        return uri
    if scheme in ("", "file") or (len(scheme) == 1 and scheme.isalpha()):
        root = unquote(urlparse(uri).path) if scheme == "file" else uri
        return "sqlite:///" + os.path.join(os.path.abspath(root), "auth.db")
    raise SystemExit(f"tracklet: cannot keep users beside the backend store {uri!r}; give --auth-db-uri")


def server_options(args) -> dict | None:
    """The JSON-able ``--auth basic`` options (what every worker builds its auth from), None without it."""
    if not args.auth:
        return None
    if args.auth_username or args.auth_password or args.auth_token:
        raise SystemExit(
            "tracklet server: --auth basic keeps users in a database; drop --auth-username/--auth-password/"
            "--auth-token (the single-credential mode) and create users with `tracklet users create`"
        )
    from tracklet.server.auth_store import permission

    return {
        "db_uri": resolve_auth_db_uri(args.backend_store_uri, args.auth_db_uri),
        "default_permission": permission(args.default_permission).name,
        "cache_seconds": max(0.0, float(args.auth_cache_seconds)),
    }


def _read_password_file(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read().rstrip("\r\n")
    except OSError as exc:
        raise SystemExit(f"tracklet: cannot read the password file {path!r}: {exc.strerror}") from None


def prepare_server(options: dict, args) -> None:
    """Before the server starts: create the admin from the CLI/env when missing, and refuse to start with no user."""
    from tracklet.server.auth_store import AuthStore

    store = AuthStore(options["db_uri"])
    try:
        username = args.admin_username
        password = _read_password_file(args.admin_password_file) if args.admin_password_file else None
        password = password or env.get("ADMIN_PASSWORD")
        if username and store.find_user(username) is None:
            if not password:
                raise SystemExit(
                    f"tracklet server: admin '{username}' does not exist yet; give its password with "
                    "--admin-password-file or TRACKLET_ADMIN_PASSWORD (there is no default password)"
                )
            store.create_user(username, password, is_admin=True)
            print(f"tracklet server: created admin '{username}'", file=sys.stderr)
        elif store.count_users() == 0:
            raise SystemExit(
                "tracklet server: --auth basic needs a user, and there is none: give the first admin with "
                "--admin-username plus --admin-password-file (or TRACKLET_ADMIN_USERNAME/TRACKLET_ADMIN_PASSWORD), "
                "or run `tracklet users create NAME --admin`"
            )
    finally:
        store.close()


def build_auth(options: dict):
    """The ``BasicAuth`` of one server process."""
    from tracklet.server.auth_basic import BasicAuth
    from tracklet.server.auth_store import AuthStore

    return BasicAuth(AuthStore(options["db_uri"]), options["default_permission"], options["cache_seconds"])


# ------------------------------------------------------------------ tracklet users


def _store(args):
    from tracklet.server.auth_store import AuthStore

    return AuthStore(resolve_auth_db_uri(args.backend_store_uri, args.auth_db_uri))


def _new_password(args) -> str:
    if getattr(args, "password_file", None):
        return _read_password_file(args.password_file)
    if os.environ.get(USER_PASSWORD_ENV):
        return os.environ[USER_PASSWORD_ENV]
    if not sys.stdin.isatty():
        raise SystemExit(f"tracklet users: give the password with --password-file or {USER_PASSWORD_ENV}")
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Password (again): "):
        raise SystemExit("tracklet users: the passwords differ")
    return first


def _say(args, data, text: str) -> None:
    print(json.dumps(data, indent=2) if args.json else text)


def _run(args) -> int:
    store = _store(args)
    try:
        _ACTIONS[args.action](args, store)
    finally:
        store.close()
    return 0


def _create(args, store):
    user = store.create_user(args.name, _new_password(args), args.admin)
    _say(args, user.to_json(), f"Created {'admin' if user.is_admin else 'user'} '{user.username}'")


def _passwd(args, store):
    store.update_password(args.name, _new_password(args))
    _say(args, {"updated": args.name}, f"Changed the password of '{args.name}'")


def _delete(args, store):
    store.delete_user(args.name)
    _say(args, {"deleted": args.name}, f"Deleted user '{args.name}' with their permissions and tokens")


def _list(args, store):
    users = store.list_users()
    rows = [f"{u.username}{'  (admin)' if u.is_admin else ''}" for u in users]
    _say(args, [u.to_json() for u in users], "\n".join(rows) if rows else "no users")


def _grant(args, store):
    from tracklet.tracking.validation import validate_experiment_id

    perm = store.set_permission(args.name, validate_experiment_id(args.experiment_id), args.permission)
    grant = {"username": args.name, "experiment_id": args.experiment_id, "permission": perm.name}
    _say(args, grant, f"Granted {perm.name} on experiment {args.experiment_id} to '{args.name}'")


def _revoke(args, store):
    store.delete_permission(args.name, args.experiment_id)
    _say(
        args, {"revoked": args.experiment_id}, f"Revoked the grant of '{args.name}' on experiment {args.experiment_id}"
    )


def _token(args, store):
    token_id, token = store.create_token(args.name, args.label)
    text = f"Token {token_id} for '{args.name}' (shown only now; send it as 'Authorization: Bearer ...'):\n{token}"
    _say(args, {"token_id": token_id, "token": token}, text)


def _tokens(args, store):
    tokens = store.list_tokens(args.name)
    _say(args, tokens, "\n".join(f"{t['id']}  {t['name']}" for t in tokens) or "no tokens")


def _revoke_token(args, store):
    store.revoke_token(args.name, args.token_id)
    _say(args, {"revoked_token": args.token_id}, f"Revoked token {args.token_id} of '{args.name}'")


_ACTIONS = {
    "create": _create,
    "passwd": _passwd,
    "delete": _delete,
    "list": _list,
    "grant": _grant,
    "revoke": _revoke,
    "token": _token,
    "tokens": _tokens,
    "revoke-token": _revoke_token,
}


def add_parsers(subparsers) -> None:
    """Register ``tracklet users ...`` on the CLI's subparsers (``tracklet/cli.py`` calls this)."""
    common = argparse.ArgumentParser(add_help=False)
    _add_store_options(common)
    common.add_argument("--json", action="store_true", help="print JSON")
    users = subparsers.add_parser("users", help="users, permissions and tokens of `tracklet server --auth basic`")
    sub = users.add_subparsers(dest="action", required=True)

    def action(name: str, help: str, *positionals: str):
        p = sub.add_parser(name, parents=[common], help=help)
        for positional in positionals:
            p.add_argument(positional)
        p.set_defaults(func=_run)
        return p

    create = action("create", "add a user (password: --password-file, TRACKLET_USER_PASSWORD or a prompt)", "name")
    create.add_argument("--admin", action="store_true", help="the user may do everything")
    create.add_argument("--password-file")
    action("passwd", "set a user's password", "name").add_argument("--password-file")
    action("delete", "remove a user with their permissions and tokens", "name")
    action("list", "list users")
    action("grant", "give NAME a permission (READ, EDIT, MANAGE, NO_PERMISSIONS) on an experiment", "name",
           "experiment_id", "permission")  # fmt: skip
    action("revoke", "remove NAME's grant on an experiment (the default permission applies again)", "name",
           "experiment_id")  # fmt: skip
    action("token", "create a bearer token for NAME (printed once)", "name").add_argument("--label")
    action("tokens", "list NAME's tokens (ids and labels)", "name")
    action("revoke-token", "revoke one of NAME's tokens", "name").add_argument("token_id", type=int)
