"""Metric-file lines and the caches that let the file store skip re-reading files that did not change.

Caches are validated on every use by ``os.stat``, so another process writing the same ``mlruns``
folder is always seen. A file whose modification time is within :data:`RACY_NS` of the moment it was
read is never trusted from the cache: filesystem timestamps tick coarsely (a few ms on Linux), and an
inode number freed by ``os.replace`` can be reused, so a rewrite inside one tick could otherwise look
unchanged (git calls this the "racy" case).
"""

from __future__ import annotations

import operator
import os
import time

from tracklet.tracking.entities import latest_order
from tracklet.tracking.stores.file_io import read_bytes, read_text

RACY_NS = 1_000_000_000  # files changed less than 1 s before they were read are re-read next time
_MAX_CACHE = 200_000


# --------------------------------------------------------------------------- metric files


def format_metric_lines(rows) -> bytes:
    """``"<timestamp_ms> <value> <step>\\n"`` per (timestamp, value, step); values as Python's repr
    (``nan``, ``inf``, ``-inf``, ``0.1``), which both Python's and MLflow's ``float()`` read back."""
    return "".join([f"{ts} {value!r} {step}\n" for ts, value, step in rows]).encode("ascii")


def parse_metric_lines(data: bytes) -> tuple[list[tuple[int, float, int]], int]:
    """((timestamp, value, step) per complete line, number of malformed lines); 2-field legacy lines have step 0.

    A last line without its newline is ignored (a writer may be mid-append); malformed lines are skipped and
    counted, so the caller can report the file.
    """
    lines = data.split(b"\n")
    lines.pop()  # the text after the last newline: b"" or an incomplete line
    out = []
    append = out.append
    bad = 0
    for line in lines:
        parts = line.split()
        try:
            if len(parts) == 3:
                append((int(parts[0]), float(parts[1]), int(parts[2])))
            elif len(parts) == 2:
                append((int(parts[0]), float(parts[1]), 0))
            else:
                bad += 1
        except ValueError:
            bad += 1
    return out, bad


_WHITESPACE = b" \t\n\r\x0b\x0c"  # what bytes.split() splits on
_NOT_WHITESPACE = bytes(b for b in range(256) if b not in _WHITESPACE)
_BY_STEP_THEN_TIME = operator.itemgetter(2, 1)


def parse_history(data: bytes) -> tuple[tuple[list[float], list[int], list[int]], int]:
    """((values, timestamps, steps) of the complete lines ordered by (step, timestamp), file order on ties,
    number of malformed lines), as :func:`parse_metric_lines` reads them.

    A file of well-formed ``"<ts> <value> <step>"`` lines in step order -- what a training loop appends -- is
    parsed by column in C (one ``split`` of the whole file, then ``int``/``float`` mapped over every third
    token) with no object per line; anything else goes through the line parser and a sort.
    """
    body = data[: data.rfind(b"\n") + 1]
    lines = body.count(b"\n")
    rows = None
    if lines:
        tokens = body.split()
        # every line has exactly two single separators (so at most three tokens) and there are 3 per line:
        # each line is exactly three tokens, and tokens[i::3] are the columns
        if len(tokens) == 3 * lines and body.translate(None, _NOT_WHITESPACE) == b"  \n" * lines:
            try:
                cols = (list(map(float, tokens[1::3])), list(map(int, tokens[0::3])), list(map(int, tokens[2::3])))
            except ValueError:
                pass  # a token that is no number: the line parser skips and counts that line
            else:
                steps = cols[2]
                if all(map(operator.lt, steps, steps[1:])):  # appended in step order: already sorted
                    return cols, 0
                rows = list(zip(*cols, strict=True))
                rows.sort(key=_BY_STEP_THEN_TIME)
    bad = 0
    if rows is None:
        parsed, bad = parse_metric_lines(body)
        parsed.sort(key=lambda r: (r[2], r[0]))
        rows = [(value, ts, step) for ts, value, step in parsed]
    if not rows:
        return ([], [], []), bad
    values, timestamps, steps = zip(*rows, strict=True)
    return (list(values), list(timestamps), list(steps)), bad


