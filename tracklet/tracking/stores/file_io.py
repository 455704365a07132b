"""Low-level file helpers of the file store: YAML (with fast paths for flat meta.yaml files), atomic
writes, one-file-per-key folders, and what the file system can store (UTF-8, 255-byte file names)."""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import uuid

import yaml

from tracklet.exceptions import InvalidParameterValue

try:  # the C (libyaml) loader/dumper are ~10x faster; fall back to pure Python when absent
    _Loader = yaml.CSafeLoader
    _Dumper = yaml.CSafeDumper
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _Loader = yaml.SafeLoader
    _Dumper = yaml.SafeDumper

META = "meta.yaml"
TMP_PREFIX = ".tmp-"
_CHUNK = 65536


# --------------------------------------------------------------------------- YAML and plain files


def read_bytes(path: str, offset: int = 0) -> bytes:
    """The file's bytes from ``offset``, with raw ``os`` calls: half the cost of ``open()`` on small files."""
    fd = os.open(path, os.O_RDONLY)
    try:
        chunk = os.pread(fd, _CHUNK, offset) if offset else os.read(fd, _CHUNK)
        if len(chunk) < _CHUNK:  # a short read of a regular file means end of file
            return chunk
        parts = [chunk]
        while chunk:
            chunk = os.read(fd, _CHUNK * 16)
            parts.append(chunk)
        return b"".join(parts)
    finally:
        os.close(fd)


def load_yaml(path: str) -> dict | None:
    """Parse a YAML mapping (None when the file is empty, e.g. caught mid-write by a foreign writer)."""
    return load_yaml_text(read_bytes(path).decode("utf-8"))


def load_yaml_text(text: str) -> dict | None:
    """A YAML mapping from text: the flat fast path when it applies, libyaml otherwise."""
    if not text.strip():
        return None
    flat = parse_flat_yaml(text)
    if flat is not None:
        return flat
    loaded = yaml.load(text, Loader=_Loader)
    return loaded if isinstance(loaded, dict) else None


_PAIR_RE = re.compile(r"^([A-Za-z_]\w*):(?: ([^\n]*))?$", re.MULTILINE)
_INT_RE = re.compile(r"-?(?:0|[1-9][0-9]*)")
_SPECIAL_WORDS = frozenset({"true", "false", "yes", "no", "on", "off", "y", "n", "null", "~"})
_CONSTANTS = {"": None, "null": None, "~": None, "''": ""}
_NOT_HEX_PREFIX = ("b", "x", "B", "X")


def parse_flat_yaml(text: str) -> dict | None:
    """Fast path for the flat ``key: scalar`` files meta.yaml are (many times faster than libyaml).

    Returns None -- "ask the real YAML parser" -- for anything it is not certain to read exactly as
    YAML would: nested or continued lines, double quotes, numbers other than plain integers, and plain
    strings that YAML might resolve to another type.
    """
    pairs = _PAIR_RE.findall(text)
    if len(pairs) != text.count("\n") + (not text.endswith("\n")):
        return None  # a line that is not "key: value" (nesting, continuation, blank line, comment)
    out: dict = {}
    for key, value in pairs:
        if value and value[-1] == "\r":
            value = value[:-1]
        if value in _CONSTANTS:
            out[key] = _CONSTANTS[value]
            continue
        first = value[0]
        if first == "'":
            inner = value[1:-1]
            if len(value) < 2 or value[-1] != "'" or "'" in inner.replace("''", "") or not inner.isprintable():
                return None
            out[key] = inner.replace("''", "'")
        elif first.isdigit() or first == "-":
            if _INT_RE.fullmatch(value):
                out[key] = int(value)
            elif (
                first != "-"
                and value.isalnum()
                and value.isascii()
                and not value.isdigit()
                and value[1] not in _NOT_HEX_PREFIX
            ):
                out[key] = value  # e.g. a run id: letters and digits only never resolve to a number
            else:
                return None
        elif value == "[]":
            out[key] = []
        elif value == "{}":
            out[key] = {}
        elif (
            (first.isalpha() or first == "/")
            and value.isprintable()
            and value.lower() not in _SPECIAL_WORDS
            and ": " not in value
            and " #" not in value
            and value[-1] not in ": "
        ):
            out[key] = value
        else:
            return None
    return out


