"""The offline spool's files: one append-only journal per process that logged while its server was unreachable.

A journal is a folder ``<spool dir>/<id>/`` (spool dir: ``TRACKLET_SPOOL_DIR``, default ``~/.tracklet/spool``):

* ``meta.json``: the tracking URI and the process that wrote it;
* ``journal.log``: one record per line, ``<crc32 hex> <json>``: ``create_run`` (a run created offline under a
  client-side id), ``call`` (a REST write: endpoint + JSON body), ``artifacts`` (upload the run's spooled files);
  records are numbered (``seq``) in the order they were logged;
* ``state.log``: the same line format, what happened to them: ``begin A B`` is written *before* records A..B are
  sent, ``ack A B`` after the server answered, ``fail A reason`` for a record the server refused, ``map L R``
  when the run created offline as L exists on the server as R. A record with a ``begin`` and no ``ack`` may or
  may not have reached the server: the replay reconciles it with the server before sending (see spool_replay);
* ``artifacts/<run id>/``: files logged while offline;
* ``lock``: ``flock``-ed by the process that owns the journal, and by ``tracklet sync`` while it uploads, so two
  uploaders never replay one journal at the same time (the OS drops the lock when a process dies, kill -9 too).

Both logs are appended with one ``write`` per line on an ``O_APPEND`` descriptor (no ``fsync``: a crash of the
process keeps every line written; a power loss can lose the last ones). A line whose checksum does not match,
or a last line without its newline, is reported as corruption: reading stops there and nothing after it is used.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
import zlib
from dataclasses import dataclass, field

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no cross-process lock
    fcntl = None

from tracklet import env

JOURNAL = "journal.log"
STATE = "state.log"
META = "meta.json"
LOCK = "lock"
ARTIFACTS = "artifacts"
DONE_SUFFIX = ".uploaded"  # a journal being deleted


def spool_dir() -> str:
    """``TRACKLET_SPOOL_DIR``, else ``~/.tracklet/spool``."""
    return env.get("SPOOL_DIR") or os.path.join(os.path.expanduser("~"), ".tracklet", "spool")


def _line(payload: str) -> bytes:
    data = payload.encode("utf-8")
    return b"%08x " % zlib.crc32(data) + data + b"\n"


def _read_lines(path: str) -> tuple[list[str], str | None]:
    """The payloads of ``path``'s valid lines, and a description of the first corrupt one (None if none)."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        return [], None
    out = []
    lines = raw.split(b"\n")
    for number, line in enumerate(lines, 1):
        if number == len(lines):
            return out, None if not line else f"{os.path.basename(path)} line {number}: truncated (no newline)"
        crc, _, data = line.partition(b" ")
        try:
            good = int(crc, 16) == zlib.crc32(data) and len(crc) == 8
            text = data.decode("utf-8")
        except ValueError:
            good = False
        if not good:
            return out, f"{os.path.basename(path)} line {number}: checksum mismatch"
        out.append(text)
    return out, None


@dataclass
class JournalState:
    """What a journal holds: its records in order and what happened to each."""

    records: list[dict] = field(default_factory=list)
    acked: set[int] = field(default_factory=set)
    begun: set[int] = field(default_factory=set)
    failed: dict[int, str] = field(default_factory=dict)
    mapping: dict[str, str] = field(default_factory=dict)
    corrupt: list[str] = field(default_factory=list)
    meta: dict = field(default_factory=dict)

    def pending(self) -> list[dict]:
        """Records neither acknowledged nor refused, in order."""
        return [r for r in self.records if r["seq"] not in self.acked and r["seq"] not in self.failed]


