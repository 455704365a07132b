"""Metric histories of SqlStore (a mixin: it uses the store's engine and transactions): the whole history,
and the downsampled one read from the metric_buckets summaries."""

from __future__ import annotations

import operator

import sqlalchemy as sa

from tracklet.exceptions import ResourceDoesNotExist
from tracklet.tracking.entities import MetricHistory, MetricWithRunId
from tracklet.tracking.stores import downsample
from tracklet.tracking.stores.base import validate_bulk_interval
from tracklet.tracking.stores.sql import _rows
from tracklet.tracking.stores.sql.schema import BUCKET_STEPS, metric_buckets, metrics, runs

_b = sa.bindparam
_q_run_exists = sa.select(runs.c.run_uuid).where(runs.c.run_uuid == _b("r"))
_of_key = (metrics.c.run_uuid == _b("r"), metrics.c.key == _b("k"))
_in_range = (metrics.c.step >= _b("lo"), metrics.c.step <= _b("hi"))
_point_cols = (metrics.c.value, metrics.c.special, metrics.c.timestamp, metrics.c.step)
_in_order = (metrics.c.step, metrics.c.timestamp, metrics.c.id)
# (value, timestamp, step, special): the row shape MetricHistory reads, the special code last
_q_history = sa.select(metrics.c.value, metrics.c.timestamp, metrics.c.step, metrics.c.special).where(*_of_key)
_q_history = _q_history.order_by(*_in_order)
# The common case in three columns: a point with a special code (NaN, +-inf) reads as NULL, and only then is the
# history read again with the codes (a fourth column costs the driver ~15% of a million-point read)
_q_plain_history = sa.select(
    sa.case((metrics.c.special == 0, metrics.c.value)), metrics.c.timestamp, metrics.c.step
).where(*_of_key)
_q_plain_history = _q_plain_history.order_by(*_in_order)
_value = operator.itemgetter(0)
_q_points = sa.select(*_point_cols).where(*_of_key, *_in_range).order_by(*_in_order)
_q_count = sa.select(sa.func.count()).select_from(
    sa.select(metrics.c.id).where(*_of_key, *_in_range).limit(_b("n")).subquery()
)
# two queries: SQLite reads a lone min() or max() from the index end, but scans for both at once
_q_low = sa.select(sa.func.min(metrics.c.step)).where(*_of_key, *_in_range)
_q_high = sa.select(sa.func.max(metrics.c.step)).where(*_of_key, *_in_range)
_mb = metric_buckets.c
_q_summaries = sa.select(*list(metric_buckets.c)[3:]).where(
    _mb.run_uuid == _b("r"), _mb.key == _b("k"), _mb.bucket >= _b("first"), _mb.bucket <= _b("last")
)
# steps are BIGINT: an open end of the range is the largest/smallest 64-bit step
_LOWEST, _HIGHEST = -(2**63), 2**63 - 1


