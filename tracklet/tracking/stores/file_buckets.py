"""Downsampled metric histories for the file store, from a sidecar of per-bucket summaries.

A downsampled read (``get_metric_history_bulk_interval``) must not parse a million lines each time. For each
metric file the reader keeps, beside it, a summary per ``BUCKET_STEPS`` steps: the number of points, the
first and last step, the min and the max point (NaN never counts) and the byte range of the bucket's lines.
A read then costs one summary per 64 steps, plus the lines of the (at most two) buckets the step range
cuts, which it finds by their byte range.

Metric files only grow, so the sidecar records how many bytes it summarizes (and their last bytes, to notice
a file that was cut back and written again); a reader parses only what was appended since and rewrites the
sidecar. It lives in ``<run>/.tracklet-buckets/<key>`` (MLflow's reader looks only at its own folders of a
run) and is a cache: a missing, stale, foreign or unwritable one is rebuilt or skipped, never trusted.
"""

from __future__ import annotations

import math
import os
import struct

from tracklet.tracking.stores import downsample
from tracklet.tracking.stores import file_io as fio

BUCKET_STEPS = 64  # as the SQL store's metric_buckets
FOLDER = ".tracklet-buckets"
_MAGIC = b"TLB1"
_HEADER = struct.Struct("<4sqq32s")  # magic, inode, bytes summarized, the last 32 of them
# bucket, count, first step, last step, start byte, end byte, min (value, step, ts), max (value, step, ts)
_RECORD = struct.Struct("<qqqqqqdqqdqq")
_NAN = math.nan


def sidecar_path(run_dir: str, key: str) -> str:
    return fio.key_path(os.path.join(run_dir, FOLDER), key)


def _parse(data: bytes, base: int, buckets: dict[int, list]) -> None:
    """Fold the complete lines of ``data`` (found at byte ``base`` of the file) into ``buckets``."""
    offset = base
    for line in data.split(b"\n")[:-1]:
        start, offset = offset, offset + len(line) + 1
        parts = line.split()
        try:
            if len(parts) == 3:
                ts, value, step = int(parts[0]), float(parts[1]), int(parts[2])
            elif len(parts) == 2:
                ts, value, step = int(parts[0]), float(parts[1]), 0
            else:
                continue  # malformed: get_metric_history skips (and reports) it too
        except ValueError:
            continue
        b = step // BUCKET_STEPS
        r = buckets.get(b)
        if r is None:
            r = buckets[b] = [b, 0, step, step, start, offset, _NAN, 0, 0, _NAN, 0, 0]
        elif type(r) is tuple:
            r = buckets[b] = list(r)
        r[1] += 1
        r[2], r[3], r[5] = min(r[2], step), max(r[3], step), offset
        if value != value:
            continue
        # the earliest (step, timestamp) wins a tie, as downsample.better_min/better_max
        if r[6] != r[6] or value < r[6] or (value == r[6] and (step, ts) < (r[7], r[8])):
            r[6], r[7], r[8] = value, step, ts
        if r[9] != r[9] or value > r[9] or (value == r[9] and (step, ts) < (r[10], r[11])):
            r[9], r[10], r[11] = value, step, ts


def summaries(path: str, run_dir: str, key: str) -> dict[int, list]:
    """``{bucket: record}`` of the metric file at ``path``, brought up to date (the sidecar too)."""
    st = os.stat(path)
    side = sidecar_path(run_dir, key)
    buckets: dict[int, list] = {}
    done = 0
    try:
        raw = fio.read_bytes(side)
        magic, inode, size, tail = _HEADER.unpack_from(raw)
        if magic == _MAGIC and inode == st.st_ino and size <= st.st_size:
            with open(path, "rb") as f:  # the summarized bytes must still be the file's
                f.seek(max(0, size - 32))
                if f.read(min(32, size)).ljust(32, b"\0") == tail:
                    done = size
                    # tuples: the parse below copies a record into a list before it changes it
                    buckets = {r[0]: r for r in _RECORD.iter_unpack(memoryview(raw)[_HEADER.size :])}
    except (OSError, struct.error, ValueError):
        buckets, done = {}, 0
    if done == st.st_size:
        return buckets
    data = fio.read_bytes(path, done)
    complete = data.rfind(b"\n") + 1  # a line without its newline may still be being written
    if not complete:
        return buckets
    _parse(data[:complete], done, buckets)
    size = done + complete
    tail = (data[:complete] if complete >= 32 else fio.read_bytes(path)[:size])[-32:].ljust(32, b"\0")
    out = [_HEADER.pack(_MAGIC, st.st_ino, size, tail)]
    out += [_RECORD.pack(*r) for r in buckets.values()]
    try:
        fio.atomic_write(side, b"".join(out), run_dir)
    except OSError:
        pass  # a read-only store: the summaries still answer this read
    return buckets


