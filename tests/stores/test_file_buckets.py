"""The file store's downsampled histories from the bucket-summary sidecar: the same points as the generic
definition (whole history, then downsample), whatever the step order, range or later appends."""

from __future__ import annotations

import math
import os
import random

import pytest

from tracklet.tracking.entities import Metric
from tracklet.tracking.stores import file_buckets
from tracklet.tracking.stores.base import Store
from tracklet.tracking.stores.file import FileStore

T0 = 1_700_000_000_000
RANGES = [(None, None), (0, 10_000), (37, 5_000), (100, 130), (-5, 63), (64, 64), (2_000, 2**40)]


def _store(tmp_path):
    return FileStore(str(tmp_path / "mlruns"), (tmp_path / "artifacts").as_uri())


def _log(store, rid, rng, n, ordered):
    steps = list(range(n)) if ordered else [rng.randrange(0, 6_000) for _ in range(n)]
    values = [math.nan, math.inf, -math.inf, 0.5, 0.5, 2.0]
    points = [
        Metric("m", rng.choice(values) if rng.random() < 0.05 else rng.random(), T0 + rng.randrange(3), s)
        for s in steps
    ]
    for i in range(0, len(points), 1000):
        store.log_batch(rid, points[i : i + 1000], [], [])


def _both(store, rid, max_results, start, end):
    fast = store.get_metric_history_bulk_interval([rid], "m", max_results, start, end)
    generic = Store.get_metric_history_bulk_interval(store, [rid], "m", max_results, start, end)
    return fast, generic


def _same(fast, generic):
    assert [(m.step, m.timestamp) for m in fast] == [(m.step, m.timestamp) for m in generic]
    assert [m.value for m in fast] == pytest.approx([m.value for m in generic], nan_ok=True)


@pytest.mark.parametrize("ordered", [True, False])
@pytest.mark.parametrize("seed", [1, 2])
def test_sidecar_answers_as_the_generic_definition(tmp_path, ordered, seed):
    rng = random.Random(seed)
    store = _store(tmp_path)
    rid = store.create_run("0", "u", T0, [], "r").info.run_id
    _log(store, rid, rng, 4_000, ordered)
    for _ in range(2):  # the second round reads the sidecar the first wrote, after more appends
        for start, end in RANGES:
            for max_results in (4, 101, 25_000):
                _same(*_both(store, rid, max_results, start, end))
        _log(store, rid, rng, 1_500, ordered)
    assert os.path.exists(file_buckets.sidecar_path(store._writer.metric_file(rid, "m")[0], "m"))


@pytest.mark.filterwarnings("ignore::tracklet.tracking.stores.file_layout.StoreCorruptionWarning")
def test_a_stale_or_damaged_sidecar_is_rebuilt(tmp_path):
    rng = random.Random(5)
    store = _store(tmp_path)
    rid = store.create_run("0", "u", T0, [], "r").info.run_id
    _log(store, rid, rng, 3_000, True)
    run_dir, path = store._writer.metric_file(rid, "m")
    store.get_metric_history_bulk_interval([rid], "m", 100)
    side = file_buckets.sidecar_path(run_dir, "m")
    # the metric file cut back and written again with other points (a rolled-back batch, then another)
    with open(path, "r+b") as f:
        f.truncate(os.path.getsize(path) // 2)
    _log(store, rid, rng, 3_000, True)
    _same(*_both(store, rid, 100, None, None))
    with open(side, "wb") as f:
        f.write(b"garbage")
    _same(*_both(store, rid, 100, 10, 2_000))
    os.remove(side)
    _same(*_both(store, rid, 7, None, None))


def test_missing_metric_and_key_outside_the_store(tmp_path):
    store = _store(tmp_path)
    rid = store.create_run("0", "u", T0, [], "r").info.run_id
    assert store.get_metric_history_bulk_interval([rid], "never", 10) == []
    assert store.get_metric_history_bulk_interval([rid], "../meta.yaml", 10) == []
    assert not os.path.exists(tmp_path / "mlruns" / "0" / rid / file_buckets.FOLDER)
