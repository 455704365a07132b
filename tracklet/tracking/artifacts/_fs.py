"""File-system steps that never leave an artifact root, even when someone plants symbolic links in it.

Below the root every directory is opened relative to its parent's descriptor with ``O_NOFOLLOW``, so a
link (to anywhere, swapped in at any moment) is refused instead of followed; files are written to a
temporary name and renamed over the target, which replaces a link rather than writing through it; files
are read with ``O_NOFOLLOW`` and must be regular files (a FIFO would block, a device would leak).
The root itself may be a link (an ``mlruns`` moved to another disk): the store chose it, not the run.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import uuid

from tracklet.exceptions import InvalidParameterValue, ResourceDoesNotExist

TMP_PREFIX = ".tracklet-tmp-"  # in-flight writes; never listed or downloaded
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | _NOFOLLOW | _CLOEXEC
_READ_FLAGS = os.O_RDONLY | _NOFOLLOW | getattr(os, "O_NONBLOCK", 0) | _CLOEXEC
_CHUNK = 1 << 20


def _refuse(where: str, part: str, exc: OSError):
    if exc.errno in (errno.ELOOP, errno.EMLINK):
        return InvalidParameterValue(
            f"Artifact path {where!r}: {part!r} is a symbolic link; links inside an artifact root are never followed"
        )
    if exc.errno == errno.ENOTDIR:
        return InvalidParameterValue(f"Artifact path {where!r}: {part!r} is not a directory")
    if exc.errno == errno.ENOENT:
        return ResourceDoesNotExist(f"Artifact {where!r} does not exist")
    return InvalidParameterValue(f"Artifact path {where!r}: {part!r}: {exc.strerror}")


def open_root(root: str, create: bool) -> int:
    """A descriptor of the artifact root directory (created when ``create``)."""
    if create:
        os.makedirs(root, exist_ok=True)
    try:
        return os.open(root, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | _CLOEXEC)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            raise ResourceDoesNotExist(f"Artifact root {root!r} does not exist") from None
        raise InvalidParameterValue(f"Artifact root {root!r} cannot be opened: {exc.strerror}") from None


def open_dir(root_fd: int, parts: list[str], create: bool = False, where: str = "") -> int:
    """Descriptor of ``root/parts...``, refusing any component that is a link (creating missing ones)."""
    fd = os.dup(root_fd)
    try:
        for part in parts:
            if create:
                try:
                    os.mkdir(part, dir_fd=fd)
                except FileExistsError:
                    pass
            try:
                nfd = os.open(part, _DIR_FLAGS, dir_fd=fd)
            except OSError as exc:
                if exc.errno == errno.ENOTDIR and entry_kind(fd, part) == "link":  # Linux: O_DIRECTORY wins
                    exc = OSError(errno.ELOOP, os.strerror(errno.ELOOP))
                raise _refuse(where or "/".join(parts), part, exc) from None
            os.close(fd)
            fd = nfd
        return fd
    except BaseException:
        os.close(fd)
        raise


def entry_kind(dir_fd: int, name: str) -> str | None:
    """'dir', 'file', 'link', 'other', or None when ``name`` does not exist (never follows a link)."""
    try:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(st.st_mode):
        return "link"
    if stat.S_ISDIR(st.st_mode):
        return "dir"
    return "file" if stat.S_ISREG(st.st_mode) else "other"


def write_file(dir_fd: int, name: str, src: str, where: str = "") -> None:
    """Copy the local file ``src`` to ``name`` in ``dir_fd``: a temp file renamed over the target, so a link
    at ``name`` is replaced (its target untouched) and readers never see half a file."""
    if entry_kind(dir_fd, name) == "dir":
        raise InvalidParameterValue(f"Artifact path {where or name!r}: a directory of that name already exists")
    tmp = TMP_PREFIX + uuid.uuid4().hex
    out = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC, 0o666, dir_fd=dir_fd)
    try:
        with open(src, "rb") as fsrc, os.fdopen(out, "wb", closefd=True) as fdst:
            shutil.copyfileobj(fsrc, fdst, _CHUNK)
            st = os.fstat(fsrc.fileno())
            os.utime(fdst.fileno(), ns=(st.st_atime_ns, st.st_mtime_ns))
        os.replace(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        try:
            os.unlink(tmp, dir_fd=dir_fd)
        except OSError:
            pass
        raise


def move_file(src_dir_fd: int, src_name: str, dst_dir_fd: int, name: str, where: str = "") -> None:
    """Rename a staged file into place (same file system), replacing a link rather than following it."""
    if entry_kind(dst_dir_fd, name) == "dir":
        raise InvalidParameterValue(f"Artifact path {where or name!r}: a directory of that name already exists")
    os.replace(src_name, name, src_dir_fd=src_dir_fd, dst_dir_fd=dst_dir_fd)


def open_file(dir_fd: int, name: str, where: str = ""):
    """A binary reader of the regular file ``name`` (a link, FIFO or device is refused)."""
    try:
        fd = os.open(name, _READ_FLAGS, dir_fd=dir_fd)
    except OSError as exc:
        raise _refuse(where or name, name, exc) from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise InvalidParameterValue(f"Artifact {where or name!r} is not a regular file")
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")


def copy_out(dir_fd: int, name: str, dest: str, where: str = "") -> None:
    """Copy the regular file ``name`` in ``dir_fd`` to the local path ``dest``."""
    with open_file(dir_fd, name, where) as fsrc, open(dest, "wb") as fdst:
        shutil.copyfileobj(fsrc, fdst, _CHUNK)


def scandir(dir_fd: int):
    """Entries of a directory descriptor as ``(name, kind, size)`` sorted by name, in-flight temp files left out."""
    out = []
    with os.scandir(dir_fd) as it:
        for entry in it:
            if entry.name.startswith(TMP_PREFIX):
                continue
            if entry.is_symlink():
                out.append((entry.name, "link", None))
            elif entry.is_dir(follow_symlinks=False):
                out.append((entry.name, "dir", None))
            elif entry.is_file(follow_symlinks=False):
                out.append((entry.name, "file", entry.stat(follow_symlinks=False).st_size))
            else:
                out.append((entry.name, "other", None))
    return sorted(out)


def remove(dir_fd: int, name: str) -> None:
    """Remove ``name`` (a directory tree, a file, or a link itself -- never what a link points to)."""
    kind = entry_kind(dir_fd, name)
    if kind is None:
        return
    if kind != "dir":
        os.unlink(name, dir_fd=dir_fd)
        return
    sub = os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
    try:
        with os.scandir(sub) as it:
            names = [e.name for e in it]
        for child in names:
            remove(sub, child)
    finally:
        os.close(sub)
    os.rmdir(name, dir_fd=dir_fd)


def scan_source_dir(local_dir: str) -> tuple[list[tuple[str, ...]], list[tuple[tuple[str, ...], str]]]:
    """Every directory and regular file under ``local_dir`` (links followed), or an error before anything is
    written: a link loop, a dangling link, a FIFO/socket/device, an unreadable directory."""
    dirs: list[tuple[str, ...]] = []
    files: list[tuple[tuple[str, ...], str]] = []

    def walk(path: str, parts: tuple[str, ...], ancestors: frozenset[str]) -> None:
        try:
            with os.scandir(path) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            raise InvalidParameterValue(f"log_artifacts: cannot read directory {path!r}: {exc.strerror}") from None
        for entry in entries:
            sub = (*parts, entry.name)
            if entry.name.startswith(TMP_PREFIX):
                raise InvalidParameterValue(
                    f"log_artifacts: {entry.path!r}: names starting with {TMP_PREFIX!r} are reserved"
                )
            try:
                st = os.stat(entry.path)
            except OSError as exc:
                if entry.is_symlink():
                    raise InvalidParameterValue(
                        f"log_artifacts: {entry.path!r} is a dangling or looping symbolic link; nothing was logged"
                    ) from None
                raise InvalidParameterValue(f"log_artifacts: cannot read {entry.path!r}: {exc.strerror}") from None
            if stat.S_ISDIR(st.st_mode):
                real = os.path.realpath(entry.path)
                if real in ancestors:
                    raise InvalidParameterValue(
                        f"log_artifacts: {entry.path!r} is a symbolic link loop (it leads back to {real!r}); "
                        "nothing was logged"
                    )
                dirs.append(sub)
                walk(entry.path, sub, ancestors | {real})
            elif stat.S_ISREG(st.st_mode):
                files.append((sub, entry.path))
            else:
                raise InvalidParameterValue(
                    f"log_artifacts: {entry.path!r} is not a regular file or directory; nothing was logged"
                )

    walk(local_dir, (), frozenset({os.path.realpath(local_dir)}))
    return dirs, files
