"""Artifacts over HTTP: the run-level listing (``/mlflow/artifacts/list``) and the proxy under
``/api/2.0/mlflow-artifacts/artifacts/<path>`` (GET download, PUT upload, DELETE, and listing without a path).

Proxied artifacts live in the server's artifact repository (``--artifacts-destination``); clients name
them ``mlflow-artifacts:/<path>``. Uploads and downloads stream: a large file never sits in memory. Every
path is checked twice — as sent and once more percent-decoded, so double-encoded ``..`` is caught too — and
on a local destination the resolved real path (symlinks followed) must stay inside the root.
"""

from __future__ import annotations

import os
import posixpath
import shutil
import tempfile
import uuid
from urllib.parse import unquote, urlparse

from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from tracklet.exceptions import InvalidParameterValue, ResourceDoesNotExist, TrackletException
from tracklet.server._args import Args
from tracklet.server._endpoint import check_auth, error_response, json_response
from tracklet.tracking.validation import validate_artifact_path

PROXY_PREFIX = "/api/2.0/mlflow-artifacts/artifacts"
PROXIED_SCHEME = "mlflow-artifacts"
# MLflow clients fall back to one streamed PUT / GET when these endpoints answer with exactly this message
# (checked by prefix); any other error fails the upload of a client that forces multipart transfers
MULTIPART_UPLOAD_UNSUPPORTED = "Multipart upload is not supported for the current artifact repository"
PRESIGNED_DOWNLOAD_UNSUPPORTED = "Multipart download is not supported for the current artifact repository"


def safe_relative_path(path: str | None) -> str:
    """A relative path inside the artifact root, or InvalidParameterValue (``''`` is the root itself)."""
    if path is None:
        return ""
    if not isinstance(path, str) or "\\" in path or "\x00" in path:
        raise InvalidParameterValue(f"Invalid artifact path {str(path)[:200]!r}: backslashes and NUL are not allowed")
    decoded = unquote(path)
    for candidate in (path, decoded, unquote(decoded)):
        if "\\" in candidate or (candidate.startswith("/") and candidate.strip("/")):
            raise InvalidParameterValue(f"Invalid artifact path {path[:200]!r}: must be relative")
        validate_artifact_path(candidate.strip("/") if candidate.strip("/") else None)
        if ".." in candidate.split("/"):
            raise InvalidParameterValue(f"Invalid artifact path {path[:200]!r}: '..' is not allowed")
    return validate_artifact_path(path.strip("/") or None)


def _local_root(repo) -> str | None:
    from tracklet.tracking.artifacts.local import LocalArtifactRepository

    return repo.root if isinstance(repo, LocalArtifactRepository) else None


def local_target(root: str, rel: str) -> str:
    """``root/rel``, refusing anything whose real path (symlinks resolved) leaves ``root``."""
    full = os.path.normpath(os.path.join(root, rel)) if rel else root
    real_root, real = os.path.realpath(root), os.path.realpath(full)
    if real != real_root and not real.startswith(real_root.rstrip(os.sep) + os.sep):
        raise InvalidParameterValue(f"Invalid artifact path {rel[:200]!r}: escapes the artifact root")
    return full


def proxied_prefix(artifact_uri: str) -> str | None:
    """``mlflow-artifacts:/0/abc/artifacts`` -> ``0/abc/artifacts``; None for another scheme."""
    parsed = urlparse(artifact_uri)
    if parsed.scheme != PROXIED_SCHEME:
        return None
    return safe_relative_path(parsed.path.strip("/") or None)


def _repo_for(ctx, artifact_uri: str):
    """(repository, path prefix inside it) holding the artifacts at ``artifact_uri``."""
    prefix = proxied_prefix(artifact_uri)
    if prefix is not None:
        if ctx.artifact_repo is None:
            raise InvalidParameterValue("This server does not serve artifacts (started with --no-serve-artifacts)")
        return ctx.artifact_repo, prefix
    from tracklet.tracking.artifacts import get_artifact_repository

    return get_artifact_repository(artifact_uri), ""


def list_under(ctx, artifact_uri: str, path: str | None) -> list[dict]:
    """Children of ``path`` under ``artifact_uri``, as ``{"path", "is_dir", "file_size"}`` relative to that URI."""
    rel = safe_relative_path(path)
    repo, prefix = _repo_for(ctx, artifact_uri)
    full = posixpath.join(prefix, rel) if prefix and rel else (prefix or rel)
    out = []
    for info in repo.list_artifacts(full or None):
        child = info.path[len(prefix) + 1 :] if prefix else info.path
        if child == rel:  # ``path`` names a file: the listing is empty
            return []
        item = {"path": child, "is_dir": info.is_dir}
        if not info.is_dir and info.file_size is not None:
            item["file_size"] = info.file_size
        out.append(item)
    return out


def list_run_artifacts(ctx, a: Args) -> dict:
    """``GET /mlflow/artifacts/list?run_id=&path=``: ``{root_uri, files[]}`` relative to the run's root."""
    run_id = a.str("run_id") or a.str("run_uuid")
    if not run_id:
        raise InvalidParameterValue("Missing value for required parameter 'run_id'")
    root_uri = ctx.store.get_run(run_id).info.artifact_uri
    files = list_under(ctx, root_uri, a.str("path"))
    return {"root_uri": root_uri, "files": files} if files else {"root_uri": root_uri}


