"""The artifact repository interface (local now; HTTP-proxied and object stores later)."""

from __future__ import annotations

import abc

from tracklet.tracking.entities import FileInfo


class ArtifactRepository(abc.ABC):
    """Files under one artifact root URI. Every ``artifact_path`` is relative to the root and can never
    escape it (``validation.validate_artifact_path``)."""

    def __init__(self, artifact_uri: str):
        self.artifact_uri = artifact_uri

    @abc.abstractmethod
    def log_artifact(self, local_file: str, artifact_path: str | None = None) -> None:
        """Copy one file into ``artifact_path`` (a directory under the root)."""

    @abc.abstractmethod
    def log_artifacts(self, local_dir: str, artifact_path: str | None = None) -> None:
        """Copy a directory's contents into ``artifact_path``."""

    @abc.abstractmethod
    def list_artifacts(self, path: str | None = None) -> list[FileInfo]:
        """Direct children of ``path``, sorted by path (paths are relative to the root)."""

    @abc.abstractmethod
    def download_artifacts(self, artifact_path: str, dst_path: str | None = None) -> str:
        """Copy a file or directory to ``dst_path`` (a new temp dir if None); return the local path."""

    @abc.abstractmethod
    def delete_artifacts(self, artifact_path: str | None = None) -> None: ...