def latest_row(rows, best=None):
    """The latest of ``(timestamp, value, step)`` ``rows`` (and ``best``), by :func:`entities.latest_order`."""
    best_rank = None if best is None else latest_order(best[2], best[0], best[1])
    for row in rows:
        rank = latest_order(row[2], row[0], row[1])
        if best_rank is None or rank > best_rank:
            best, best_rank = row, rank
    return best


class LatestMetricCache:
    """Latest (timestamp, value, step) of metric files, updated by reading only what was appended.

    Metric files only grow, so an entry ``(inode, bytes parsed, latest row)`` stays valid while the inode
    is the same and the file is not shorter; a longer file is parsed from the old end onwards.
    """

    def __init__(self, report=None):
        self._entries: dict[str, tuple[int, int, tuple | None]] = {}
        self._report = report  # report(path, why) is told about malformed lines

    def latest(self, path: str) -> tuple[int, float, int] | None:
        try:
            st = os.stat(path)
        except (FileNotFoundError, NotADirectoryError):
            return None
        entry = self._entries.get(path)
        if entry is None or entry[0] != st.st_ino or st.st_size < entry[1]:
            entry = (st.st_ino, 0, None)
        ino, offset, best = entry
        if st.st_size > offset:
            try:
                data = read_bytes(path, offset)
            except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
                return None
            end = data.rfind(b"\n") + 1
            if end:
                rows, bad = parse_metric_lines(data[:end])
                if bad and self._report is not None:
                    self._report(path, f"{bad} malformed metric line(s) skipped")
                best = latest_row(rows, best)
                offset += end
            if len(self._entries) >= _MAX_CACHE:
                self._entries.clear()
            self._entries[path] = (ino, offset, best)
        return best

    def forget(self, path: str) -> None:
        """Drop ``path`` (its file was cut back: rows read from it may be gone)."""
        self._entries.pop(path, None)

    def clear(self) -> None:
        self._entries.clear()


# --------------------------------------------------------------------------- stat-validated caches


class StatCache:
    """``path -> parsed content`` cache, valid while ``os.stat`` shows the same file (see module doc)."""

    def __init__(self, parse):
        self._parse = parse
        self._entries: dict[str, tuple[tuple, object]] = {}

    def get(self, path: str):
        """The parsed file (raises FileNotFoundError/NotADirectoryError when it is missing)."""
        now = time.time_ns()
        st = os.stat(path)
        sig = (st.st_mtime_ns, st.st_size, st.st_ino)
        entry = self._entries.get(path)
        if entry is not None and entry[0] == sig:
            return entry[1]
        value = self._parse(path)
        if st.st_mtime_ns < now - RACY_NS and value is not None:
            if len(self._entries) >= _MAX_CACHE:
                self._entries.clear()
            self._entries[path] = (sig, value)
        return value

    def prime(self, path: str, st: os.stat_result, value) -> None:
        """Cache ``value`` for the file this process has just written, ``st`` being the stat it took of it
        while writing (no re-read of what it wrote): the racy-file rule is waived only for that identity."""
        self._entries[path] = ((st.st_mtime_ns, st.st_size, st.st_ino), value)

    def forget(self, path: str) -> None:
        self._entries.pop(path, None)

    def clear(self) -> None:
        self._entries.clear()


class ImmutableFileCache:
    """Content of files that never change once written (params): after the first read, no I/O at all."""

    def __init__(self):
        self._entries: dict[str, str] = {}

    def get(self, path: str) -> str | None:
        text = self._entries.get(path)
        if text is not None:
            return text
        text = read_text(path)
        if text:  # "" may be a foreign writer's file caught between create and write: read it again next time
            if len(self._entries) >= _MAX_CACHE:
                self._entries.clear()
            self._entries[path] = text
        return text

    def forget_prefix(self, prefix: str) -> None:
        for path in [p for p in self._entries if p.startswith(prefix)]:
            self._entries.pop(path, None)

    def clear(self) -> None:
        self._entries.clear()