class HistoryMethods:
    """get_metric_history and get_metric_history_bulk_interval for SqlStore."""

    def _check_run(self, conn, run_id: str) -> None:
        if conn.execute(_q_run_exists, {"r": run_id}).first() is None:
            raise ResourceDoesNotExist(f"Run with id={run_id} not found")

    def get_metric_history(self, run_id: str, key: str) -> MetricHistory:
        """Every logged value of ``key``, ordered by (step, timestamp), as a sequence of Metric."""
        with self._read() as conn:
            self._check_run(conn, run_id)
            # the driver's own tuples, fetched at once: no SQLAlchemy Row and no Metric per point (a million
            # points: most of the time went there)
            rows = conn.execute(_q_plain_history, {"r": run_id, "k": key}).cursor.fetchall()
            if None in map(_value, rows):  # NaN / +-inf are rare: decode only the rows that hold one
                rows = conn.execute(_q_history, {"r": run_id, "k": key}).cursor.fetchall()
                decode = _rows.decode_value
                rows = [(decode(v, sp), ts, step) if sp else (v, ts, step) for v, ts, step, sp in rows]
        return MetricHistory(key, rows)

    def get_metric_history_bulk_interval(
        self,
        run_ids: list[str],
        metric_key: str,
        max_results: int,
        start_step: int | None = None,
        end_step: int | None = None,
    ) -> list[MetricWithRunId]:
        """At most ``max_results`` points per run keeping each step bucket's min and max (the rules of
        :mod:`tracklet.tracking.stores.downsample`); the buckets come from the metric_buckets summaries, so
        the cost grows with the number of buckets, not of points."""
        run_ids, max_results, start, end = validate_bulk_interval(run_ids, max_results, start_step, end_step)
        bind = {"k": metric_key, "lo": _LOWEST if start is None else start, "hi": _HIGHEST if end is None else end}
        out = []
        with self._read() as conn:
            for run_id in run_ids:
                self._check_run(conn, run_id)
                points = self._downsampled(conn, {**bind, "r": run_id}, max_results)
                out += [MetricWithRunId(metric_key, p[0], p[2], p[1], run_id) for p in points]
        return out

    def _downsampled(self, conn, bind: dict, max_results: int) -> list[tuple]:
        """Points (value, step, timestamp, stored value, special) of one run, sorted by step and timestamp."""
        if conn.execute(_q_count, {**bind, "n": max_results + 1}).scalar() <= max_results:
            return _points(conn, bind)
        low, high = conn.execute(_q_low, bind).scalar(), conn.execute(_q_high, bind).scalar()
        width = downsample.bucket_width(low, high, max_results)
        # buckets of the summary table lying wholly inside [low, high]; the partial ones at both ends are
        # computed from their points, which the step range may cut
        first, last = -(-low // BUCKET_STEPS), (high + 1) // BUCKET_STEPS - 1
        if width < BUCKET_STEPS or first > last:
            return downsample.flatten(downsample.extremes(_points(conn, bind), width))
        pairs = _merged_summaries(conn.execute(_q_summaries, {**bind, "first": first, "last": last}).cursor, width)
        edges = _points(conn, {**bind, "hi": first * BUCKET_STEPS - 1})
        edges += _points(conn, {**bind, "lo": (last + 1) * BUCKET_STEPS})
        downsample.merge(pairs, downsample.extremes(edges, width), width)
        return downsample.flatten(pairs)


def _merged_summaries(cursor, width: int) -> dict[int, list]:
    """``{bucket: [min point, max point]}`` of buckets of ``width`` steps (a multiple of BUCKET_STEPS) from the
    summary rows on ``cursor``: the rules of :func:`downsample.merge`, inlined (16,000 rows per million
    points; the driver's tuples, no SQLAlchemy Row)."""
    decode = _rows.decode_value
    pairs: dict[int, list] = {}
    for v1, s1, st1, ts1, v2, s2, st2, ts2 in cursor.fetchall():
        low = (decode(v1, s1) if s1 else v1, st1, ts1, v1, s1)
        high = (decode(v2, s2) if s2 else v2, st2, ts2, v2, s2)
        bucket = st1 // width  # a summary's points all lie in one bucket: width is a multiple of its steps
        pair = pairs.get(bucket)
        if pair is None:
            pairs[bucket] = [low, high]
            continue
        mine = pair[0]
        if low[0] < mine[0] or (low[0] == mine[0] and (st1, ts1) < (mine[1], mine[2])):
            pair[0] = low
        mine = pair[1]
        if high[0] > mine[0] or (high[0] == mine[0] and (st2, ts2) < (mine[1], mine[2])):
            pair[1] = high
    return pairs


def _points(conn, bind: dict) -> list[tuple]:
    decode = _rows.decode_value
    return [
        (decode(v, special) if special else v, step, ts, v, special)
        for v, special, ts, step in conn.execute(_q_points, bind)
    ]
