"""Artifacts on the local filesystem (``file://`` URIs or plain paths).

Containment: an artifact path is validated (relative, no ``..``, no NUL, see ``validate_artifact_path``) and
then walked with ``_fs`` so that symbolic links inside the root are never followed: writes replace a link
instead of writing through it, listings and downloads leave links out (with a warning), and a path whose
component is a link is refused. Uploads are all or nothing: a directory is checked first (loops, dangling
links, special files), staged inside the root, then renamed into place.
"""

from __future__ import annotations

import os
import tempfile
import uuid
import warnings
from urllib.parse import unquote, urlparse

from tracklet.exceptions import InvalidParameterValue, ResourceDoesNotExist, TrackletException
from tracklet.tracking.artifacts import _fs
from tracklet.tracking.artifacts.base import ArtifactRepository
from tracklet.tracking.entities import FileInfo
from tracklet.tracking.validation import validate_artifact_path


def local_path_from_uri(uri: str) -> str:
    """The absolute local path of a ``file://`` URI (percent-decoded once) or a plain path."""
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        return os.path.abspath(unquote(parsed.path))
    return os.path.abspath(uri)


def _split(artifact_path: str | None) -> tuple[str, list[str]]:
    rel = validate_artifact_path(artifact_path)
    parts = rel.split("/") if rel else []
    if any(p.startswith(_fs.TMP_PREFIX) for p in parts):
        raise InvalidParameterValue(
            f"Invalid artifact path {rel!r}: names starting with {_fs.TMP_PREFIX!r} are reserved"
        )
    return rel, parts


def _os_error(action: str, path: str, exc: OSError) -> TrackletException:
    return InvalidParameterValue(f"{action}: {path!r}: {exc.strerror or exc}")


