"""``tracklet server`` and ``tracklet ui``: options (flags, ``TRACKLET_*`` env vars, MLflow's names as fallback),
the stores they open, and uvicorn. Importing this module loads no server dependency; ``run`` does.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from urllib.parse import unquote, urlparse

from tracklet import env
from tracklet.server import auth_cli

PROXIED_ROOT = "mlflow-artifacts:///"  # both stores strip the trailing '/', giving mlflow-artifacts:/<exp_id>
DEFAULT_DESTINATION = "mlartifacts"
CONFIG_ENV = "TRACKLET_SERVER_CONFIG"  # how the options reach worker processes (--workers > 1)
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def add_parsers(subparsers) -> None:
    """Register ``server`` and ``ui`` on the CLI's subparsers (``tracklet/cli.py`` calls this)."""
    server = subparsers.add_parser("server", help="run the tracking server (MLflow-compatible REST API)")
    _add_options(server, ui=False)
    server.set_defaults(func=run_from_args)
    ui = subparsers.add_parser("ui", help="the tracking server on localhost with the default store")
    _add_options(ui, ui=True)
    ui.set_defaults(func=run_from_args)


def _add_options(p: argparse.ArgumentParser, ui: bool) -> None:
    e = env.get
    p.add_argument(
        "--backend-store-uri", default=e("BACKEND_STORE_URI"), help="tracking store (default: ./tracklet.db)"
    )
    p.add_argument(
        "--default-artifact-root", default=e("DEFAULT_ARTIFACT_ROOT"), help="artifact root of new experiments"
    )
    p.add_argument(
        "--artifacts-destination",
        default=e("ARTIFACTS_DESTINATION"),
        help=f"where proxied artifacts are stored (default: ./{DEFAULT_DESTINATION})",
    )
    serve = p.add_mutually_exclusive_group()
    serve.add_argument("--serve-artifacts", dest="serve_artifacts", action="store_true", default=None)
    serve.add_argument("--no-serve-artifacts", dest="serve_artifacts", action="store_false")
    p.add_argument("--artifacts-only", action="store_true", default=env.get_bool("ARTIFACTS_ONLY"))
    p.add_argument("--host", default="127.0.0.1" if ui else e("HOST", "127.0.0.1"), help="bind address")
    p.add_argument("--port", "-p", type=int, default=e("PORT", "5000"))
    p.add_argument("--workers", "-w", type=int, default=e("WORKERS", "1"))
    p.add_argument("--expose-prometheus", nargs="?", const="1", default=e("EXPOSE_PROMETHEUS"), help="serve /metrics")
    p.add_argument("--auth-username", default=e("SERVER_AUTH_USERNAME"))
    p.add_argument("--auth-password", default=e("SERVER_AUTH_PASSWORD"))
    p.add_argument("--auth-token", default=e("SERVER_AUTH_TOKEN"))
    auth_cli.add_server_options(p)  # --auth basic: users, tokens, permissions (server/auth_cli.py)
    p.add_argument("--log-level", default=e("SERVER_LOG_LEVEL", "warning"))


def options_from_args(args) -> dict:
    """The resolved options as a JSON-able dict (what every worker builds its app from)."""
    from tracklet.tracking.stores.registry import default_tracking_uri, normalize_uri

    serve_artifacts = args.serve_artifacts
    if serve_artifacts is None:
        serve_artifacts = env.get_bool("SERVE_ARTIFACTS", True)
    destination = args.artifacts_destination or DEFAULT_DESTINATION
    if "://" not in destination:
        destination = os.path.abspath(destination)
    root = args.default_artifact_root or (PROXIED_ROOT if serve_artifacts else None)
    return {
        "backend_store_uri": normalize_uri(args.backend_store_uri or default_tracking_uri()),
        "default_artifact_root": root,
        "artifacts_destination": destination,
        "serve_artifacts": bool(serve_artifacts),
        "artifacts_only": bool(args.artifacts_only),
        "expose_prometheus": bool(args.expose_prometheus),
        "auth": [args.auth_username, args.auth_password, args.auth_token],
        "auth_basic": auth_cli.server_options(args),
    }


