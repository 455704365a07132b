"""Downsampling a metric history to at most N points per run, keeping every bucket's min and max.

One definition every store shares (the SQL store reads per-bucket summaries, the others compute them
from the full history; both give the same points):

* the steps are cut into buckets ``step // width`` aligned at multiples of ``width``, the smallest power of
  two that makes at most ``max_results // 2`` buckets over the run's steps in range (``max_results`` >= 4);
* each bucket keeps its smallest and its largest value, each the earliest such point by (step, timestamp);
  NaN is never a bucket's min or max (a bucket of NaN only keeps nothing);
* a run with at most ``max_results`` points in range keeps them all.
"""

from __future__ import annotations

import math

MAX_RUN_IDS = 100
MAX_POINTS = 25_000


MIN_POINTS = 4  # a range across step 0 has at least two buckets (their edges are multiples of the width)


def bucket_width(low_step: int, high_step: int, max_results: int) -> int:
    """The smallest power of two ``w`` with ``high_step // w - low_step // w + 1 <= max(2, max_results // 2)``."""
    buckets = max(2, max_results // 2)
    width = 1
    while high_step // width - low_step // width + 1 > buckets:
        width *= 2
    return width


def better_min(candidate: tuple, current: tuple | None) -> bool:
    """Points are (value, step, timestamp, ...): smaller value wins, then the earlier point."""
    return current is None or candidate[:3] < current[:3]


def better_max(candidate: tuple, current: tuple | None) -> bool:
    """Larger value wins, then the earlier point."""
    return current is None or (-candidate[0], candidate[1], candidate[2]) < (-current[0], current[1], current[2])


def extremes(points, width: int) -> dict[int, list]:
    """``{bucket: [min point, max point]}`` for points (value, step, timestamp, ...) in any order."""
    out: dict[int, list] = {}
    for p in points:
        if math.isnan(p[0]):
            continue
        pair = out.get(p[1] // width)
        if pair is None:
            out[p[1] // width] = [p, p]
            continue
        if better_min(p, pair[0]):
            pair[0] = p
        if better_max(p, pair[1]):
            pair[1] = p
    return out


def merge(into: dict[int, list], pairs: dict[int, list], width: int) -> None:
    """Fold finer buckets ``pairs`` (keyed by their own index) into ``into`` (buckets of ``width`` steps)."""
    for pair in pairs.values():
        bucket = pair[0][1] // width
        mine = into.get(bucket)
        if mine is None:
            into[bucket] = list(pair)
            continue
        if better_min(pair[0], mine[0]):
            mine[0] = pair[0]
        if better_max(pair[1], mine[1]):
            mine[1] = pair[1]


def flatten(pairs: dict[int, list]) -> list:
    """The kept points, once each, ordered by (step, timestamp)."""
    kept = {}
    for low, high in pairs.values():
        kept[low[1:3] + (low[0],)] = low
        kept[high[1:3] + (high[0],)] = high
    return [kept[k] for k in sorted(kept, key=lambda k: (k[0], k[1]))]


def downsample(points: list, max_results: int) -> list:
    """At most ``max_results`` of ``points`` (value, step, timestamp, ...) sorted by (step, timestamp)."""
    if len(points) <= max_results:
        return points
    steps = [p[1] for p in points]
    width = bucket_width(min(steps), max(steps), max_results)
    return flatten(extremes(points, width))
