"""Artifacts on the local filesystem (``file://`` URIs or plain paths)."""

from __future__ import annotations

import os
import shutil
import tempfile
from urllib.parse import unquote, urlparse

from tracklet.exceptions import InvalidParameterValue, ResourceDoesNotExist
from tracklet.tracking.artifacts.base import ArtifactRepository
from tracklet.tracking.entities import FileInfo
from tracklet.tracking.validation import validate_artifact_path


def local_path_from_uri(uri: str) -> str:
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        return os.path.abspath(unquote(parsed.path))
    return os.path.abspath(uri)


class LocalArtifactRepository(ArtifactRepository):
    def __init__(self, artifact_uri: str):
        super().__init__(artifact_uri)
        self.root = local_path_from_uri(artifact_uri)

    def _resolve(self, artifact_path: str | None) -> str:
        rel = validate_artifact_path(artifact_path)
        full = os.path.normpath(os.path.join(self.root, rel)) if rel else self.root
        root_real = os.path.realpath(self.root)
        full_real = os.path.realpath(full)
        if full_real != root_real and not full_real.startswith(root_real + os.sep):
            raise InvalidParameterValue(f"Invalid artifact path {artifact_path!r}: escapes the artifact root")
        return full

    def log_artifact(self, local_file: str, artifact_path: str | None = None) -> None:
        if not os.path.isfile(local_file):
            raise InvalidParameterValue(f"log_artifact: local_file {local_file!r} is not an existing file")
        dest_dir = self._resolve(artifact_path)
        os.makedirs(dest_dir, exist_ok=True)
        shutil.copy2(local_file, os.path.join(dest_dir, os.path.basename(local_file)))

    def log_artifacts(self, local_dir: str, artifact_path: str | None = None) -> None:
        if not os.path.isdir(local_dir):
            raise InvalidParameterValue(f"log_artifacts: local_dir {local_dir!r} is not an existing directory")
        dest_dir = self._resolve(artifact_path)
        os.makedirs(dest_dir, exist_ok=True)
        shutil.copytree(local_dir, dest_dir, dirs_exist_ok=True)

    def list_artifacts(self, path: str | None = None) -> list[FileInfo]:
        rel = validate_artifact_path(path)
        full = self._resolve(rel)
        if not os.path.isdir(full):
            return []
        out = []
        for name in sorted(os.listdir(full)):
            child = os.path.join(full, name)
            child_rel = f"{rel}/{name}" if rel else name
            if os.path.isdir(child):
                out.append(FileInfo(child_rel, True, None))
            else:
                out.append(FileInfo(child_rel, False, os.path.getsize(child)))
        return out

    def download_artifacts(self, artifact_path: str, dst_path: str | None = None) -> str:
        src = self._resolve(artifact_path)
        if not os.path.exists(src):
            raise ResourceDoesNotExist(f"Artifact {artifact_path!r} does not exist under {self.artifact_uri}")
        dst_root = os.path.abspath(dst_path) if dst_path else tempfile.mkdtemp(prefix="tracklet-artifacts-")
        rel = validate_artifact_path(artifact_path)
        dest = os.path.join(dst_root, rel) if rel else dst_root
        if os.path.isdir(src):
            shutil.copytree(src, dest, dirs_exist_ok=True)
        else:
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            shutil.copy2(src, dest)
        return dest

    def delete_artifacts(self, artifact_path: str | None = None) -> None:
        target = self._resolve(artifact_path)
        if os.path.isdir(target):
            shutil.rmtree(target, ignore_errors=True)
        elif os.path.exists(target):
            os.remove(target)
