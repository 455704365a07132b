"""Artifacts on HDFS (``hdfs://namenode:port/path``), through pyarrow's ``HadoopFileSystem``.

pyarrow rather than a WebHDFS client: it speaks HDFS's own protocol through libhdfs (the Hadoop client every
cluster ships), honours the cluster's ``core-site.xml``/``hdfs-site.xml`` and Kerberos, and is what MLflow uses.
It needs Java and a Hadoop client on the machine: ``JAVA_HOME``, ``HADOOP_HOME`` (for ``libhdfs.so``, or
``ARROW_LIBHDFS_DIR``) and the Hadoop ``CLASSPATH`` (``hadoop classpath --glob``); without them the repository
says so. ``hdfs:///path`` uses the cluster's default file system (``fs.defaultFS``). Kerberos:
``TRACKLET_KERBEROS_TICKET_CACHE`` / ``TRACKLET_KERBEROS_USER`` (or their ``MLFLOW_*`` twins).

Every file is written to a temporary name and renamed into place (an HDFS rename is atomic), streaming in
8 MiB blocks; a failed directory upload deletes the files it had renamed into place.
"""

from __future__ import annotations

import contextlib
import posixpath
import shutil
import uuid
from urllib.parse import unquote, urlparse

from tracklet import env
from tracklet.exceptions import InvalidParameterValue, ResourceDoesNotExist, TrackletException
from tracklet.tracking.artifacts import _fs
from tracklet.tracking.artifacts.remote import RemoteArtifactRepository, missing_extra

_CHUNK = 8 * 1024 * 1024


def parse_hdfs_uri(uri: str) -> tuple[str, int, str]:
    """``(host, port, absolute path)`` of an ``hdfs://`` URI; host ``default`` means ``fs.defaultFS``."""
    parsed = urlparse(uri)
    if parsed.scheme.lower() != "hdfs" or parsed.query or parsed.fragment or parsed.password:
        raise InvalidParameterValue(f"Invalid HDFS artifact URI {uri!r}: expected hdfs://<namenode>[:<port>]/<path>")
    try:
        port = parsed.port or 0
    except ValueError:
        raise InvalidParameterValue(f"Invalid HDFS artifact URI {uri!r}: the port is not a number") from None
    path = "/" + unquote(parsed.path).strip("/")
    return parsed.hostname or "default", port, path


def _connect(host: str, port: int, user: str | None):
    """A pyarrow HadoopFileSystem, or a TrackletException saying what is missing (Java, libhdfs, CLASSPATH)."""
    from pyarrow.fs import HadoopFileSystem

    try:
        return HadoopFileSystem(
            host, port, user=user or env.get("KERBEROS_USER"), kerb_ticket=env.get("KERBEROS_TICKET_CACHE")
        )
    except (OSError, RuntimeError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise TrackletException(
            f"Cannot connect to HDFS at {host}:{port or 'default'}: {first}. pyarrow's HadoopFileSystem needs Java "
            "(JAVA_HOME), libhdfs from a Hadoop client (HADOOP_HOME or ARROW_LIBHDFS_DIR) and the Hadoop CLASSPATH "
            "(`hadoop classpath --glob`)"
        ) from None


def _bare(path: str) -> str:
    """``path`` without a ``hdfs://host:port`` part and without leading or trailing '/', to compare paths that
    file systems spell differently."""
    if "://" in path:
        path = urlparse(path).path
    return path.strip("/")


@contextlib.contextmanager
def _errors(action: str, where: str):
    try:
        yield
    except FileNotFoundError:
        raise ResourceDoesNotExist(f"{action} {where}: not found") from None
    except (OSError, RuntimeError) as exc:
        raise TrackletException(f"{action} {where}: {str(exc).splitlines()[0] if str(exc) else exc!r}") from None


class HdfsArtifactRepository(RemoteArtifactRepository):
    """``hdfs://namenode:port/path``: a run's artifacts are the files under that directory."""

    def __init__(self, artifact_uri: str):
        host, port, path = parse_hdfs_uri(artifact_uri)
        super().__init__(artifact_uri, path)
        try:
            import pyarrow.fs  # noqa: F401
        except ImportError:
            raise missing_extra("hdfs", "hdfs", "pyarrow") from None
        self.fs = _connect(host, port, unquote(urlparse(artifact_uri).username or "") or None)

    def _put(self, local_file: str, path: str) -> None:
        parent = posixpath.dirname(path)
        tmp = posixpath.join(parent, _fs.TMP_PREFIX + uuid.uuid4().hex)
        with _errors("upload to", path):
            self.fs.create_dir(parent, recursive=True)
            try:
                with open(local_file, "rb") as src, self.fs.open_output_stream(tmp) as dst:
                    shutil.copyfileobj(src, dst, _CHUNK)
                if self._kind(path) == "dir":
                    raise InvalidParameterValue(f"Artifact path {path!r}: a directory of that name already exists")
                self.fs.move(tmp, path)
            except BaseException:
                with contextlib.suppress(Exception):
                    self.fs.delete_file(tmp)
                raise

    def _get(self, path: str, local_file: str, size: int | None = None) -> None:
        with _errors("download of", path), self.fs.open_input_stream(path) as src, open(local_file, "wb") as dst:
            shutil.copyfileobj(src, dst, _CHUNK)

    def _kind(self, path: str) -> str | None:
        from pyarrow.fs import FileType

        with _errors("lookup of", path):
            info = self.fs.get_file_info(path)
        return {FileType.File: "file", FileType.Directory: "dir"}.get(info.type)

    def _entries(self, path: str, recursive: bool) -> list[tuple[str, bool, int | None]]:
        """(path relative to ``path``, is_dir, size) of what is under the directory ``path``; in-flight uploads
        and anything that is neither a file nor a directory are left out."""
        from pyarrow.fs import FileSelector, FileType

        if self._kind(path) != "dir":
            return []
        with _errors("listing of", path):
            infos = self.fs.get_file_info(FileSelector(path, recursive=recursive, allow_not_found=True))
        base = _bare(path) + "/"
        out = []
        for info in infos:
            full = _bare(info.path)
            if not full.startswith(base):
                continue  # not under the directory asked for: never listed
            rel = full[len(base) :]
            if any(p.startswith(_fs.TMP_PREFIX) for p in rel.split("/")):
                continue
            if info.type in (FileType.File, FileType.Directory):
                is_dir = info.type == FileType.Directory
                out.append((rel, is_dir, None if is_dir else info.size))
        return out

    def _children(self, path: str) -> list[tuple[str, bool, int | None]]:
        return self._entries(path, recursive=False)

    def _files_under(self, path: str) -> list[tuple[str, int | None]]:
        base = path.rstrip("/")
        return [(f"{base}/{rel}", size) for rel, is_dir, size in self._entries(path, recursive=True) if not is_dir]

    def _is_file(self, path: str) -> bool:
        return self._kind(path) == "file"

    def _prune_dirs(self, paths: list[str]) -> None:
        from pyarrow.fs import FileSelector

        for path in paths:
            with _errors("removal of", path):
                if self._kind(path) == "dir" and not self.fs.get_file_info(FileSelector(path)):
                    self.fs.delete_dir(path)

    def _delete_tree(self, path: str) -> None:
        kind = self._kind(path)
        with _errors("delete of", path):
            if kind == "dir":
                self.fs.delete_dir(path)
            elif kind == "file":
                self.fs.delete_file(path)