def _lines(path: str, records: list, low: int, high: int) -> list[tuple]:
    """Points (value, step, timestamp) of the buckets of ``records`` with ``low <= step <= high``, in file
    order, read from each record's byte range (a byte range may hold lines of other buckets: skipped)."""
    out: list[tuple] = []
    if not records:
        return out
    records = sorted(records, key=lambda r: r[4])
    wanted = {r[0] for r in records}
    spans = [[records[0][4], records[0][5]]]
    for r in records[1:]:  # join overlapping or touching ranges, so no line is read twice
        if r[4] <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], r[5])
        else:
            spans.append([r[4], r[5]])
    with open(path, "rb") as f:
        for start, end in spans:
            f.seek(start)
            for line in f.read(end - start).split(b"\n"):
                parts = line.split()
                try:
                    if len(parts) in (2, 3):
                        step = int(parts[2]) if len(parts) == 3 else 0
                        if low <= step <= high and step // BUCKET_STEPS in wanted:
                            out.append((float(parts[1]), step, int(parts[0])))
                except ValueError:
                    continue
    return out


def downsampled(path: str, run_dir: str, key: str, low: int, high: int, max_results: int) -> list[tuple]:
    """Points (value, step, timestamp) of steps ``low..high`` kept by :mod:`.downsample`'s rules, ordered by
    (step, timestamp)."""
    buckets = summaries(path, run_dir, key)
    inside = [r for r in buckets.values() if low <= r[2] and r[3] <= high]
    cut = [r for r in buckets.values() if r[3] >= low and r[2] <= high and not (low <= r[2] and r[3] <= high)]
    edges = _lines(path, cut, low, high)
    if sum(r[1] for r in inside) + len(edges) <= max_results:
        return _sorted(_lines(path, inside + cut, low, high))
    steps = [p[1] for p in edges] + [r[2] for r in inside] + [r[3] for r in inside]
    width = downsample.bucket_width(min(steps), max(steps), max_results)
    if width < BUCKET_STEPS:  # many points on few steps: finer buckets than the summaries
        return downsample.flatten(downsample.extremes(_sorted(_lines(path, inside + cut, low, high)), width))
    merged = _merge(inside, width)
    downsample.merge(merged, downsample.extremes(_sorted(edges), width), width)
    return downsample.flatten(merged)


def _merge(records: list, width: int) -> dict[int, list]:
    """``{bucket: [min point, max point]}`` over buckets of ``width`` steps from the summaries: the rules of
    :func:`downsample.merge`, inlined (16,000 summaries per million points)."""
    pairs: dict[int, list] = {}
    for _, _, _, _, _, _, v1, st1, ts1, v2, st2, ts2 in records:
        if v1 != v1:  # a bucket of NaN only keeps nothing
            continue
        bucket = st1 // width
        pair = pairs.get(bucket)
        if pair is None:
            pairs[bucket] = [(v1, st1, ts1), (v2, st2, ts2)]
            continue
        low, high = pair
        if v1 < low[0] or (v1 == low[0] and (st1, ts1) < low[1:]):
            pair[0] = (v1, st1, ts1)
        if v2 > high[0] or (v2 == high[0] and (st2, ts2) < high[1:]):
            pair[1] = (v2, st2, ts2)
    return pairs


def _sorted(points: list[tuple]) -> list[tuple]:
    return sorted(points, key=lambda p: (p[1], p[2]))