def open_store(uri: str, artifact_root: str | None):
    """A tracking store for ``uri`` whose new experiments put artifacts under ``artifact_root``."""
    from tracklet.tracking.stores import registry

    scheme = urlparse(uri).scheme.split("+")[0].lower()
    if scheme in registry._SQL_SCHEMES:
        from tracklet.tracking.stores.sql import SqlStore

        return SqlStore(uri, artifact_root or registry._sql_artifact_root(uri))
    if scheme in ("", "file") or (len(scheme) == 1 and scheme.isalpha()):
        from tracklet.tracking.stores.file import FileStore

        return FileStore(unquote(urlparse(uri).path) if scheme == "file" else uri, artifact_root)
    raise SystemExit(f"tracklet server: unsupported --backend-store-uri {uri!r} (a path, file://, or a SQL URL)")


def build_app(options: dict):
    """The ASGI app for ``options`` (see :func:`options_from_args`)."""
    from tracklet.server.app import create_app
    from tracklet.server.auth import Auth
    from tracklet.tracking.artifacts import get_artifact_repository

    store = (
        None
        if options["artifacts_only"]
        else open_store(options["backend_store_uri"], options["default_artifact_root"])
    )
    repo = None
    if options["serve_artifacts"] or options["artifacts_only"]:
        destination = options["artifacts_destination"]
        if "://" not in destination:
            os.makedirs(destination, exist_ok=True)
        repo = get_artifact_repository(destination)
    basic = options.get("auth_basic")
    return create_app(
        store,
        repo,
        auth_cli.build_auth(basic) if basic else Auth.from_values(*options["auth"]),
        serve_artifacts=options["serve_artifacts"] or options["artifacts_only"],
        artifacts_only=options["artifacts_only"],
        expose_prometheus=options["expose_prometheus"],
    )


def app_from_env():
    """uvicorn factory for worker processes: the options come from ``TRACKLET_SERVER_CONFIG``."""
    from tracklet.server._startup import DeferredApp

    options = json.loads(os.environ[CONFIG_ENV])
    return DeferredApp(lambda: build_app(options))


def bind_warning(host: str, has_auth: bool) -> str | None:
    """The warning printed when the server listens beyond this machine without authentication."""
    if host in LOCAL_HOSTS or has_auth:
        return None
    return (
        f"WARNING: serving on {host} without authentication: anyone who can reach this address can read and "
        "change every run. Set --auth-token (or --auth-username/--auth-password), or bind 127.0.0.1."
    )


def run_from_args(args) -> None:
    """Start uvicorn with the options in ``args`` (blocks until the server stops)."""
    try:
        import uvicorn
    except ImportError:
        raise SystemExit("tracklet server needs the server extra: pip install 'tracklet[server]'") from None
    options = options_from_args(args)
    if options["auth_basic"]:
        auth_cli.prepare_server(options["auth_basic"], args)
    warning = bind_warning(args.host, any(options["auth"]) or bool(options["auth_basic"]))
    if warning:
        print(warning, file=sys.stderr)
    where = "artifacts only" if options["artifacts_only"] else options["backend_store_uri"]
    print(f"tracklet server: http://{args.host}:{args.port} ({where})", file=sys.stderr, flush=True)
    common = {"host": args.host, "port": args.port, "log_level": args.log_level, "access_log": False}
    if args.workers > 1:
        if not options["artifacts_only"]:  # fail here, once, rather than in every worker
            open_store(options["backend_store_uri"], options["default_artifact_root"]).close()
        os.environ[CONFIG_ENV] = json.dumps(options)
        uvicorn.run("tracklet.server.serve:app_from_env", factory=True, workers=args.workers, **common)
        return
    # one worker: no supervisor process; listen first and open the store in the background (ready < 1 s)
    from tracklet.server._startup import DeferredApp

    failures: list[BaseException] = []

    def stop(exc: BaseException) -> None:
        failures.append(exc)
        server.should_exit = True

    server = uvicorn.Server(uvicorn.Config(DeferredApp(lambda: build_app(options), stop), **common))
    server.run()
    if failures:
        raise SystemExit(f"tracklet server: cannot start: {failures[0]}")
    if not server.started:
        raise SystemExit(3)  # uvicorn logged why (e.g. the port is in use), as uvicorn.run exits
