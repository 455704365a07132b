"""The SQL store's paths for large experiments and long histories: a search sorted by a metric read in
segments along the metric's index, the columnar metric history."""

from __future__ import annotations

import json
import math
import os
import random

import pytest

from tests.stores.conftest import POSTGRES_ENV, make_store
from tracklet.tracking.entities import Metric, MetricHistory, Param, RunTag, ViewType
from tracklet.tracking.stores.sql import store as store_module
from tracklet.tracking.stores.sql.compile import metric_segments

T0 = 1_700_000_000_000
VALUES = [0.5, 0.25, math.nan, 0.75, math.inf, -math.inf, 0.5, 0.0, 1.0]


def _populate(store, eid: str, runs: int, seed: int = 3) -> None:
    rng = random.Random(seed)
    for n in range(runs):
        # equal start times and equal values, so the tie-breakers matter too
        rid = store.create_run(eid, "u", T0 + n // 3, [], f"r{n}").info.run_id
        metrics = [Metric("m", VALUES[n % len(VALUES)], T0, 0)] if n % 7 else []
        metrics.append(Metric("f", rng.random(), T0, 0))
        store.log_batch(rid, metrics, [Param("p", "ab"[n % 2])], [RunTag("t", str(n % 3))])


def _pages(store, eid, filter_string, order_by, size):
    out, pages, token = [], 0, None
    while True:
        page = store.search_runs([eid], filter_string, ViewType.ACTIVE_ONLY, size, order_by, token)
        out += [r.info.run_id for r in page]
        pages += 1
        token = page.token
        if token is None:
            return out, pages


def _force_walk(monkeypatch, walk: bool) -> None:
    def walks(self, conn, ids, comparisons, orders, max_results, offset, after):
        return walk and len(ids) == 1 and metric_segments(orders) is not None and (after is not None or not offset)

    monkeypatch.setattr(store_module.SqlStore, "_walks", walks)


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
@pytest.mark.parametrize("order_by", [["metrics.m DESC"], ["metrics.m"], ["metrics.m DESC", "params.p"]])
@pytest.mark.parametrize("filter_string", [None, "params.p = 'a'", "metrics.f > 0.3 and tags.t != '1'"])
def test_segmented_search_pages_equal_the_single_statement(kind, order_by, filter_string, tmp_path, monkeypatch):
    """Reading a metric-sorted search in segments (NaN, numbers, runs without the metric) along the metric's
    index gives the same runs in the same order, page after page, as the one-statement plan."""
    store = make_store(kind, tmp_path)
    eid = store.create_experiment("segments")
    _populate(store, eid, 60)
    expected = {}
    for walk in (False, True):
        _force_walk(monkeypatch, walk)
        for size in (5, 100):
            expected.setdefault(size, _pages(store, eid, filter_string, order_by, size))
            assert _pages(store, eid, filter_string, order_by, size) == expected[size], (walk, size)
    whole, pages = expected[100]
    assert pages == 1 and len(whole) == len(set(whole)) > 0
    store.close()


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_segmented_pages_stay_right_while_runs_are_added(kind, tmp_path, monkeypatch):
    """Keyset tokens of the segmented plan: runs added between pages (sorting before, among and after the
    runs served, with and without the metric) neither repeat nor skip a run that existed throughout."""
    _force_walk(monkeypatch, True)
    store = make_store(kind, tmp_path)
    eid = store.create_experiment("paging")
    _populate(store, eid, 40)
    original = set(_pages(store, eid, None, ["metrics.m DESC"], 100)[0])
    seen, token, n = [], None, 0
    while True:
        page = store.search_runs([eid], None, ViewType.ACTIVE_ONLY, 5, ["metrics.m DESC"], token)
        seen += [r.info.run_id for r in page]
        for _ in range(3):
            rid = store.create_run(eid, "u", T0 + n, [], f"new{n}").info.run_id
            store.log_batch(rid, [Metric("m", VALUES[n % len(VALUES)], T0, 0)] if n % 4 else [], [], [])
            n += 1
        token = page.token
        if token is None:
            break
    assert len(seen) == len(set(seen))
    assert original <= set(seen)
    store.close()


def test_walk_is_chosen_only_when_no_filter_is_selective(tmp_path, monkeypatch):
    """The segmented plan pays when every metric/param filter passes many runs; a selective filter drives."""
    monkeypatch.setattr(store_module, "_WALK_CAP", 20)
    store = make_store("sqlite", tmp_path)
    eid = store.create_experiment("probe")
    _populate(store, eid, 90)
    comparisons = {
        "params.p = 'a'": True,  # 45 runs
        "metrics.f >= 0": True,
        "params.p = 'a' and metrics.f > 2": False,  # nothing passes the metric filter
        "params.p = 'zz'": False,
    }
    from tracklet.tracking import search

    with store._read() as conn:
        for filter_string, walks in comparisons.items():
            comps = search.parse_filter(filter_string)
            orders = search.parse_order_by(["metrics.m DESC"])
            assert store._walks(conn, [int(eid)], comps, orders, 1, 0, None) is walks, filter_string
        assert not store._walks(conn, [int(eid)], (), search.parse_order_by(["params.p"]), 1, 0, None)
    store.close()


@pytest.mark.parametrize("kind", ["sqlite", "postgres", "file"])
def test_metric_history_is_a_sequence_of_metrics(kind, tmp_path):
    """get_metric_history: Metrics in (step, timestamp) order, NaN and infinities decoded, slices, equality
    with the list of the same Metrics, and the columns without building any Metric."""
    store = make_store(kind, tmp_path)
    rid = store.create_run("0", "u", T0, [], "h").info.run_id
    points = [Metric("m", v, T0 + i, 10 - i) for i, v in enumerate([1.0, math.nan, math.inf, -math.inf, 2.5])]
    store.log_batch(rid, points, [], [])
    history = store.get_metric_history(rid, "m")
    assert isinstance(history, MetricHistory) and len(history) == 5
    ordered = sorted(points, key=lambda m: m.step)
    assert [(m.step, m.timestamp) for m in history] == [(m.step, m.timestamp) for m in ordered]
    values = [m.value for m in history]
    assert values[0] == 2.5 and values[1] == -math.inf and values[2] == math.inf and math.isnan(values[3])
    assert history[4] == Metric("m", 1.0, T0, 10) and history[-1] == history[4]
    assert history[:2] == ordered[:2] and list(history[3:]) == [history[3], history[4]]
    assert history.columns()[2] == [6, 7, 8, 9, 10]
    assert store.get_metric_history(rid, "missing") == [] and not store.get_metric_history(rid, "missing")
    store.close()


@pytest.mark.parametrize("kind", ["sqlite", "postgres", "file"])
def test_metric_history_in_step_order_is_the_same_sequence(kind, tmp_path):
    """A history logged in step order (the file store then keeps it as columns): the same sequence API."""
    store = make_store(kind, tmp_path)
    rid = store.create_run("0", "u", T0, [], "h").info.run_id
    points = [Metric("m", v, T0 + i, i) for i, v in enumerate([1.0, math.nan, math.inf, -math.inf, 2.5, -1.5])]
    store.log_batch(rid, points, [], [])
    history = store.get_metric_history(rid, "m")
    assert len(history) == 6 and history[0] == points[0] and history[-1] == points[5] and history[-2] == points[4]
    assert [(m.key, m.step, m.timestamp) for m in history] == [(m.key, m.step, m.timestamp) for m in points]
    assert repr([m.value for m in history]) == "[1.0, nan, inf, -inf, 2.5, -1.5]"
    assert history[4:] == points[4:] and history[::2][1].step == 2 and len(history[10:]) == 0
    values, timestamps, steps = history.columns()
    assert steps == [0, 1, 2, 3, 4, 5] and timestamps == [T0 + i for i in range(6)] and values[0] == 1.0
    steps.append(99)  # the columns are the caller's own copies
    assert history.columns()[2] == [0, 1, 2, 3, 4, 5]
    with pytest.raises(IndexError):
        history[6]
    store.close()


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_upgrade_from_v4_keeps_searches_right(kind, tmp_path, monkeypatch):
    """A version 4 database upgrades to the latest schema in place (PostgreSQL gains the md5(value) param
    index), and param filters find the same runs before and after."""
    import sqlalchemy as sa

    from tracklet.tracking.stores.sql import SqlStore, logged_models, schema
    from tracklet.tracking.stores.sql._engine import resolve_url

    if kind == "postgres":
        uri = os.environ.get(POSTGRES_ENV) or pytest.skip(f"{POSTGRES_ENV} is not set")
        pytest.importorskip("psycopg2")
        engine = sa.create_engine(resolve_url(uri))
        with engine.begin() as conn:  # from scratch: the v4 tables, not today's
            logged_models.metadata.drop_all(conn)
            schema.metadata.drop_all(conn)
        engine.dispose()
    else:
        uri = f"sqlite:///{tmp_path / 'v4.db'}"
    with monkeypatch.context() as patch:
        patch.setattr(schema, "MIGRATIONS", schema.MIGRATIONS[:4])
        store = SqlStore(uri, (tmp_path / "art").as_uri())  # today's code on a version 4 database
    eid = store.create_experiment("upgrade")
    _populate(store, eid, 30)
    query = ("params.p = 'a' and metrics.f >= 0", ["metrics.m DESC"])
    before = [r.info.run_id for r in store.search_runs([eid], query[0], ViewType.ALL, 100, query[1], None)]
    store.close()
    store = SqlStore(uri, (tmp_path / "art").as_uri())
    with store._engine.connect() as conn:
        assert schema.current_version(conn) == schema.LATEST_VERSION == 6
        indexes = {ix["name"] for ix in sa.inspect(conn).get_indexes("params")}
        assert (schema.PARAM_VALUE_HASH_INDEX in indexes) == (kind == "postgres")
    after = [r.info.run_id for r in store.search_runs([eid], query[0], ViewType.ALL, 100, query[1], None)]
    assert after == before and len(after) == 15
    assert len(store.search_runs([eid], "params.p IN ('b', 'zz')", ViewType.ALL, 100, None, None)) == 15
    store.close()


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_search_as_json_equals_the_entities_on_the_wire(kind, tmp_path):
    """The server's search answer, built from the rows without entities, is what the entities give through
    wire.run_to_json: NaN/inf metrics, ended and running runs, dataset inputs, pages, both sort paths."""
    from tracklet.tracking import wire
    from tracklet.tracking.entities import Dataset, DatasetInput

    store = make_store(kind, tmp_path)
    eid = store.create_experiment("json")
    _populate(store, eid, 40)
    runs = store.search_runs([eid], None, ViewType.ALL, 100, None, None)
    store.update_run_info(runs[0].info.run_id, "FINISHED", T0 + 5, "renamed")
    ds = Dataset(name="d", digest="abc", source_type="local", source='{"uri": "x"}', schema="{}", profile=None)
    store.log_inputs(runs[1].info.run_id, [DatasetInput(ds, (RunTag("mlflow.data.context", "train"),))])
    store.delete_run(runs[2].info.run_id)
    many_keys = [f"metrics.f{i}" for i in range(40)] + ["metrics.m DESC"]  # sorted in Python, not SQL
    for filter_string, order_by in [(None, None), ("metrics.f > 0.3", ["metrics.m DESC"]), (None, many_keys)]:
        for view in (ViewType.ACTIVE_ONLY, ViewType.ALL):
            token = None
            while True:
                page = store.search_runs([eid], filter_string, view, 7, order_by, token)
                found, json_token = store.search_runs_json([eid], filter_string, view, 7, order_by, token)
                assert json_token == page.token
                assert json.dumps(found) == json.dumps([wire.run_to_json(r) for r in page])  # order of keys too
                token = page.token
                if token is None:
                    break
    store.close()
