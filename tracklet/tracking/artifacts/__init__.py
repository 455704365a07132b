"""Artifact repositories: where a run's files go. ``get_artifact_repository(uri)`` picks one by scheme."""

from __future__ import annotations

from tracklet.tracking.artifacts.base import ArtifactRepository


def get_artifact_repository(artifact_uri: str, tracking_uri: str | None = None) -> ArtifactRepository:
    """Repository for ``artifact_uri``: ``file://``/plain paths are local; ``mlflow-artifacts:/`` (and
    ``http(s)://`` proxy URLs) go through the tracking server at ``tracking_uri`` (default: the current one)."""
    from urllib.parse import urlparse

    scheme = urlparse(artifact_uri).scheme
    if scheme in ("mlflow-artifacts", "http", "https"):
        from tracklet.tracking.artifacts.http import HttpArtifactRepository

        return HttpArtifactRepository(artifact_uri, tracking_uri)
    if scheme in ("", "file") or (len(scheme) == 1 and scheme.isalpha()):  # "C:\\..." on Windows
        from tracklet.tracking.artifacts.local import LocalArtifactRepository

        return LocalArtifactRepository(artifact_uri)
    from tracklet.exceptions import InvalidParameterValue

    raise InvalidParameterValue(
        f"Unsupported artifact URI {artifact_uri!r}: scheme {scheme!r} has no artifact repository "
        "(supported: file://, local paths)"
    )


__all__ = ["ArtifactRepository", "get_artifact_repository"]