def dump_yaml(data: dict) -> str:
    """YAML the way MLflow writes it: block style, sorted keys, unicode kept."""
    return yaml.dump(data, Dumper=_Dumper, default_flow_style=False, allow_unicode=True)


def dump_meta(data: dict) -> str:
    """:func:`dump_yaml` for the flat mappings meta.yaml files are, many times faster: plain ``key: value``
    lines, kept only when :func:`parse_flat_yaml` (which reads exactly as YAML does) reads them back equal."""
    lines = []
    for key in sorted(data):
        value = data[key]
        kind = type(value)
        if value is None:
            text = "null"
        elif kind is int:
            text = str(value)
        elif kind is str:
            text = f"'{value}'" if not value or value.isdigit() else value  # as YAML would: '0' stays a string
        elif kind is list and not value:
            text = "[]"
        else:
            return dump_yaml(data)
        lines.append(f"{key}: {text}\n")
    text = "".join(lines)
    return text if parse_flat_yaml(text) == data else dump_yaml(data)


# --------------------------------------------------------------------------- what the file system can store

MAX_NAME_BYTES = 255  # the longest file name ext4, xfs, btrfs, APFS and NTFS accept


def check_text(field: str, value) -> None:
    """INVALID_PARAMETER_VALUE unless ``value`` (if a string) can be written as UTF-8: a lone surrogate such as
    ``"\\ud800"`` cannot, and would otherwise fail half-way through a write."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise InvalidParameterValue(
                f"Invalid {field} {value!r}: must be valid Unicode text, but has a lone surrogate "
                f"{value[exc.start]!r} at position {exc.start} (the file store writes UTF-8)"
            ) from None


def check_key_name(kind: str, key: str) -> None:
    """A (validated) key becomes file names: valid UTF-8, and each '/'-separated part at most 255 bytes."""
    check_text(f"{kind} key", key)
    if len(key) * 4 <= MAX_NAME_BYTES:
        return  # no character takes more than 4 bytes
    for part in key.split("/"):
        size = len(part.encode("utf-8"))
        if size > MAX_NAME_BYTES:
            raise InvalidParameterValue(
                f"Invalid {kind} key '{key}': each '/'-separated part must be at most {MAX_NAME_BYTES} bytes in "
                f"UTF-8 (the file system's limit on a file name), '{part[:16]}...' has {size}"
            )


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _new_tmp_prefix() -> None:
    """Temp names are a random prefix per process plus a counter (no random draw per write); O_EXCL makes
    a clash an error, never a shared file."""
    global _tmp_prefix, _tmp_counter
    _tmp_prefix, _tmp_counter = f"{uuid.uuid4().hex[:16]}-", itertools.count()


_new_tmp_prefix()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_tmp_prefix)


def atomic_write(path: str, data: str | bytes, tmp_dir: str, want_stat: bool = False) -> os.stat_result | None:
    """Write ``path`` so readers see the old or the new content, never a partial file.

    The temp file lives in ``tmp_dir`` (the run or experiment directory: same filesystem, and a place
    MLflow's reader never looks for metrics/params/tags). Missing parent directories are created.
    ``want_stat``: return the stat of the file written (what ``path`` is unless someone replaced it since).
    """
    if isinstance(data, str):
        data = data.encode("utf-8")
    tmp = os.path.join(tmp_dir, f"{TMP_PREFIX}{_tmp_prefix}{next(_tmp_counter)}")
    st = write_new(tmp, data, want_stat)
    try:
        try:
            os.replace(tmp, path)
        except FileNotFoundError:
            if not os.path.isdir(tmp_dir):
                raise  # the folder moved away (e.g. its experiment was deleted): never recreate it
            os.makedirs(os.path.dirname(path), exist_ok=True)
            os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return st


_SMALL = 4096  # written in one call within one page: a concurrent reader sees the file empty or whole


def write_new(path: str, data: bytes, want_stat: bool = False) -> os.stat_result | None:
    """Create ``path`` holding ``data`` (FileExistsError if it exists; removed again if writing fails).
    ``want_stat``: return the written file's stat (its identity, which a rename keeps)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        try:
            write_all(fd, data)
            return os.fstat(fd) if want_stat else None
        finally:
            os.close(fd)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise


def create_file(path: str, data: bytes, folder: str) -> None:
    """Write a file nobody has yet (FileExistsError if it exists), creating missing parent folders below
    ``folder`` (never ``folder`` itself). Small data is written in place, two system calls fewer than
    :func:`atomic_write`: use it only where a crash in between is repaired (journaled batches) or cannot be
    seen (a run before its meta.yaml exists)."""
    if len(data) > _SMALL:
        if os.path.exists(path):
            raise FileExistsError(path)
        atomic_write(path, data, folder)
        return
    try:
        write_new(path, data)
    except FileNotFoundError:  # a key with '/' whose folder is new
        if not os.path.isdir(folder):
            raise  # the folder moved away (e.g. its experiment was deleted): never recreate it
        os.makedirs(os.path.dirname(path), exist_ok=True)
        write_new(path, data)


def read_text(path: str) -> str | None:
    """The file's content as text (bytes kept exactly: no newline translation), or None if missing."""
    try:
        return read_bytes(path).decode("utf-8", errors="replace")
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return None


def read_key_files(base: str) -> dict[str, str]:
    """Every file under ``base`` as ``{relative posix path: content}`` (keys with '/' are subdirectories)."""
    out: dict[str, str] = {}
    _walk_keys(base, "", out, read=True)
    return out


def list_keys(base: str) -> list[str]:
    """Relative posix paths of every file under ``base`` ([] when ``base`` is missing)."""
    out: dict[str, str] = {}
    _walk_keys(base, "", out, read=False)
    return list(out)


def _walk_keys(directory: str, prefix: str, out: dict, read: bool) -> None:
    try:
        it = os.scandir(directory)
    except (FileNotFoundError, NotADirectoryError):
        return
    with it:
        for entry in it:
            name = entry.name
            if name.startswith(TMP_PREFIX):
                continue
            if entry.is_dir():
                _walk_keys(entry.path, prefix + name + "/", out, read)
            elif read:
                text = read_text(entry.path)
                if text is not None:
                    out[prefix + name] = text
            else:
                out[prefix + name] = ""


def key_path(base: str, key: str) -> str:
    """Path of a (validated) key's file: '/' in the key becomes subdirectories."""
    if _SLASH_SEP:
        return f"{base}/{key}"
    return os.path.join(base, *key.split("/"))


_SLASH_SEP = os.sep == "/"


def key_path_conflict(base: str, key: str) -> str | None:
    """Why ``key`` cannot be stored as a file under ``base`` (None when it can).

    A key clashes with an existing directory of the same name (``a`` when ``a/b`` exists) or with an
    existing file on its way (``a/b`` when ``a`` exists).
    """
    path = key_path(base, key)
    if os.path.isdir(path):
        return f"'{key}' is already used as a prefix of other keys ('{key}/...')"
    if "/" in key:
        parts = key.split("/")
        for i in range(1, len(parts)):
            prefix = "/".join(parts[:i])
            if os.path.isfile(key_path(base, prefix)):
                return f"its prefix '{prefix}' is already a key"
    return None


def batch_key_conflict(keys) -> str | None:
    """A key of the batch that is also a '/'-prefix of another key of the batch, if any."""
    keys = set(keys)
    for key in keys:
        if "/" in key:
            parts = key.split("/")
            for i in range(1, len(parts)):
                prefix = "/".join(parts[:i])
                if prefix in keys:
                    return f"'{prefix}' and '{key}' cannot both be keys (one is a prefix of the other)"
    return None


def remove_key_file(base: str, key: str) -> bool:
    """Delete a key's file and the directories it leaves empty; False if it did not exist."""
    path = key_path(base, key)
    try:
        os.remove(path)
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return False
    parent = os.path.dirname(path)
    base = os.path.normpath(base)
    while os.path.normpath(parent) != base:
        try:
            os.rmdir(parent)
        except OSError:
            break
        parent = os.path.dirname(parent)
    return True
