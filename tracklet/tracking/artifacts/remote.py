"""Artifact repositories on remote stores (S3, FTP, SFTP): one tree logic over a few primitives.

Containment for keys: every artifact path is validated like a local one (``validate_artifact_path``) before it
becomes a key under the run's prefix, so ``..``, absolute keys and NUL never reach the store. Every key or name
the store lists back is checked the same way before it becomes a ``FileInfo`` or a local path: an object
literally named ``artifacts/../../x`` (S3 allows that) is skipped with a warning, never written outside the
download's destination. Prefixes are matched with a trailing ``/``, so ``.../artifacts`` never reaches
``.../artifacts-old``. Every file is uploaded whole (multipart or temp-name-then-rename), and a directory
upload that fails removes the files it had already made visible (a store that can stage files invisibly, like
Azure's uncommitted blocks, commits them only once every file is staged): a failed upload leaves no
half-visible artifact. Downloads go to a temp name renamed into place.
"""

from __future__ import annotations

import abc
import os
import tempfile
import uuid
import warnings
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlparse

from tracklet.exceptions import InvalidParameterValue, ResourceDoesNotExist, TrackletException
from tracklet.tracking.artifacts import _fs
from tracklet.tracking.artifacts.base import ArtifactRepository
from tracklet.tracking.entities import FileInfo
from tracklet.tracking.validation import validate_artifact_path


def missing_extra(scheme: str, extra: str, module: str) -> InvalidParameterValue:
    """The error for a scheme whose optional dependency is not installed, naming the extra to install."""
    return InvalidParameterValue(
        f"Artifact URIs with scheme {scheme!r} need the {module!r} package: pip install 'tracklet[{extra}]'"
    )


def redact(uri: str) -> str:
    """``uri`` with the password of its ``user:password@`` part replaced, for messages and logs."""
    parsed = urlparse(uri)
    if not parsed.password:
        return uri
    user = f"{parsed.username}:***@" if parsed.username else "***@"
    return parsed._replace(netloc=user + parsed.netloc.rpartition("@")[2]).geturl()


def _plain_name(name: str) -> bool:
    return bool(name) and name not in (".", "..") and not any(c in name for c in "/\\\x00")


def _relative_key(sub: str) -> str | None:
    """``sub`` if it is a normalized relative artifact path, else None (a hostile or odd key)."""
    try:
        norm = validate_artifact_path(sub)
    except InvalidParameterValue:
        return None
    return norm if norm and norm == sub and "\\" not in sub else None


def _join(*parts: str) -> str:
    return "/".join(p.strip("/") for p in parts if p.strip("/"))