class LocalArtifactRepository(ArtifactRepository):
    """Artifacts under a local directory; see the module docstring for the containment rules."""

    def __init__(self, artifact_uri: str):
        super().__init__(artifact_uri)
        self.root = local_path_from_uri(artifact_uri)

    # ------------------------------------------------------------------ writes
    def log_artifact(self, local_file: str, artifact_path: str | None = None) -> None:
        if not os.path.isfile(local_file):
            raise InvalidParameterValue(f"log_artifact: local_file {local_file!r} is not an existing file")
        rel, parts = _split(artifact_path)
        name = os.path.basename(local_file)
        root_fd = _fs.open_root(self.root, create=True)
        try:
            dir_fd = _fs.open_dir(root_fd, parts, create=True, where=rel)
            try:
                _fs.write_file(dir_fd, name, local_file, where=f"{rel}/{name}" if rel else name)
            except OSError as exc:
                raise _os_error("log_artifact: cannot copy", local_file, exc) from None
            finally:
                os.close(dir_fd)
        finally:
            os.close(root_fd)

    def log_artifacts(self, local_dir: str, artifact_path: str | None = None) -> None:
        """Copy a directory's contents into ``artifact_path``: everything, or nothing when any entry fails."""
        if not os.path.isdir(local_dir):
            raise InvalidParameterValue(f"log_artifacts: local_dir {local_dir!r} is not an existing directory")
        dirs, files = _fs.scan_source_dir(local_dir)
        rel, parts = _split(artifact_path)
        root_fd = _fs.open_root(self.root, create=True)
        stage = _fs.TMP_PREFIX + uuid.uuid4().hex
        opened: dict[tuple[str, ...], int] = {}
        try:
            self._check_destination(root_fd, parts, dirs, files, rel)
            os.mkdir(stage, dir_fd=root_fd)
            opened[(stage,)] = stage_fd = _fs.open_dir(root_fd, [stage])
            for i, (_, src) in enumerate(files):
                try:
                    _fs.write_file(stage_fd, str(i), src)
                except OSError as exc:
                    raise _os_error("log_artifacts: cannot copy", src, exc) from None

            def dir_fd(sub: tuple[str, ...]) -> int:
                if sub not in opened:
                    opened[sub] = _fs.open_dir(root_fd, [*parts, *sub], create=True, where=rel)
                return opened[sub]

            dir_fd(())
            for sub in dirs:
                dir_fd(sub)
            for i, (sub, _) in enumerate(files):
                _fs.move_file(stage_fd, str(i), dir_fd(sub[:-1]), sub[-1], where="/".join([*parts, *sub]))
        finally:
            for fd in opened.values():
                os.close(fd)
            try:
                _fs.remove(root_fd, stage)
            finally:
                os.close(root_fd)

    @staticmethod
    def _check_destination(root_fd: int, parts: list[str], dirs, files, rel: str) -> None:
        """Refuse before copying when a target directory is a link or a file, or a target file is a directory."""
        for sub in [(), *dirs]:
            try:
                os.close(_fs.open_dir(root_fd, [*parts, *sub], where=rel))
            except ResourceDoesNotExist:
                pass  # created later
        for sub, _ in files:
            try:
                fd = _fs.open_dir(root_fd, [*parts, *sub[:-1]], where=rel)
            except ResourceDoesNotExist:
                continue
            try:
                if _fs.entry_kind(fd, sub[-1]) == "dir":
                    where = "/".join([*parts, *sub])
                    raise InvalidParameterValue(f"Artifact path {where!r}: a directory of that name already exists")
            finally:
                os.close(fd)

    # ------------------------------------------------------------------ reads
    def _open_target(self, rel: str, parts: list[str]) -> tuple[int | None, str]:
        """(descriptor of the parent directory, kind of the target) or (None, None) when the root is missing."""
        try:
            root_fd = _fs.open_root(self.root, create=False)
        except ResourceDoesNotExist:
            return None, None
        try:
            if not parts:
                return os.dup(root_fd), "dir"
            parent = _fs.open_dir(root_fd, parts[:-1], where=rel)
        finally:
            os.close(root_fd)
        return parent, _fs.entry_kind(parent, parts[-1])

    def _open_existing_dir(self, rel: str, parts: list[str]) -> int | None:
        parent, kind = self._open_target(rel, parts)
        if parent is None:
            return None
        try:
            if kind == "link":
                raise InvalidParameterValue(
                    f"Artifact path {rel!r} is a symbolic link; links inside an artifact root are never followed"
                )
            if kind != "dir":
                return None
            return _fs.open_dir(parent, parts[-1:], where=rel) if parts else os.dup(parent)
        finally:
            os.close(parent)

    def list_artifacts(self, path: str | None = None) -> list[FileInfo]:
        """Direct children of ``path`` (links and special files left out); ``[]`` for a file or a missing path."""
        rel, parts = _split(path)
        try:
            fd = self._open_existing_dir(rel, parts)
        except ResourceDoesNotExist:
            return []
        if fd is None:
            return []
        try:
            entries = _fs.scandir(fd)
        finally:
            os.close(fd)
        prefix = f"{rel}/" if rel else ""
        return [FileInfo(prefix + name, kind == "dir", size) for name, kind, size in entries if kind in ("dir", "file")]

    def download_artifacts(self, artifact_path: str, dst_path: str | None = None) -> str:
        """Copy a file or directory to ``dst_path`` (a new temp dir if None); links inside are skipped."""
        rel, parts = _split(artifact_path)
        parent, kind = self._open_target(rel, parts)
        if parent is None or kind is None:
            raise ResourceDoesNotExist(f"Artifact {artifact_path!r} does not exist under {self.artifact_uri}")
        try:
            if kind in ("link", "other"):
                raise InvalidParameterValue(
                    f"Artifact path {rel!r} is a symbolic link or special file; only regular files and "
                    "directories inside the artifact root are downloaded"
                )
            dst_root = os.path.abspath(dst_path) if dst_path else tempfile.mkdtemp(prefix="tracklet-artifacts-")
            dest = os.path.join(dst_root, *parts)
            if kind == "file":
                os.makedirs(os.path.dirname(dest), exist_ok=True)
                _fs.copy_out(parent, parts[-1], dest, where=rel)
                return dest
            skipped: list[str] = []
            fd = _fs.open_dir(parent, parts[-1:], where=rel) if parts else os.dup(parent)
            try:
                _download_tree(fd, dest, rel, skipped)
            finally:
                os.close(fd)
        finally:
            os.close(parent)
        if skipped:
            warnings.warn(
                f"download_artifacts skipped {len(skipped)} symbolic link(s) or special file(s) inside the "
                f"artifact root {self.artifact_uri}: {', '.join(skipped[:10])}",
                stacklevel=2,
            )
        return dest

    def local_model_path(self, artifact_path: str | None) -> str | None:
        """The local path of a directory to use in place (no copy), or None when it must be downloaded
        instead because a symbolic link or special file lies somewhere under it."""
        rel, parts = _split(artifact_path)
        fd = self._open_existing_dir(rel, parts)
        if fd is None:
            return None
        try:
            if not _tree_is_plain(fd):
                return None
        finally:
            os.close(fd)
        return os.path.join(self.root, *parts)

    # ------------------------------------------------------------------ delete
    def delete_artifacts(self, artifact_path: str | None = None) -> None:
        """Remove a file or directory (the whole root when None); a link is removed itself, never followed."""
        rel, parts = _split(artifact_path)
        if not parts:
            if os.path.islink(self.root):
                raise InvalidParameterValue(
                    f"Artifact root {self.root!r} is a symbolic link; refusing to delete what it points to"
                )
            parent_dir, name = os.path.split(self.root)
            if not os.path.lexists(self.root):
                return
            parent_fd = _fs.open_root(parent_dir, create=False)
        else:
            parent_fd, _kind = self._open_target(rel, parts)
            if parent_fd is None:
                return
            name = parts[-1]
        try:
            _fs.remove(parent_fd, name)
        except OSError as exc:
            raise _os_error("delete_artifacts", os.path.join(self.root, *parts), exc) from None
        finally:
            os.close(parent_fd)


def _download_tree(fd: int, dest: str, rel: str, skipped: list[str]) -> None:
    os.makedirs(dest, exist_ok=True)
    for name, kind, _ in _fs.scandir(fd):
        child_rel = f"{rel}/{name}" if rel else name
        if kind == "file":
            _fs.copy_out(fd, name, os.path.join(dest, name), where=child_rel)
        elif kind == "dir":
            sub = _fs.open_dir(fd, [name], where=child_rel)
            try:
                _download_tree(sub, os.path.join(dest, name), child_rel, skipped)
            finally:
                os.close(sub)
        else:
            skipped.append(child_rel)


def _tree_is_plain(fd: int) -> bool:
    for name, kind, _ in _fs.scandir(fd):
        if kind == "dir":
            sub = _fs.open_dir(fd, [name])
            try:
                if not _tree_is_plain(sub):
                    return False
            finally:
                os.close(sub)
        elif kind != "file":
            return False
    return True
