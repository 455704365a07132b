"""Artifacts proxied by a tracking server: ``mlflow-artifacts:/<path>`` URIs (and the ``http(s)://host/api/2.0/
mlflow-artifacts/artifacts/<path>`` URLs they stand for).

``mlflow-artifacts:/0/<run>/artifacts`` names a path on the server of the tracking URI in effect;
``mlflow-artifacts://host:port/...`` names the server itself. Files are streamed both ways (PUT from the open
file, GET straight into the destination file), so their size never matters to memory.
"""

from __future__ import annotations

import os
import posixpath
import tempfile
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote, urlparse

from tracklet import env
from tracklet.exceptions import InvalidParameterValue, ResourceDoesNotExist
from tracklet.tracking.artifacts.base import ArtifactRepository
from tracklet.tracking.entities import FileInfo
from tracklet.tracking.stores._http import (
    HttpRequest,
    StdlibTransport,
    Transport,
    auth_headers,
    parse_json_response,
    send_with_retries,
)
from tracklet.tracking.validation import validate_artifact_path

PROXY_PATH = "/api/2.0/mlflow-artifacts/artifacts"
UPLOAD_THREADS = 4


def _current_tracking_uri() -> str | None:
    try:
        from tracklet.tracking.uri import get_tracking_uri  # the leaf home of the current URI
    except ImportError:
        return env.get(env.TRACKING_URI)
    return get_tracking_uri()


def resolve_proxied_uri(artifact_uri: str, tracking_uri: str | None = None) -> tuple[str, str]:
    """(server base URL with any path prefix, artifact path under the proxy) for ``artifact_uri``."""
    parsed = urlparse(artifact_uri)
    if parsed.scheme in ("http", "https"):
        if PROXY_PATH not in parsed.path:
            raise InvalidParameterValue(f"Artifact URL {artifact_uri!r} is not under {PROXY_PATH}")
        prefix, _, rest = parsed.path.partition(PROXY_PATH)
        return f"{parsed.scheme}://{parsed.netloc}{prefix}", rest.strip("/")
    if parsed.scheme != "mlflow-artifacts":
        raise InvalidParameterValue(f"Not a proxied artifact URI: {artifact_uri!r}")
    tracking = tracking_uri or _current_tracking_uri() or ""
    tracking_parsed = urlparse(tracking)
    if parsed.netloc:
        scheme = tracking_parsed.scheme if tracking_parsed.scheme in ("http", "https") else "http"
        return f"{scheme}://{parsed.netloc}", parsed.path.strip("/")
    if tracking_parsed.scheme not in ("http", "https"):
        raise InvalidParameterValue(
            f"Artifact URI {artifact_uri!r} is served by a tracking server, but the tracking URI "
            f"{tracking!r} is not http(s)://: set it to the server's address"
        )
    return tracking.rstrip("/"), parsed.path.strip("/")


class HttpArtifactRepository(ArtifactRepository):
    """Reads and writes the artifacts under one ``mlflow-artifacts:/`` URI through the server's proxy."""

    def __init__(self, artifact_uri: str, tracking_uri: str | None = None, transport: Transport | None = None):
        super().__init__(artifact_uri)
        base, self.root = resolve_proxied_uri(artifact_uri, tracking_uri)
        parsed = urlparse(base)
        self._path = parsed.path.rstrip("/") + PROXY_PATH
        self._transport = transport or StdlibTransport(f"{parsed.scheme}://{parsed.netloc}")

    def _full(self, rel: str) -> str:
        return posixpath.join(self.root, rel) if rel else self.root

    def _request(self, method: str, rel: str, **fields) -> HttpRequest:
        path = f"{self._path}/{quote(self._full(rel))}"
        return HttpRequest(method, path, headers=auth_headers(), **fields)

    def _upload(self, local_file: str, rel: str) -> None:
        with open(local_file, "rb") as body:
            request = self._request("PUT", rel, body=body)
            request.headers["Content-Length"] = str(os.fstat(body.fileno()).st_size)
            request.headers["Content-Type"] = "application/octet-stream"
            response = send_with_retries(self._transport, request, idempotent=True)  # a PUT replaces: safe
        parse_json_response(response, f"upload of {rel}")

    def log_artifact(self, local_file: str, artifact_path: str | None = None) -> None:
        if not os.path.isfile(local_file):
            raise InvalidParameterValue(f"log_artifact: local_file {local_file!r} is not an existing file")
        directory = validate_artifact_path(artifact_path)
        self._upload(local_file, posixpath.join(directory, os.path.basename(local_file)))

    def log_artifacts(self, local_dir: str, artifact_path: str | None = None) -> None:
        if not os.path.isdir(local_dir):
            raise InvalidParameterValue(f"log_artifacts: local_dir {local_dir!r} is not an existing directory")
        directory = validate_artifact_path(artifact_path)
        jobs = []
        for folder, _, files in os.walk(local_dir):
            rel_folder = os.path.relpath(folder, local_dir).replace(os.sep, "/")
            for name in files:
                rel = posixpath.normpath(posixpath.join(directory, rel_folder, name))
                jobs.append((os.path.join(folder, name), validate_artifact_path(rel)))
        if len(jobs) <= 1:
            for job in jobs:
                self._upload(*job)
            return
        with ThreadPoolExecutor(min(UPLOAD_THREADS, len(jobs))) as pool:
            for future in [pool.submit(self._upload, *job) for job in jobs]:
                future.result()

    def list_artifacts(self, path: str | None = None) -> list[FileInfo]:
        rel = validate_artifact_path(path)
        request = HttpRequest("GET", self._path, query=[("path", self._full(rel))], headers=auth_headers())
        data = parse_json_response(send_with_retries(self._transport, request, True), f"listing of {rel!r}")
        out = []
        for item in data.get("files", []):
            child = posixpath.join(rel, item["path"]) if rel else item["path"]
            out.append(FileInfo(child, bool(item.get("is_dir")), None if item.get("is_dir") else item.get("file_size")))
        return sorted(out, key=lambda f: f.path)

    def _download_file(self, rel: str, dest: str) -> None:
        os.makedirs(os.path.dirname(dest) or ".", exist_ok=True)
        request = self._request("GET", rel, download_to=dest)
        response = send_with_retries(self._transport, request, True)
        if not 200 <= response.status < 300:
            parse_json_response(response, f"download of {rel!r}")

    def download_artifacts(self, artifact_path: str, dst_path: str | None = None) -> str:
        rel = validate_artifact_path(artifact_path)
        dst_root = os.path.abspath(dst_path) if dst_path else tempfile.mkdtemp(prefix="tracklet-artifacts-")
        dest = os.path.join(dst_root, rel) if rel else dst_root
        children = self.list_artifacts(rel)
        if not children:
            if not rel:
                os.makedirs(dest, exist_ok=True)
                return dest
            try:
                self._download_file(rel, dest)
            except ResourceDoesNotExist:
                raise ResourceDoesNotExist(f"Artifact {rel!r} does not exist under {self.artifact_uri}") from None
            return dest
        os.makedirs(dest, exist_ok=True)
        for child in children:
            if child.is_dir:
                self.download_artifacts(child.path, dst_root)
            else:
                self._download_file(child.path, os.path.join(dst_root, child.path))
        return dest

    def delete_artifacts(self, artifact_path: str | None = None) -> None:
        rel = validate_artifact_path(artifact_path)
        response = send_with_retries(self._transport, self._request("DELETE", rel), True)
        if response.status == 404:
            return
        parse_json_response(response, f"deletion of {rel!r}")