class RemoteArtifactRepository(ArtifactRepository):
    """The artifact tree over ``_put``/``_get``/``_children``/``_files_under``/``_is_file``/``_delete_tree``.

    ``root`` is the run's location inside the store (a key prefix or a server path), without trailing '/'."""

    max_workers = 8  # concurrent transfers of a directory's small files
    large_file = 8 * 1024 * 1024  # files this big go one at a time (each in parts, as the store does it)

    def __init__(self, artifact_uri: str, root: str):
        super().__init__(artifact_uri)
        self.root = root.rstrip("/")
        self.shown_uri = redact(artifact_uri)  # what messages say: never a password

    def _path(self, rel: str) -> str:
        if not rel:
            return self.root
        return f"{self.root}/{rel}" if self.root else rel

    # ------------------------------------------------------------------ primitives
    @abc.abstractmethod
    def _put(self, local_file: str, path: str) -> None:
        """Upload one file whole (never half-visible)."""

    @abc.abstractmethod
    def _get(self, path: str, local_file: str, size: int | None = None) -> None:
        """Download one file (of ``size`` bytes, when the listing said) to ``local_file``."""

    @abc.abstractmethod
    def _children(self, path: str) -> list[tuple[str, bool, int | None]]:
        """Direct children of ``path`` as (name, is_dir, size); [] when there are none."""

    @abc.abstractmethod
    def _files_under(self, path: str) -> list[tuple[str, int | None]]:
        """Every regular file strictly under ``path`` (full paths), recursively."""

    @abc.abstractmethod
    def _is_file(self, path: str) -> bool: ...

    @abc.abstractmethod
    def _delete_tree(self, path: str) -> None:
        """Remove the file ``path`` and everything under ``path/``."""

    def _stage(self, local_file: str, path: str):
        """Upload one file so that it is not visible yet and return a function that makes it visible, or
        upload it visibly and return None (stores that cannot stage: the caller removes it on failure)."""
        self._put(local_file, path)
        return None

    def _delete_files(self, paths: list[str]) -> None:
        """Remove the files ``paths`` (missing ones are fine)."""
        for path in paths:
            self._delete_tree(path)

    def _prune_dirs(self, paths: list[str]) -> None:
        """Remove the directories ``paths`` (deepest first) that are empty; stores without directories: nothing."""

    def _upload(self, pairs: list[tuple[str, str]]) -> None:
        """Upload (local file, path) pairs, all or nothing: on a failure, the files this call made visible are
        removed (an older version of a file it replaced is gone too) and staged ones are never committed."""
        sent: list[str] = []  # list.append is atomic: jobs on several threads record what they made visible
        staged: list[tuple[str, object]] = []

        def stage(src: str, path: str) -> None:
            try:
                commit = self._stage(src, path)
            except OSError as exc:  # reading the local file failed (the store's own errors are TrackletExceptions)
                raise TrackletException(f"upload of {src!r} to {self.shown_uri}: {exc.strerror or exc}") from None
            if commit is None:
                sent.append(path)
            else:
                staged.append((path, commit))

        def commit(path: str, fn) -> None:
            fn()
            sent.append(path)

        try:
            self._transfer([(os.path.getsize(src), lambda s=src, p=path: stage(s, p)) for src, path in pairs])
            self._transfer([(0, lambda p=path, fn=fn: commit(p, fn)) for path, fn in staged])
        except BaseException:
            try:
                self._delete_files(list(sent))
                self._prune_dirs(self._parents([path for _, path in pairs]))
            except Exception as exc:  # the upload's own error is the one to raise; say what may be left
                warnings.warn(f"a failed upload to {self.shown_uri} could not remove what it sent: {exc}", stacklevel=3)
            raise

    def _parents(self, paths: list[str]) -> list[str]:
        """The directories strictly under the root that hold ``paths``, deepest first."""
        out: set[str] = set()
        prefix = f"{self.root}/" if self.root else ""
        for path in paths:
            parent = path.rpartition("/")[0]
            while parent.startswith(prefix) and len(parent) > len(prefix) and parent not in out:
                out.add(parent)
                parent = parent.rpartition("/")[0]
        return sorted(out, key=lambda p: (-p.count("/"), p))

    def _transfer(self, jobs: list[tuple[int, object]]) -> None:
        """Run (size, job) transfers: small files concurrently, large ones one at a time (each already goes in
        concurrent parts), so memory stays bounded however many large files a directory holds. The first
        failure cancels the jobs not started yet and is raised once the running ones have finished."""
        small = [job for size, job in jobs if size < self.large_file]
        if len(small) > 1 and self.max_workers > 1:
            pool = ThreadPoolExecutor(min(self.max_workers, len(small)))
            try:
                for future in [pool.submit(job) for job in small]:
                    future.result()
            except BaseException:
                pool.shutdown(wait=True, cancel_futures=True)
                raise
            pool.shutdown(wait=True)
        else:
            for job in small:
                job()
        for size, job in jobs:
            if size >= self.large_file:
                job()

    # ------------------------------------------------------------------ the interface
    def log_artifact(self, local_file: str, artifact_path: str | None = None) -> None:
        if not os.path.isfile(local_file):
            raise InvalidParameterValue(f"log_artifact: local_file {local_file!r} is not an existing file")
        rel = validate_artifact_path(artifact_path)
        self._upload([(local_file, self._path(_join(rel, os.path.basename(local_file))))])

    def log_artifacts(self, local_dir: str, artifact_path: str | None = None) -> None:
        """Upload a directory's regular files (checked first: loops, dangling links, FIFOs), concurrently."""
        if not os.path.isdir(local_dir):
            raise InvalidParameterValue(f"log_artifacts: local_dir {local_dir!r} is not an existing directory")
        _, files = _fs.scan_source_dir(local_dir)
        rel = validate_artifact_path(artifact_path)
        self._upload([(src, self._path(_join(rel, *sub))) for sub, src in files])

    def list_artifacts(self, path: str | None = None) -> list[FileInfo]:
        rel = validate_artifact_path(path)
        out, odd = [], []
        for name, is_dir, size in self._children(self._path(rel)):
            if not _plain_name(name):
                odd.append(name)
                continue
            out.append(FileInfo(_join(rel, name), is_dir, None if is_dir else size))
        if odd:
            warnings.warn(f"list_artifacts left out {len(odd)} entries with unsafe names: {odd[:10]}", stacklevel=2)
        return sorted(out, key=lambda f: f.path)

    def download_artifacts(self, artifact_path: str, dst_path: str | None = None) -> str:
        rel = validate_artifact_path(artifact_path)
        base = self._path(rel)
        dst_root = os.path.abspath(dst_path) if dst_path else tempfile.mkdtemp(prefix="tracklet-artifacts-")
        dest = os.path.join(dst_root, *rel.split("/")) if rel else dst_root
        if rel and self._is_file(base):
            self._get_atomic(base, dest)
            return dest
        prefix = f"{base}/" if base else ""
        jobs, odd = [], []
        for path, size in self._files_under(base):
            sub = _relative_key(path[len(prefix) :]) if path.startswith(prefix) else None
            if sub is None:
                odd.append(path)
                continue
            local = os.path.join(dest, *sub.split("/"))
            jobs.append((size or 0, lambda p=path, loc=local, n=size: self._get_atomic(p, loc, n)))
        if not jobs and rel:
            raise ResourceDoesNotExist(f"Artifact {artifact_path!r} does not exist under {self.shown_uri}")
        os.makedirs(dest, exist_ok=True)
        self._transfer(jobs)
        if odd:
            warnings.warn(
                f"download_artifacts skipped {len(odd)} object(s) whose keys are not plain relative paths under "
                f"{self.shown_uri}: {odd[:10]}",
                stacklevel=2,
            )
        return dest

    def _get_atomic(self, path: str, local_file: str, size: int | None = None) -> None:
        tmp = os.path.join(os.path.dirname(local_file), _fs.TMP_PREFIX + uuid.uuid4().hex)
        try:
            os.makedirs(os.path.dirname(local_file), exist_ok=True)
            self._get(path, tmp, size)
            os.replace(tmp, local_file)
        except OSError as exc:  # e.g. the store holds both "a" and "a/b": one of them cannot be a local file
            raise TrackletException(f"download of {path!r} to {local_file!r}: {exc.strerror or exc}") from None
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)

    def delete_artifacts(self, artifact_path: str | None = None) -> None:
        """Remove a file or a directory (the run's whole prefix when None); nothing outside it."""
        path = self._path(validate_artifact_path(artifact_path))
        if not path.strip("/"):
            raise InvalidParameterValue(f"Refusing to delete the whole store behind {self.shown_uri!r}")
        self._delete_tree(path)