class Journal:
    """One journal folder; ``append``/``mark`` write lines, :meth:`read` parses both logs."""

    def __init__(self, path: str):
        self.path = path
        self._fds: dict[str, int] = {}
        self._lock_fd: int | None = None

    @classmethod
    def create(cls, tracking_uri: str, directory: str | None = None) -> Journal:
        """A new journal folder for this process under ``directory`` (default :func:`spool_dir`), locked."""
        base = directory or spool_dir()
        name = time.strftime("%Y%m%dT%H%M%S") + f"-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        path = os.path.join(base, name)
        os.makedirs(os.path.join(path, ARTIFACTS), exist_ok=True)
        journal = cls(path)
        # locked before meta.json exists, so no uploader can take a journal that is still being created
        fd = os.open(os.path.join(path, LOCK), os.O_RDWR | os.O_CREAT, 0o600)
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        journal._lock_fd = fd
        meta = {"tracking_uri": tracking_uri, "pid": os.getpid(), "created": int(time.time() * 1000)}
        tmp = os.path.join(path, META + ".tmp")
        with open(tmp, "w") as f:
            json.dump(meta, f)
        os.replace(tmp, os.path.join(path, META))
        return journal

    def _fd(self, name: str) -> int:
        fd = self._fds.get(name)
        if fd is None:
            fd = self._fds[name] = os.open(os.path.join(self.path, name), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        return fd

    def append(self, record: dict) -> None:
        """Append one record (it carries its ``seq``)."""
        os.write(self._fd(JOURNAL), _line(json.dumps(record, separators=(",", ":"))))

    def mark(self, *fields) -> None:
        """Append one state line, e.g. ``mark("ack", 3, 7)``."""
        os.write(self._fd(STATE), _line(" ".join(str(f) for f in fields)))

    def artifact_dir(self, run_id: str) -> str:
        return os.path.join(self.path, ARTIFACTS, run_id)

    def try_lock(self) -> bool:
        """Take the journal's lock without waiting; False if another process (or ``sync``) holds it."""
        if self._lock_fd is not None:
            return True
        try:
            fd = os.open(os.path.join(self.path, LOCK), os.O_RDWR | os.O_CREAT, 0o600)
        except FileNotFoundError:  # removed by the uploader that held the lock
            return False
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                return False
        if not self.exists():  # uploaded and removed while we waited
            os.close(fd)
            return False
        self._lock_fd = fd
        return True

    def exists(self) -> bool:
        return os.path.isfile(os.path.join(self.path, META))

    def remove(self) -> None:
        """Delete the journal (call while holding its lock): renamed first, so another uploader that was
        waiting for the lock finds no journal rather than one half deleted."""
        trash = self.path + DONE_SUFFIX
        os.rename(self.path, trash)
        self.close()
        shutil.rmtree(trash, ignore_errors=True)

    def close(self) -> None:
        """Close the logs and release the lock."""
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def read(self) -> JournalState:
        """Parse ``meta.json``, ``journal.log`` and ``state.log``; corruption is described in ``corrupt``."""
        state = JournalState()
        try:
            with open(os.path.join(self.path, META)) as f:
                state.meta = json.load(f)
        except (OSError, ValueError) as exc:
            state.corrupt.append(f"{META}: unreadable ({exc})")
        lines, bad = _read_lines(os.path.join(self.path, JOURNAL))
        if bad:
            state.corrupt.append(bad)
        for number, text in enumerate(lines, 1):
            try:
                record = json.loads(text)
                int(record["seq"]), record["op"]
            except (ValueError, KeyError, TypeError):
                state.corrupt.append(f"{JOURNAL} line {number}: not a record")
                break
            state.records.append(record)
        lines, bad = _read_lines(os.path.join(self.path, STATE))
        if bad:
            state.corrupt.append(bad)
            # acks after the bad line are unknown: every record not acknowledged above it may have been sent
            state.begun.update(r["seq"] for r in state.records)
        for text in lines:
            kind, *rest = text.split(" ", 2)
            try:
                if kind in ("begin", "ack"):
                    first, last = int(rest[0]), int(rest[1])
                    (state.begun if kind == "begin" else state.acked).update(range(first, last + 1))
                elif kind == "fail":
                    state.failed[int(rest[0])] = rest[1] if len(rest) > 1 else ""
                elif kind == "map":
                    state.mapping[rest[0]] = rest[1]
            except (IndexError, ValueError):
                state.corrupt.append(f"{STATE}: unreadable line {text[:80]!r}")
        state.begun -= state.acked
        return state


def list_journals(directory: str | None = None) -> list[Journal]:
    """The journal folders under ``directory`` (default :func:`spool_dir`), oldest first."""
    base = directory or spool_dir()
    try:
        names = sorted(os.listdir(base))
    except FileNotFoundError:
        return []
    return [
        Journal(os.path.join(base, n))
        for n in names
        if not n.endswith(DONE_SUFFIX) and os.path.isfile(os.path.join(base, n, META))
    ]
