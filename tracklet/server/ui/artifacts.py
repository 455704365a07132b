"""``GET /get-artifact?run_id=&path=`` (``run_uuid`` accepted too): one run artifact, streamed, for the UI's
previews and download links.

The file comes through the run's artifact repository: proxied ``mlflow-artifacts:/`` roots from the server's
own destination, local roots from disk, any other scheme through tracklet's repository lookup (downloaded to
a temporary directory that is removed once sent). Paths go through the same containment checks as the
artifact proxy (``artifacts_api.safe_relative_path`` and, on disk, ``local_target`` with symlinks resolved),
so ``..``, absolute, percent-encoded and backslash tricks are answered 400.

Every reply is ``Content-Disposition: attachment`` and carries ``Content-Security-Policy: sandbox`` and
``nosniff``: an HTML or SVG artifact opened from here can't run script in the UI's origin (the UI previews
HTML in a sandboxed iframe instead).
"""

from __future__ import annotations

import mimetypes
import os
import posixpath
import shutil
import tempfile

from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from tracklet.exceptions import InvalidParameterValue, ResourceDoesNotExist, TrackletException
from tracklet.server._endpoint import check_auth, error_response
from tracklet.server.artifacts_api import _repo_for, local_target, safe_relative_path

# Artifacts tracklet and its autolog integrations write without an extension that mimetypes knows.
_TEXT_NAMES = {"MLmodel", "requirements.txt", "conda.yaml", "python_env.yaml", "LICENSE"}
_TEXT_EXTENSIONS = {".yaml", ".yml", ".log", ".md", ".txt", ".py", ".toml", ".cfg", ".ini", ".jsonl"}
SAFETY_HEADERS = {"Content-Security-Policy": "sandbox", "X-Content-Type-Options": "nosniff"}


def content_type(path: str) -> str:
    """The media type to send ``path`` with; text gets ``charset=utf-8``, unknown binaries octet-stream."""
    name = posixpath.basename(path)
    ext = posixpath.splitext(name)[1].lower()
    if name in _TEXT_NAMES or ext in _TEXT_EXTENSIONS:
        return "text/plain; charset=utf-8"
    guessed = mimetypes.guess_type(name)[0] or "application/octet-stream"
    if guessed.startswith("text/") or guessed in ("application/json", "image/svg+xml"):
        return guessed + "; charset=utf-8"
    return guessed


def _local_file(root: str, rel: str) -> str:
    target = local_target(root, rel)  # refuses symlinks (and anything else) resolving outside the root
    if os.path.isdir(target):
        raise InvalidParameterValue(f"Artifact path '{rel}' is a directory, not a file")
    if not os.path.isfile(target):
        raise ResourceDoesNotExist(f"Artifact '{rel}' does not exist")
    return target


def _fetch(ctx, run_id: str, rel: str) -> tuple[str, str | None]:
    """(local file to send, temporary directory to remove afterwards or None)."""
    from tracklet.tracking.artifacts.local import LocalArtifactRepository

    root_uri = ctx.store.get_run(run_id).info.artifact_uri
    repo, prefix = _repo_for(ctx, root_uri)
    full = posixpath.join(prefix, rel) if prefix else rel
    if isinstance(repo, LocalArtifactRepository):
        return _local_file(repo.root, full), None
    tmp = tempfile.mkdtemp(prefix="tracklet-get-artifact-")
    try:
        local = repo.download_artifacts(full, tmp)
        if os.path.isdir(local):
            raise InvalidParameterValue(f"Artifact path '{rel}' is a directory, not a file")
        local_target(tmp, os.path.relpath(local, tmp))  # the repository must not have written elsewhere
        return local, tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def get_artifact_route(ctx) -> Route:
    """The ``/get-artifact`` route over the server context ``ctx`` (behind the server's auth)."""

    async def endpoint(request: Request) -> Response:
        denied = check_auth(ctx, request)
        if denied is not None:
            return denied
        try:
            if ctx.store is None:
                raise InvalidParameterValue("This server has no tracking store")
            q = request.query_params
            given = {q.get("run_id"), q.get("run_uuid")} - {None, ""}
            if len(given) > 1:  # the auth gate checks one of them: never serve the other
                raise InvalidParameterValue("Parameters 'run_id' and 'run_uuid' name different runs")
            if not given:
                raise InvalidParameterValue("Missing value for required parameter 'run_id'")
            run_id = given.pop()
            rel = safe_relative_path(q.get("path"))
            if not rel:
                raise InvalidParameterValue("Missing value for required parameter 'path' (a file in the run)")
            local, tmp = await run_in_threadpool(_fetch, ctx, run_id, rel)
        except TrackletException as exc:
            return error_response(exc.error_code, exc.message, exc.http_status)
        except OSError as exc:
            return error_response("INVALID_PARAMETER_VALUE", f"Artifact read failed: {exc.strerror}", 400)
        return FileResponse(
            local,
            media_type=content_type(rel),
            filename=posixpath.basename(rel),
            content_disposition_type="attachment",
            headers=SAFETY_HEADERS,
            background=BackgroundTask(shutil.rmtree, tmp, True) if tmp else None,
        )

    return Route("/get-artifact", endpoint, methods=["GET"])