# ------------------------------------------------------------------ the proxy


async def _download(ctx, rel: str) -> Response:
    root = _local_root(ctx.artifact_repo)
    if root is not None:
        target = local_target(root, rel)
        if not os.path.isfile(target):
            raise ResourceDoesNotExist(f"Artifact '{rel}' does not exist")
        return FileResponse(target, filename=posixpath.basename(rel) or None, content_disposition_type="inline")
    tmp = tempfile.mkdtemp(prefix="tracklet-proxy-")
    try:
        local = await run_in_threadpool(ctx.artifact_repo.download_artifacts, rel, tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if not os.path.isfile(local):
        shutil.rmtree(tmp, ignore_errors=True)
        raise ResourceDoesNotExist(f"Artifact '{rel}' is not a file")
    return FileResponse(local, background=BackgroundTask(shutil.rmtree, tmp, True))


async def _upload(ctx, request: Request, rel: str) -> None:
    if not rel:
        raise InvalidParameterValue("An artifact upload needs a file path")
    root = _local_root(ctx.artifact_repo)
    if root is not None:
        target = local_target(root, rel)
        if os.path.isdir(target):
            raise InvalidParameterValue(f"Artifact path '{rel}' is a directory")
        directory = os.path.dirname(target)
        os.makedirs(directory, exist_ok=True)
        local_target(root, posixpath.dirname(rel))  # created parents must still be inside the root
        partial = os.path.join(directory, f".{os.path.basename(target)}.{uuid.uuid4().hex}.part")
    else:
        target, directory = None, tempfile.mkdtemp(prefix="tracklet-proxy-")
        partial = os.path.join(directory, posixpath.basename(rel))
    try:
        with open(partial, "wb") as out:
            async for chunk in request.stream():
                out.write(chunk)
        if target is not None:
            os.replace(partial, target)
        else:
            await run_in_threadpool(ctx.artifact_repo.log_artifact, partial, posixpath.dirname(rel) or None)
    finally:
        if target is not None and os.path.exists(partial):
            os.remove(partial)
        if target is None:
            shutil.rmtree(directory, ignore_errors=True)


def _delete(ctx, rel: str) -> None:
    root = _local_root(ctx.artifact_repo)
    if root is not None:
        target = local_target(root, rel)
        if not os.path.lexists(target):
            raise ResourceDoesNotExist(f"Artifact '{rel}' does not exist")
        if rel == "":
            raise InvalidParameterValue("Refusing to delete the artifact root")
    ctx.artifact_repo.delete_artifacts(rel or None)


def proxy_routes(ctx) -> list[Route]:
    async def one_file(request: Request) -> Response:
        rel = safe_relative_path(request.path_params.get("artifact_path"))
        if request.method == "GET":
            return await _download(ctx, rel)
        if request.method == "PUT":
            await _upload(ctx, request, rel)
        else:
            await run_in_threadpool(_delete, ctx, rel)
        return json_response({})

    async def listing(request: Request) -> Response:
        files = await run_in_threadpool(list_under, ctx, "mlflow-artifacts:/", request.query_params.get("path"))
        files = [dict(f, path=posixpath.basename(f["path"])) for f in files]
        return json_response({"files": files} if files else {})

    def guarded(operation):
        """Auth, a configured destination, and errors as JSON bodies (an OS error is the request's fault: 400)."""

        async def endpoint(request: Request) -> Response:
            denied = check_auth(ctx, request)
            if denied is not None:
                return denied
            try:
                if ctx.artifact_repo is None:
                    raise InvalidParameterValue("This server has no artifact destination configured")
                return await operation(request)
            except TrackletException as exc:
                return error_response(exc.error_code, exc.message, exc.http_status)
            except OSError as exc:
                return error_response("INVALID_PARAMETER_VALUE", f"Artifact operation failed: {exc.strerror}", 400)

        return endpoint

    async def no_multipart_upload(request: Request) -> Response:
        return error_response("NOT_IMPLEMENTED", MULTIPART_UPLOAD_UNSUPPORTED, 501)

    async def no_presigned_download(request: Request) -> Response:
        return error_response("NOT_IMPLEMENTED", PRESIGNED_DOWNLOAD_UNSUPPORTED, 501)

    # Multipart transfers hand out presigned object-store URLs, so the client bypasses the proxy; we stream
    # every transfer through the proxy instead, and /server-info says so (multipart_*_enabled: false).
    base = "/api/2.0/mlflow-artifacts"
    return [
        Route(PROXY_PREFIX, guarded(listing), methods=["GET"]),
        Route(PROXY_PREFIX + "/{artifact_path:path}", guarded(one_file), methods=["GET", "PUT", "DELETE"]),
        Route(base + "/mpu/{action:str}/{artifact_path:path}", guarded(no_multipart_upload), methods=["POST"]),
        Route(base + "/presigned/{artifact_path:path}", guarded(no_presigned_download), methods=["GET"]),
    ]
