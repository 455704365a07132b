"""Artifact repositories: where a run's files go. ``get_artifact_repository(uri)`` picks one by scheme."""

from __future__ import annotations

import re
from urllib.parse import unquote

from tracklet.exceptions import InvalidParameterValue
from tracklet.tracking import spool_replay
from tracklet.tracking.artifacts.base import ArtifactRepository

# After one decoding, an escape that still encodes '.', '/', '\\', '%' or NUL can only be an attempt to get a
# second decoding somewhere else (a URI built from this path, another tool): refused rather than guessed at.
_STILL_ENCODED = re.compile(r"%(2e|2f|5c|25|00)", re.IGNORECASE)


# scheme -> "module:class" of its repository (imported on first use: an extra's package loads only when needed).
# Local paths ("", "file", a Windows drive letter) and the tracking server's proxy are handled before this table.
REPOSITORIES = {
    "s3": "tracklet.tracking.artifacts.s3:S3ArtifactRepository",
    "wasbs": "tracklet.tracking.artifacts.azure:AzureBlobArtifactRepository",
    "wasb": "tracklet.tracking.artifacts.azure:AzureBlobArtifactRepository",
    "abfss": "tracklet.tracking.artifacts.azure:AzureBlobArtifactRepository",
    "gs": "tracklet.tracking.artifacts.gcs:GCSArtifactRepository",
    "hdfs": "tracklet.tracking.artifacts.hdfs:HdfsArtifactRepository",
    "ftp": "tracklet.tracking.artifacts.fsspec_repo:FsspecArtifactRepository",
    "sftp": "tracklet.tracking.artifacts.fsspec_repo:FsspecArtifactRepository",
}


def get_artifact_repository(artifact_uri: str, tracking_uri: str | None = None) -> ArtifactRepository:
    """Repository for ``artifact_uri``, chosen by scheme: ``file://``/plain paths (NFS is a path), ``s3://``
    (extra ``s3``), ``wasbs://``/``abfss://`` (extra ``azure``), ``gs://`` (extra ``gcs``), ``hdfs://`` (extra
    ``hdfs``), ``ftp://`` (extra ``ftp``), ``sftp://`` (extra ``sftp``); ``mlflow-artifacts:/`` (and
    ``http(s)://`` proxy URLs) go through the tracking server at ``tracking_uri`` (default: the current one)."""
    import importlib
    from urllib.parse import urlparse

    scheme = urlparse(artifact_uri).scheme.lower()
    if scheme in ("mlflow-artifacts", "http", "https"):
        from tracklet.tracking.artifacts.http import HttpArtifactRepository

        return HttpArtifactRepository(artifact_uri, tracking_uri)
    if scheme in ("", "file") or (len(scheme) == 1 and scheme.isalpha()):  # "C:\\..." on Windows
        from tracklet.tracking.artifacts.local import LocalArtifactRepository

        return LocalArtifactRepository(artifact_uri)
    target = REPOSITORIES.get(scheme)
    if target is None:
        raise InvalidParameterValue(
            f"Unsupported artifact URI {artifact_uri!r}: scheme {scheme!r} has no artifact repository (supported: "
            f"file:// and local paths, {', '.join(s + '://' for s in REPOSITORIES)}, mlflow-artifacts:/, http(s)://)"
        )
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)(artifact_uri)


def parse_runs_uri(uri: str) -> tuple[str, str]:
    """``runs:/<run_id>/<path>`` -> (run_id, normalized relative artifact path).

    The path is percent-decoded exactly once and then validated like any artifact path, so ``%2e%2e``
    (``..``), absolute paths, backslash tricks and NUL are refused, as are escapes still present after the
    decoding (double encoding)."""
    from tracklet.tracking.validation import validate_artifact_path, validate_run_id

    if not isinstance(uri, str) or not uri.startswith("runs:"):
        raise InvalidParameterValue(f"Invalid runs URI {uri!r}: expected runs:/<run_id>/<artifact path>")
    rest = uri[len("runs:") :].lstrip("/")
    if "?" in rest or "#" in rest:
        raise InvalidParameterValue(f"Invalid runs URI {uri!r}: a query or fragment is not allowed")
    raw_id, _, raw_path = rest.partition("/")
    run_id, path = unquote(raw_id), unquote(raw_path)
    if not run_id:
        raise InvalidParameterValue(f"Invalid runs URI {uri!r}: expected runs:/<run_id>/<artifact path>")
    validate_run_id(run_id)
    if _STILL_ENCODED.search(path) or "\x00" in path:
        raise InvalidParameterValue(
            f"Invalid runs URI {uri!r}: the artifact path is encoded twice or contains NUL; encode it once"
        )
    return run_id, validate_artifact_path(path)


def _upload_spooled(local_dir: str, artifact_uri: str, tracking_uri: str) -> None:
    """Upload files the offline spool kept (``tracking/spool_replay.py``) into a run's artifact root, one by
    one in this thread (it may run at interpreter exit, when no new thread can start)."""
    import os

    repo = get_artifact_repository(artifact_uri, tracking_uri)
    for folder, _, files in os.walk(local_dir):
        rel = os.path.relpath(folder, local_dir).replace(os.sep, "/")
        for name in sorted(files):
            repo.log_artifact(os.path.join(folder, name), None if rel == "." else rel)


def _prepare_upload() -> None:
    """Load the proxied-artifact client now: an upload may run at interpreter exit, when imports that start
    threads (``concurrent.futures``) fail."""
    from tracklet.tracking.artifacts import http  # noqa: F401


spool_replay.set_artifact_uploader(_upload_spooled, _prepare_upload)

__all__ = ["REPOSITORIES", "ArtifactRepository", "get_artifact_repository", "parse_runs_uri"]
