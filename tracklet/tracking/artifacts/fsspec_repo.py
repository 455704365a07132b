"""Artifacts on an FTP or SFTP server, through fsspec (``ftp``: the standard library's ftplib; ``sftp``: paramiko).

``ftp://user:pass@host:port/path`` and ``sftp://user[:pass]@host:port/path`` (percent-encoded user and password);
without a password SFTP uses the SSH agent and ``~/.ssh`` keys. SFTP host keys are checked: the server's key must
be in ``~/.ssh/known_hosts`` or in the file named by ``TRACKLET_SFTP_KNOWN_HOSTS`` (fsspec's default would accept
any key on first contact, which lets a man in the middle read and replace artifacts).

Files are uploaded to a temporary name next to the target and renamed into place (whole or not at all); links
on the server are left out of listings and downloads, as on the local store. One connection per repository, so
transfers of one directory run one after the other (ftplib and a paramiko channel are not thread-safe).
"""

from __future__ import annotations

import os
import posixpath
import uuid
from urllib.parse import unquote, urlparse

from tracklet import env
from tracklet.exceptions import InvalidParameterValue, TrackletException
from tracklet.tracking.artifacts import _fs
from tracklet.tracking.artifacts.remote import RemoteArtifactRepository, missing_extra, redact

_EXTRAS = {"ftp": ("ftp", "fsspec"), "sftp": ("sftp", "paramiko")}


def _known_hosts_policy():
    import paramiko

    class KnownHostsOnly(paramiko.MissingHostKeyPolicy):
        """Accept a server only when its key is listed in a known_hosts file."""

        def missing_host_key(self, client, hostname, key):
            paths = [env.get("SFTP_KNOWN_HOSTS"), os.path.expanduser("~/.ssh/known_hosts")]
            for path in filter(None, paths):
                if os.path.isfile(path):
                    known = paramiko.HostKeys(path).lookup(hostname) or {}
                    if known.get(key.get_name()) == key:
                        return
            raise paramiko.SSHException(
                f"SFTP host key of {hostname} is not in ~/.ssh/known_hosts or TRACKLET_SFTP_KNOWN_HOSTS"
            )

    return KnownHostsOnly()


class FsspecArtifactRepository(RemoteArtifactRepository):
    """``ftp://`` and ``sftp://`` artifact locations."""

    max_workers = 1

    def __init__(self, artifact_uri: str):
        parsed = urlparse(artifact_uri)
        scheme = parsed.scheme.lower()
        extra, module = _EXTRAS[scheme]
        try:
            import fsspec

            if scheme == "sftp":
                import paramiko  # noqa: F401
        except ImportError:
            raise missing_extra(scheme, extra, module) from None
        if not parsed.hostname:
            raise InvalidParameterValue(f"Invalid artifact URI {redact(artifact_uri)!r}: expected {scheme}://host/path")
        super().__init__(artifact_uri, unquote(parsed.path))
        kwargs = {"port": parsed.port or (21 if scheme == "ftp" else 22)}
        if parsed.username:
            kwargs["username"] = unquote(parsed.username)
        if parsed.password:
            kwargs["password"] = unquote(parsed.password)
        if scheme == "sftp":
            kwargs["host_key_policy"] = _known_hosts_policy()
        try:
            self.fs = fsspec.filesystem(scheme, host=parsed.hostname, skip_instance_cache=True, **kwargs)
        except Exception as exc:  # connection refused, login failed, unknown host key...
            raise TrackletException(f"Cannot connect to {scheme}://{parsed.hostname}:{kwargs['port']}: {exc}") from None

    def _call(self, action: str, path: str, fn, *args):
        try:
            return fn(*args)
        except TrackletException:
            raise
        except Exception as exc:
            raise TrackletException(f"{action} {path!r} on {self.shown_uri}: {exc}") from None

    def _put(self, local_file: str, path: str) -> None:
        parent = posixpath.dirname(path)
        tmp = posixpath.join(parent, _fs.TMP_PREFIX + uuid.uuid4().hex)

        def put():
            if parent:
                self._makedirs(parent)
            try:
                self.fs.put_file(local_file, tmp)
                self.fs.mv(tmp, path)
            except BaseException:
                try:
                    self.fs.rm_file(tmp)
                except Exception:
                    pass
                raise
            finally:
                self.fs.invalidate_cache()

        self._call("upload to", path, put)

    def _makedirs(self, path: str) -> None:
        """Create ``path`` and its parents; another writer creating some of them at the same time is fine."""
        for attempt in range(3):
            self.fs.invalidate_cache()
            try:
                self.fs.makedirs(path, exist_ok=True)
                return
            except Exception:
                if attempt == 2:
                    raise

    def _get(self, path: str, local_file: str, size: int | None = None) -> None:
        self._call("download of", path, self.fs.get_file, path, local_file)

    def _entries(self, path: str) -> list[tuple[str, bool, int | None]]:
        """Files and directories listed in the directory ``path`` (in-flight uploads, links left out)."""
        self.fs.invalidate_cache()
        try:
            entries = self.fs.ls(path or "/", detail=True)
        except FileNotFoundError:
            return []
        except Exception as exc:
            raise TrackletException(f"listing of {path!r} on {self.shown_uri}: {exc}") from None
        out = []
        for e in entries:
            name = posixpath.basename(str(e["name"]).rstrip("/"))
            if name.startswith(_fs.TMP_PREFIX) or e.get("type") not in ("file", "directory"):
                continue  # in-flight uploads; links and special files are never artifacts
            is_dir = e["type"] == "directory"
            out.append((name, is_dir, None if is_dir else e.get("size")))
        return out

    def _kind(self, path: str) -> str | None:
        """'dir', 'file' or None, from the parent's listing (FTP servers list a file when asked for a folder)."""
        parent, name = posixpath.split(path)
        for n, is_dir, _ in self._entries(parent):
            if n == name:
                return "dir" if is_dir else "file"
        return None

    def _children(self, path: str) -> list[tuple[str, bool, int | None]]:
        if path.strip("/") and self._kind(path) != "dir":
            return []
        return self._entries(path)

    def _files_under(self, path: str) -> list[tuple[str, int | None]]:
        if path.strip("/") and self._kind(path) != "dir":
            return []
        return self._walk(path)

    def _walk(self, path: str) -> list[tuple[str, int | None]]:
        out = []
        for name, is_dir, size in self._entries(path):
            child = f"{path}/{name}" if path else name
            out += self._walk(child) if is_dir else [(child, size)]
        return out

    def _is_file(self, path: str) -> bool:
        return self._kind(path) == "file"

    def _prune_dirs(self, paths: list[str]) -> None:
        for path in paths:
            if self._kind(path) == "dir" and not self._entries(path):
                self._call("removal of", path, self.fs.rmdir, path)
                self.fs.invalidate_cache()

    def _delete_tree(self, path: str) -> None:
        kind = self._kind(path)
        if kind is not None:
            self._call("delete of", path, self.fs.rm, path, kind == "dir")
            self.fs.invalidate_cache()
