"""The Store contract (tracklet/tracking/stores/base.py), checked on every store by the ``store`` fixture."""

from __future__ import annotations

import json
import math
import threading
import time

import pytest

from tracklet.exceptions import (
    InvalidParameterValue,
    InvalidState,
    ResourceAlreadyExists,
    ResourceDoesNotExist,
)
from tracklet.tracking.entities import Metric, Param, RunStatus, RunTag, ViewType

T0 = 1_700_000_000_000


def new_run(store, experiment_id="0", name=None, start_time=T0, tags=()):
    return store.create_run(experiment_id, "tester", start_time, list(tags), name)


def names(runs) -> list[str]:
    return [r.info.run_name for r in runs]


# ============================================================================ experiments


def test_default_experiment_exists(store):
    exp = store.get_experiment("0")
    assert exp.experiment_id == "0"
    assert exp.name == "Default"
    assert exp.lifecycle_stage == "active"
    assert exp.artifact_location.rstrip("/").endswith("0")
    assert store.get_experiment_by_name("Default").experiment_id == "0"


def test_create_and_get_experiment(store):
    eid = store.create_experiment("exp-a", tags=[RunTag("team", "vision")])
    assert isinstance(eid, str) and eid != "0"
    exp = store.get_experiment(eid)
    assert exp.name == "exp-a"
    assert exp.tags == {"team": "vision"}
    assert exp.lifecycle_stage == "active"
    assert isinstance(exp.creation_time, int) and exp.creation_time > 0
    assert eid in exp.artifact_location
    assert store.get_experiment_by_name("exp-a").experiment_id == eid


def test_create_experiment_with_artifact_location(store, tmp_path):
    location = (tmp_path / "elsewhere").as_uri()
    eid = store.create_experiment("exp-loc", artifact_location=location)
    assert store.get_experiment(eid).artifact_location == location
    run = new_run(store, eid)
    assert run.info.artifact_uri == f"{location}/{run.info.run_id}/artifacts"


def test_duplicate_experiment_name_raises_even_when_deleted(store):
    eid = store.create_experiment("dup")
    with pytest.raises(ResourceAlreadyExists):
        store.create_experiment("dup")
    store.delete_experiment(eid)
    with pytest.raises(ResourceAlreadyExists) as err:
        store.create_experiment("dup")
    assert err.value.error_code == "RESOURCE_ALREADY_EXISTS"


@pytest.mark.parametrize("name", ["", "   ", None, "x" * 501])
def test_invalid_experiment_name_raises(store, name):
    with pytest.raises(InvalidParameterValue):
        store.create_experiment(name)


def test_unknown_experiment(store):
    with pytest.raises(ResourceDoesNotExist) as err:
        store.get_experiment("987654")
    assert err.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert store.get_experiment_by_name("no such experiment") is None
    with pytest.raises(ResourceDoesNotExist):
        store.create_run("987654", "u", T0, [], "r")


def test_rename_experiment(store):
    eid = store.create_experiment("old-name")
    store.create_experiment("taken")
    store.rename_experiment(eid, "new-name")
    assert store.get_experiment(eid).name == "new-name"
    assert store.get_experiment_by_name("old-name") is None
    with pytest.raises(ResourceAlreadyExists):
        store.rename_experiment(eid, "taken")
    with pytest.raises(ResourceDoesNotExist):
        store.rename_experiment("987654", "whatever")


def test_experiment_tags_set_overwrite_delete(store):
    eid = store.create_experiment("tagged")
    store.set_experiment_tag(eid, RunTag("k", "v1"))
    store.set_experiment_tag(eid, RunTag("k", "v2"))
    store.set_experiment_tag(eid, RunTag("other", "x"))
    assert store.get_experiment(eid).tags == {"k": "v2", "other": "x"}
    store.delete_experiment_tag(eid, "k")
    assert store.get_experiment(eid).tags == {"other": "x"}
    with pytest.raises(ResourceDoesNotExist):
        store.delete_experiment_tag(eid, "k")
    with pytest.raises(InvalidParameterValue):
        store.set_experiment_tag(eid, RunTag("bad//key", "v"))


def test_default_experiment_cannot_be_deleted(store):
    with pytest.raises(InvalidParameterValue):
        store.delete_experiment("0")
    assert store.get_experiment("0").lifecycle_stage == "active"


def test_delete_and_restore_experiment_cascades_to_runs(store):
    eid = store.create_experiment("to-delete")
    kept = new_run(store, eid, "kept")
    deleted_before = new_run(store, eid, "deleted-before")
    store.delete_run(deleted_before.info.run_id)
    time.sleep(0.01)  # a later millisecond than the run's own deletion

    store.delete_experiment(eid)
    assert store.get_experiment(eid).lifecycle_stage == "deleted"
    assert store.get_run(kept.info.run_id).info.lifecycle_stage == "deleted"
    with pytest.raises(InvalidState):
        new_run(store, eid, "too-late")
    active = store.search_experiments(view_type=ViewType.ACTIVE_ONLY)
    deleted = store.search_experiments(view_type=ViewType.DELETED_ONLY)
    every = store.search_experiments(view_type=ViewType.ALL)
    assert eid not in [e.experiment_id for e in active]
    assert [e.experiment_id for e in deleted] == [eid]
    assert {eid, "0"} <= {e.experiment_id for e in every}

    store.restore_experiment(eid)
    assert store.get_experiment(eid).lifecycle_stage == "active"
    assert store.get_run(kept.info.run_id).info.lifecycle_stage == "active"
    # a run deleted before the experiment was deleted stays deleted
    assert store.get_run(deleted_before.info.run_id).info.lifecycle_stage == "deleted"


def test_search_experiments_filter_order_and_paging(store):
    for name, team in [("proj-b", "x"), ("proj-a", "y"), ("other", "x"), ("Proj-c", "x")]:
        store.create_experiment(name, tags=[RunTag("team", team)])
    found = store.search_experiments(filter_string="name LIKE 'proj-%'", order_by=["name ASC"])
    assert [e.name for e in found] == ["proj-a", "proj-b"]
    found = store.search_experiments(filter_string="name ILIKE 'proj-%'", order_by=["name DESC"])
    assert [e.name for e in found] == ["proj-b", "proj-a", "Proj-c"]
    found = store.search_experiments(filter_string="tags.team = 'x'", order_by=["name"])
    assert [e.name for e in found] == ["Proj-c", "other", "proj-b"]
    assert all(e.tags["team"] == "x" for e in found)
    found = store.search_experiments(filter_string="creation_time > 0 and name != 'Default'")
    assert len(found) == 4

    seen, token = [], None
    for _ in range(4):
        page = store.search_experiments(max_results=2, order_by=["name"], page_token=token)
        seen += [e.name for e in page]
        token = page.token
        if token is None:
            break
    assert seen == sorted(["Default", "proj-b", "proj-a", "other", "Proj-c"])
    with pytest.raises(InvalidParameterValue):
        store.search_experiments(max_results=0)


# ============================================================================ runs


def test_create_run_fields(store):
    eid = store.create_experiment("runs")
    run = store.create_run(eid, "alice", T0, [RunTag("k", "v")], "my-run")
    info = run.info
    assert len(info.run_id) == 32 and int(info.run_id, 16) >= 0
    assert info.experiment_id == eid
    assert info.user_id == "alice"
    assert info.status == RunStatus.RUNNING
    assert info.start_time == T0 and info.end_time is None
    assert info.lifecycle_stage == "active"
    assert info.run_name == "my-run"
    exp = store.get_experiment(eid)
    assert info.artifact_uri == f"{exp.artifact_location}/{info.run_id}/artifacts"
    assert run.data.tags == {"k": "v", "mlflow.runName": "my-run"}
    fetched = store.get_run(info.run_id)
    assert fetched.info == info
    assert fetched.data.tags == {"k": "v", "mlflow.runName": "my-run"}
    assert fetched.data.metrics == {} and fetched.data.params == {}


def test_create_run_name_from_tag_and_conflict(store):
    run = new_run(store, name=None, tags=[RunTag("mlflow.runName", "from-tag")])
    assert run.info.run_name == "from-tag"
    assert store.get_run(run.info.run_id).info.run_name == "from-tag"
    same = new_run(store, name="same", tags=[RunTag("mlflow.runName", "same")])
    assert same.info.run_name == "same"
    with pytest.raises(InvalidParameterValue):
        new_run(store, name="one", tags=[RunTag("mlflow.runName", "other")])


def test_unknown_run_raises(store):
    missing = "f" * 32
    with pytest.raises(ResourceDoesNotExist):
        store.get_run(missing)
    with pytest.raises(ResourceDoesNotExist):
        store.log_metric(missing, Metric("m", 1.0, T0, 0))
    with pytest.raises(ResourceDoesNotExist):
        store.log_batch(missing, [], [Param("p", "1")], [])
    with pytest.raises(ResourceDoesNotExist):
        store.get_metric_history(missing, "m")
    with pytest.raises(ResourceDoesNotExist):
        store.update_run_info(missing, "FINISHED", T0, None)
    with pytest.raises(ResourceDoesNotExist):
        store.delete_run(missing)


def test_update_run_info(store):
    run = new_run(store, name="before")
    rid = run.info.run_id
    info = store.update_run_info(rid, RunStatus.FINISHED, T0 + 5, None)
    assert (info.status, info.end_time, info.run_name) == ("FINISHED", T0 + 5, "before")
    info = store.update_run_info(rid, None, None, "after")
    assert (info.status, info.end_time, info.run_name) == ("FINISHED", T0 + 5, "after")
    fetched = store.get_run(rid)
    assert fetched.info.run_name == "after"
    assert fetched.data.tags["mlflow.runName"] == "after"
    with pytest.raises(InvalidParameterValue):
        store.update_run_info(rid, "NOT_A_STATUS", None, None)


def test_set_run_name_tag_renames_run(store):
    run = new_run(store, name="first")
    store.set_tag(run.info.run_id, RunTag("mlflow.runName", "second"))
    fetched = store.get_run(run.info.run_id)
    assert fetched.info.run_name == "second"
    assert fetched.data.tags["mlflow.runName"] == "second"


def test_delete_and_restore_run(store):
    run = new_run(store, name="r")
    rid = run.info.run_id
    store.delete_run(rid)
    assert store.get_run(rid).info.lifecycle_stage == "deleted"
    for write in (
        lambda: store.log_metric(rid, Metric("m", 1.0, T0, 0)),
        lambda: store.log_param(rid, Param("p", "1")),
        lambda: store.set_tag(rid, RunTag("t", "1")),
        lambda: store.log_batch(rid, [Metric("m", 1.0, T0, 0)], [], []),
    ):
        with pytest.raises(InvalidState) as err:
            write()
        assert err.value.error_code == "INVALID_STATE"
    assert store.search_runs(["0"], None, ViewType.ACTIVE_ONLY, 10, None, None) == []
    assert names(store.search_runs(["0"], None, ViewType.DELETED_ONLY, 10, None, None)) == ["r"]
    store.restore_run(rid)
    assert store.get_run(rid).info.lifecycle_stage == "active"
    store.log_metric(rid, Metric("m", 1.0, T0, 0))
    assert store.get_run(rid).data.metrics == {"m": 1.0}


def test_hard_delete_run(store):
    run = new_run(store, name="gone")
    rid = run.info.run_id
    store.log_batch(rid, [Metric("m", 1.0, T0, 0)], [Param("p", "1")], [RunTag("t", "v")])
    store.delete_run(rid)
    store.hard_delete_run(rid)
    with pytest.raises(ResourceDoesNotExist):
        store.get_run(rid)
    assert store.search_runs(["0"], None, ViewType.ALL, 10, None, None) == []


# ============================================================================ log_batch, params, metrics


def test_log_batch_roundtrip(store):
    rid = new_run(store).info.run_id
    store.log_batch(
        rid,
        [Metric("acc", 0.5, T0, 0), Metric("acc", 0.7, T0 + 1, 1), Metric("loss", 2, T0, 0)],
        [Param("lr", "0.01"), Param("layers", 3)],
        [RunTag("stage", "dev"), RunTag("stage", "prod")],
    )
    data = store.get_run(rid).data
    assert data.metrics == {"acc": 0.7, "loss": 2.0}
    assert data.params == {"lr": "0.01", "layers": "3"}
    assert data.tags["stage"] == "prod"
    assert {m.key: (m.value, m.step) for m in data.metric_objs} == {"acc": (0.7, 1), "loss": (2.0, 0)}


def test_log_batch_with_invalid_entity_writes_nothing(store):
    rid = new_run(store).info.run_id
    with pytest.raises(InvalidParameterValue):
        store.log_batch(
            rid,
            [Metric("good", 1.0, T0, 0), Metric("bad", "not a number", T0, 0)],
            [Param("p", "1")],
            [RunTag("t", "v")],
        )
    data = store.get_run(rid).data
    assert data.metrics == {} and data.params == {}
    assert "t" not in data.tags
    assert store.get_metric_history(rid, "good") == []


def test_log_batch_param_conflict_writes_nothing(store):
    rid = new_run(store).info.run_id
    store.log_param(rid, Param("p", "1"))
    with pytest.raises(InvalidParameterValue):
        store.log_batch(rid, [Metric("m", 1.0, T0, 0)], [Param("q", "new"), Param("p", "2")], [RunTag("t", "v")])
    data = store.get_run(rid).data
    assert data.params == {"p": "1"}
    assert data.metrics == {} and "t" not in data.tags


def test_param_relog(store):
    rid = new_run(store).info.run_id
    store.log_param(rid, Param("alpha", "0.5"))
    store.log_param(rid, Param("alpha", "0.5"))  # same value: fine
    with pytest.raises(InvalidParameterValue) as err:
        store.log_param(rid, Param("alpha", "0.7"))
    message = str(err.value)
    assert "Changing param values is not allowed" in message
    assert "alpha" in message and "0.5" in message and "0.7" in message
    assert store.get_run(rid).data.params == {"alpha": "0.5"}


def test_log_batch_limits(store):
    rid = new_run(store).info.run_id
    store.log_batch(rid, [Metric("m", float(i), T0, i) for i in range(1000)], [], [])
    assert len(store.get_metric_history(rid, "m")) == 1000
    with pytest.raises(InvalidParameterValue):
        store.log_batch(rid, [Metric("m", 1.0, T0, i) for i in range(1001)], [], [])
    with pytest.raises(InvalidParameterValue):
        store.log_batch(rid, [], [Param(f"p{i}", "v") for i in range(101)], [])
    with pytest.raises(InvalidParameterValue):
        store.log_batch(rid, [], [], [RunTag(f"t{i}", "v") for i in range(101)])
    with pytest.raises(InvalidParameterValue):
        store.log_batch(rid, [], [Param("d", "1"), Param("d", "2")], [])
    assert len(store.get_metric_history(rid, "m")) == 1000


@pytest.mark.parametrize(
    "entity, ok",
    [
        (Param("p", "x" * 6000), True),
        (Param("p", "x" * 6001), False),
        (Param("k" * 250, "v"), True),
        (Param("k" * 251, "v"), False),
        (RunTag("t", "x" * 8000), True),
        (RunTag("t", "x" * 8001), False),
        (RunTag("a/../b", "v"), False),
        (Metric("m", 1.0, -1, 0), False),
        (Metric("m", True, T0, 0), False),
        (Metric("m", None, T0, 0), False),
    ],
)
def test_value_limits(store, entity, ok):
    rid = new_run(store).info.run_id
    args = {Metric: ([entity], [], []), Param: ([], [entity], []), RunTag: ([], [], [entity])}[type(entity)]
    if ok:
        store.log_batch(rid, *args)
    else:
        with pytest.raises(InvalidParameterValue):
            store.log_batch(rid, *args)


def test_latest_metric_is_max_by_step_timestamp_value(store):
    rid = new_run(store).info.run_id
    store.log_batch(rid, [Metric("a", 5.0, T0 + 9, 2), Metric("a", 1.0, T0, 3), Metric("a", 9.0, T0 + 99, 1)], [], [])
    store.log_metric(rid, Metric("b", 1.0, T0 + 1, 0))
    store.log_metric(rid, Metric("b", 2.0, T0, 0))  # older timestamp, same step: not the latest
    store.log_metric(rid, Metric("c", 3.0, T0, 0))
    store.log_metric(rid, Metric("c", 4.0, T0, 0))  # same step and timestamp: max value wins
    store.log_metric(rid, Metric("c", 2.0, T0, 0))
    data = store.get_run(rid).data
    assert data.metrics == {"a": 1.0, "b": 1.0, "c": 4.0}
    latest = {m.key: (m.value, m.timestamp, m.step) for m in data.metric_objs}
    assert latest["a"] == (1.0, T0, 3)


def test_metric_history_ordered_by_step_then_timestamp(store):
    rid = new_run(store).info.run_id
    store.log_batch(rid, [Metric("m", 3.0, T0 + 5, 2), Metric("m", 1.0, T0 + 9, 0)], [], [])
    store.log_metric(rid, Metric("m", 2.0, T0 + 1, 1))
    store.log_metric(rid, Metric("m", 0.5, T0 + 2, 0))
    store.log_metric(rid, Metric("other", 7.0, T0, 0))
    history = store.get_metric_history(rid, "m")
    assert [(m.step, m.timestamp, m.value) for m in history] == [
        (0, T0 + 2, 0.5),
        (0, T0 + 9, 1.0),
        (1, T0 + 1, 2.0),
        (2, T0 + 5, 3.0),
    ]
    assert all(m.key == "m" for m in history)
    assert store.get_metric_history(rid, "never-logged") == []


def test_nan_and_inf_round_trip(store):
    rid = new_run(store).info.run_id
    store.log_batch(
        rid,
        [
            Metric("nan", math.nan, T0, 0),
            Metric("pinf", math.inf, T0, 0),
            Metric("ninf", -math.inf, T0, 0),
            Metric("int", 3, T0, 0),
        ],
        [],
        [],
    )
    data = store.get_run(rid).data
    assert math.isnan(data.metrics["nan"])
    assert data.metrics["pinf"] == math.inf and data.metrics["ninf"] == -math.inf
    assert data.metrics["int"] == 3.0 and isinstance(data.metrics["int"], float)
    assert math.isnan(store.get_metric_history(rid, "nan")[0].value)
    assert store.get_metric_history(rid, "ninf")[0].value == -math.inf


def test_metric_history_mixing_special_values_keeps_order_and_values(store):
    rid = new_run(store).info.run_id
    values = [0.5, math.nan, 2.0, math.inf, -1.25, -math.inf, 3.0]
    store.log_batch(rid, [Metric("m", v, T0 + i, i) for i, v in enumerate(values)], [], [])
    got = store.get_metric_history(rid, "m")
    assert [m.step for m in got] == list(range(len(values)))
    assert [m.timestamp for m in got] == [T0 + i for i in range(len(values))]
    for m, v in zip(got, values, strict=True):
        assert (math.isnan(m.value) and math.isnan(v)) or m.value == v


def test_nan_never_hides_a_real_value_on_a_tie(store):
    rid = new_run(store).info.run_id
    store.log_metric(rid, Metric("m", 1.5, T0, 0))
    store.log_metric(rid, Metric("m", math.nan, T0, 0))
    assert store.get_run(rid).data.metrics["m"] == 1.5
    store.log_metric(rid, Metric("m", math.nan, T0, 1))  # a later step wins even when NaN
    assert math.isnan(store.get_run(rid).data.metrics["m"])


def test_run_tags_set_overwrite_delete(store):
    rid = new_run(store).info.run_id
    store.set_tag(rid, RunTag("k", "1"))
    store.set_tag(rid, RunTag("k", "2"))
    assert store.get_run(rid).data.tags["k"] == "2"
    store.delete_tag(rid, "k")
    assert "k" not in store.get_run(rid).data.tags
    with pytest.raises(ResourceDoesNotExist):
        store.delete_tag(rid, "k")


# ============================================================================ search_runs


@pytest.fixture
def populated(store):
    """Four runs with distinct start times (alpha oldest) in a fresh experiment."""
    eid = store.create_experiment("search")
    spec = [
        (
            "alpha",
            1000,
            RunStatus.FINISHED,
            [("acc", 0.9), ("loss", 0.3)],
            {"model": "RandomForest", "depth": "3"},
            {"team": "vision", "path": "a*b[c]?_%"},
        ),
        (
            "beta",
            2000,
            RunStatus.RUNNING,
            [("acc", 0.7), ("loss", math.nan)],
            {"model": "linear", "depth": "5"},
            {"team": "Vision"},
        ),
        ("gamma", 3000, RunStatus.FAILED, [("acc", 0.95)], {"model": "randomforest"}, {}),
        ("delta", 4000, RunStatus.RUNNING, [], {}, {"team": "nlp"}),
    ]
    ids = {}
    for name, start, status, metrics, params, tags in spec:
        rid = store.create_run(eid, "tester", start, [], name).info.run_id
        store.log_batch(
            rid,
            [Metric(k, v, T0, 0) for k, v in metrics],
            [Param(k, v) for k, v in params.items()],
            [RunTag(k, v) for k, v in tags.items()],
        )
        if status != RunStatus.RUNNING:
            store.update_run_info(rid, status, start + 10, None)
        ids[name] = rid
    return store, eid, ids


def _search(store, eid, filter_string=None, order_by=None, max_results=100, view=ViewType.ACTIVE_ONLY):
    return store.search_runs([eid], filter_string, view, max_results, order_by, None)


@pytest.mark.parametrize(
    "filter_string, expected",
    [
        ("metrics.acc > 0.8", {"alpha", "gamma"}),
        ("metrics.acc >= 0.9", {"alpha", "gamma"}),
        ("metrics.acc < 0.9", {"beta"}),
        ("metrics.acc <= 0.7", {"beta"}),
        ("metrics.acc = 0.95", {"gamma"}),
        ("metrics.acc != 0.9", {"beta", "gamma"}),
        ("metrics.loss > 0", {"alpha"}),
        ("metrics.loss != 0.3", {"beta"}),
        ("params.model = 'linear'", {"beta"}),
        ("params.model != 'linear'", {"alpha", "gamma"}),
        ("params.model LIKE 'Random%'", {"alpha"}),
        ("params.model LIKE '%forest'", {"gamma"}),
        ("params.model LIKE '_inear'", {"beta"}),
        ("params.model ILIKE 'random%'", {"alpha", "gamma"}),
        ("params.model IN ('linear', 'randomforest')", {"beta", "gamma"}),
        ("params.model NOT IN ('linear')", {"alpha", "gamma"}),
        ("params.depth != '3'", {"beta"}),
        ("tags.team = 'vision'", {"alpha"}),
        ("tags.team ILIKE 'VISION'", {"alpha", "beta"}),
        ("tags.team != 'nlp'", {"alpha", "beta"}),
        ("tags.path LIKE 'a*b[c]?\\_%'", set()),
        ("tags.path LIKE 'a*b[c]%'", {"alpha"}),
        ("attributes.status = 'FINISHED'", {"alpha"}),
        ("status IN ('FAILED', 'FINISHED')", {"alpha", "gamma"}),
        ("attributes.status != 'RUNNING'", {"alpha", "gamma"}),
        ("attributes.run_name LIKE 'g%'", {"gamma"}),
        ("attributes.run_name = 'delta'", {"delta"}),
        ("attributes.start_time >= 3000", {"gamma", "delta"}),
        ("attributes.end_time > 0", {"alpha", "gamma"}),
        ("attributes.user_id = 'tester'", {"alpha", "beta", "gamma", "delta"}),
        ("attributes.lifecycle_stage = 'active'", {"alpha", "beta", "gamma", "delta"}),
        ("metrics.acc > 0.5 and params.depth = '3'", {"alpha"}),
        ("metrics.acc > 0.5 and tags.team LIKE '%ision' and attributes.status = 'RUNNING'", {"beta"}),
    ],
)
def test_search_filters(populated, filter_string, expected):
    store, eid, _ = populated
    assert set(names(_search(store, eid, filter_string))) == expected


def test_search_by_run_id_and_artifact_uri(populated):
    store, eid, ids = populated
    found = _search(store, eid, f"attributes.run_id = '{ids['beta']}'")
    assert names(found) == ["beta"]
    found = _search(store, eid, f"attributes.run_id IN ('{ids['beta']}', '{ids['delta']}')")
    assert set(names(found)) == {"beta", "delta"}
    found = _search(store, eid, f"attributes.artifact_uri LIKE '%{ids['gamma']}%'")
    assert names(found) == ["gamma"]


def test_search_returns_full_runs(populated):
    store, eid, ids = populated
    [run] = _search(store, eid, "params.depth = '3'")
    assert run == store.get_run(ids["alpha"])
    assert run.data.params == {"model": "RandomForest", "depth": "3"}
    assert run.data.metrics == {"acc": 0.9, "loss": 0.3}


@pytest.mark.parametrize(
    "bad",
    [
        "metrics.acc > 'x'",
        "params.a > '1'",
        "foo = 'x'",
        "metrics.a = 1 OR metrics.b = 2",
        "tags.t LIKE",
        "unknown.a = '1'",
    ],
)
def test_search_invalid_filter_raises(populated, bad):
    store, eid, _ = populated
    with pytest.raises(InvalidParameterValue):
        _search(store, eid, bad)


@pytest.mark.parametrize(
    "order_by, expected",
    [
        (None, ["delta", "gamma", "beta", "alpha"]),
        (["metrics.acc DESC"], ["gamma", "alpha", "beta", "delta"]),
        (["metrics.acc ASC"], ["beta", "alpha", "gamma", "delta"]),
        (["metrics.acc"], ["beta", "alpha", "gamma", "delta"]),
        (["metrics.loss ASC"], ["alpha", "beta", "delta", "gamma"]),
        (["metrics.loss DESC"], ["beta", "alpha", "delta", "gamma"]),
        (["params.model ASC"], ["alpha", "beta", "gamma", "delta"]),
        (["params.model DESC"], ["gamma", "beta", "alpha", "delta"]),
        (["tags.team DESC"], ["alpha", "delta", "beta", "gamma"]),
        (["attributes.run_name"], ["alpha", "beta", "delta", "gamma"]),
        (["attributes.start_time ASC"], ["alpha", "beta", "gamma", "delta"]),
        (["attributes.status", "attributes.start_time DESC"], ["gamma", "alpha", "delta", "beta"]),
        (["params.depth DESC", "metrics.acc"], ["beta", "alpha", "gamma", "delta"]),
    ],
)
def test_search_order_by(populated, order_by, expected):
    store, eid, _ = populated
    assert names(_search(store, eid, order_by=order_by)) == expected


def test_search_paging(populated):
    store, eid, _ = populated
    pages, token = [], None
    while True:
        page = store.search_runs([eid], None, ViewType.ACTIVE_ONLY, 3, ["attributes.run_name"], token)
        pages.append(names(page))
        token = page.token
        if token is None:
            break
    assert pages == [["alpha", "beta", "delta"], ["gamma"]]
    exact = store.search_runs([eid], None, ViewType.ACTIVE_ONLY, 4, None, None)
    assert len(exact) == 4 and exact.token is None
    with pytest.raises(InvalidParameterValue):
        store.search_runs([eid], None, ViewType.ACTIVE_ONLY, 3, None, "not-a-token")


@pytest.mark.parametrize("max_results", [0, -1, 50001])
def test_search_max_results_validated(populated, max_results):
    store, eid, _ = populated
    with pytest.raises(InvalidParameterValue):
        store.search_runs([eid], None, ViewType.ACTIVE_ONLY, max_results, None, None)


def test_search_view_types_and_experiments(populated):
    store, eid, ids = populated
    store.delete_run(ids["beta"])
    assert set(names(_search(store, eid))) == {"alpha", "gamma", "delta"}
    assert names(_search(store, eid, view=ViewType.DELETED_ONLY)) == ["beta"]
    assert len(_search(store, eid, view=ViewType.ALL)) == 4
    new_run(store, "0", "in-default")
    both = store.search_runs([eid, "0"], None, ViewType.ALL, 100, None, None)
    assert len(both) == 5
    assert names(store.search_runs(["0"], None, ViewType.ALL, 100, None, None)) == ["in-default"]


# ============================================================================ logged models, threads


def test_record_logged_model_appends(store):
    rid = new_run(store).info.run_id
    first = {"run_id": rid, "artifact_path": "model", "flavors": {"python_function": {"loader_module": "x"}}}
    second = {"run_id": rid, "artifact_path": "best_estimator", "flavors": {}}
    store.record_logged_model(rid, first)
    store.record_logged_model(rid, second)
    history = json.loads(store.get_run(rid).data.tags["mlflow.log-model.history"])
    assert history == [first, second]


def test_record_logged_model_concurrent_appends_all_land(store):
    rid = new_run(store).info.run_id
    errors = []

    def worker(n):
        try:
            for i in range(5):
                store.record_logged_model(rid, {"artifact_path": f"m{n}-{i}"})
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    history = json.loads(store.get_run(rid).data.tags["mlflow.log-model.history"])
    assert sorted(h["artifact_path"] for h in history) == sorted(f"m{n}-{i}" for n in range(4) for i in range(5))


def test_thread_safety_smoke(store):
    shared = new_run(store, name="shared").info.run_id
    errors = []

    def worker(n):
        try:
            rid = new_run(store, name=f"w{n}").info.run_id
            for i in range(20):
                store.log_metric(rid, Metric("loss", 1.0 / (i + 1), T0 + i, i))
                store.log_metric(shared, Metric("all", float(n * 100 + i), T0 + i, n * 100 + i))
            store.log_param(rid, Param("worker", str(n)))
            store.log_param(shared, Param(f"w{n}", "yes"))
            store.get_run(rid)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(store.get_metric_history(shared, "all")) == 80
    data = store.get_run(shared).data
    assert data.metrics["all"] == 319.0
    assert data.params == {f"w{n}": "yes" for n in range(4)}
    workers = store.search_runs(["0"], "params.worker != ''", ViewType.ACTIVE_ONLY, 100, None, None)
    assert len(workers) == 4
    assert all(r.data.metrics["loss"] == 1.0 / 20 for r in workers)


# ============================================================================ dataset inputs


def dataset_input(name="iris", digest="d1", context="train", **fields):
    from tracklet.tracking.entities import Dataset, DatasetInput

    ds = Dataset(
        name=name,
        digest=digest,
        source_type=fields.get("source_type", "code"),
        source=fields.get("source", '{"uri": "x"}'),
        schema=fields.get("schema"),
        profile=fields.get("profile", '{"num_rows": 3}'),
    )
    return DatasetInput(ds, (RunTag("mlflow.data.context", context),))


def input_summary(run) -> set:
    return {
        (i.dataset.name, i.dataset.digest, {t.key: t.value for t in i.tags}.get("mlflow.data.context"))
        for i in run.inputs.dataset_inputs
    }


def test_log_inputs_roundtrip_and_dedup(store):
    run_id = new_run(store).info.run_id
    train, valid = dataset_input(schema='{"cols": ["a"]}'), dataset_input("iris-valid", "d2", "eval")
    store.log_inputs(run_id, [train, train, valid])
    store.log_inputs(run_id, [train, dataset_input(context="eval")])  # same dataset, new context: recorded
    inputs = store.get_run(run_id).inputs.dataset_inputs
    assert len(inputs) == 3
    assert input_summary(store.get_run(run_id)) == {
        ("iris", "d1", "train"),
        ("iris-valid", "d2", "eval"),
        ("iris", "d1", "eval"),
    }
    got = next(i.dataset for i in inputs if i.dataset.name == "iris")
    assert got == train.dataset  # every field survives
    other = new_run(store).info.run_id  # the same dataset in another run of the experiment
    store.log_inputs(other, [train])
    assert input_summary(store.get_run(other)) == {("iris", "d1", "train")}
    assert new_run(store).inputs.dataset_inputs == ()
    assert store.get_run(new_run(store).info.run_id).inputs.dataset_inputs == ()


@pytest.mark.parametrize("field, size", [("name", 501), ("digest", 37), ("source", 65537)])
def test_log_inputs_validates_lengths(store, field, size):
    run_id = new_run(store).info.run_id
    fields = {"name": "n", "digest": "d", "source": "s"} | {field: "x" * size}
    with pytest.raises(InvalidParameterValue, match=field):
        store.log_inputs(run_id, [dataset_input("ok", "ok"), dataset_input(**fields)])
    assert store.get_run(run_id).inputs.dataset_inputs == ()  # nothing written


def test_log_inputs_rejects_deleted_and_unknown_runs(store):
    run_id = new_run(store).info.run_id
    store.delete_run(run_id)
    with pytest.raises(InvalidState):
        store.log_inputs(run_id, [dataset_input()])
    with pytest.raises(ResourceDoesNotExist):
        store.log_inputs("0" * 32, [dataset_input()])


def test_search_runs_by_dataset(store):
    a, b, c = (new_run(store, name=n, start_time=T0 + i) for i, n in enumerate("abc"))
    store.log_inputs(a.info.run_id, [dataset_input("iris", "d1")])
    store.log_inputs(b.info.run_id, [dataset_input("wine", "d2"), dataset_input("iris", "d3", "eval")])

    def found(filter_string):
        return sorted(names(store.search_runs(["0"], filter_string, ViewType.ACTIVE_ONLY, 100, None, None)))

    assert found("datasets.name = 'iris'") == ["a", "b"]
    assert found("datasets.name = 'wine'") == ["b"]
    assert found("datasets.digest = 'd1'") == ["a"]
    assert found("datasets.digest IN ('d2', 'd1')") == ["a", "b"]
    assert found("datasets.name LIKE 'wi%'") == ["b"]
    assert found("datasets.name = 'iris' AND datasets.digest = 'd3'") == ["b"]
    assert found("datasets.name = 'none'") == []
    assert c.info.run_name not in found("datasets.name != 'zzz'")
    assert found("datasets.context = 'eval'") == ["b"]
    assert found("datasets.context = 'eval' AND datasets.name = 'iris'") == ["b"]
    assert found("datasets.context IN ('train', 'eval')") == ["a", "b"]


# ============================================================================ file-store helper block (issue 7):
# a batch that fails in the store writes nothing, so the async logger's entry-by-entry retry of a failed merged
# batch cannot log a point twice


def test_retrying_the_entries_of_a_failed_merged_batch_logs_each_point_once(store):
    rid = new_run(store).info.run_id
    store.log_param(rid, Param("p", "1"))
    merged = ([Metric("ok", 1.0, T0, 0)], [Param("p", "2")], [RunTag("t", "v")])  # rejected by the store
    with pytest.raises(InvalidParameterValue):
        store.log_batch(rid, *merged)
    assert store.get_metric_history(rid, "ok") == []
    store.log_batch(rid, merged[0], [], [])  # the retry, one entry at a time, as the async logger does
    with pytest.raises(InvalidParameterValue):
        store.log_batch(rid, [], merged[1], [])
    store.log_batch(rid, [], [], merged[2])
    assert [(m.value, m.step) for m in store.get_metric_history(rid, "ok")] == [(1.0, 0)]
    data = store.get_run(rid).data
    assert data.params == {"p": "1"} and data.tags["t"] == "v" and data.metrics == {"ok": 1.0}


# ============================================================================ sqlstore helper: search limits,
# metric history at scale (issues 7 and 15). Every store answers the same way.


def test_search_with_a_huge_number_answers(populated):
    store, eid, _ = populated
    assert set(names(_search(store, eid, "metrics.acc > -99999999999999999999999999"))) == {"alpha", "beta", "gamma"}
    assert names(_search(store, eid, "metrics.acc > 99999999999999999999999999")) == []
    assert set(names(_search(store, eid, "metrics.acc < 1e400"))) == {"alpha", "beta", "gamma"}  # +inf
    assert names(_search(store, eid, "attributes.start_time > 99999999999999999999999999")) == []
    assert len(_search(store, eid, "attributes.start_time > -99999999999999999999999999")) == 4


def test_search_with_thousands_of_clauses_answers(populated):
    store, eid, _ = populated
    same = " and ".join(["metrics.acc > 0.5"] * 1500)
    assert set(names(_search(store, eid, same))) == {"alpha", "beta", "gamma"}
    distinct = " and ".join(f"metrics.acc > {0.5 - i * 1e-4}" for i in range(1500))
    assert set(names(_search(store, eid, distinct))) == {"alpha", "beta", "gamma"}
    mixed = (
        distinct + " and params.model != 'linear' and " + " and ".join(f"params.model != 'x{i}'" for i in range(200))
    )
    assert set(names(_search(store, eid, mixed))) == {"alpha", "gamma"}


def test_search_ordered_by_seventy_keys_answers(store):
    eid = store.create_experiment("many-keys")
    for n, name in enumerate(["a", "b", "c"]):
        rid = store.create_run(eid, "tester", T0 + n, [], name).info.run_id
        # every key ties except the 70th, which decides the order (c, a, b)
        values = [1.0] * 69 + [{"a": 2.0, "b": 1.0, "c": 3.0}[name]]
        store.log_batch(rid, [Metric(f"m{i}", v, T0, 0) for i, v in enumerate(values)], [], [])
    order_by = [f"metrics.m{i} DESC" for i in range(70)]
    assert names(_search(store, eid, order_by=order_by)) == ["c", "a", "b"]
    order_by = [f"params.p{i}" for i in range(40)] + [f"metrics.m{i} ASC" for i in range(70)]
    assert names(_search(store, eid, order_by=order_by)) == ["b", "a", "c"]


@pytest.mark.parametrize(
    "filter_string",
    ["metrics.m > 0", "params.p = 'a'", "datasets.name = 'iris'", "metric.m < 1 and name = 'x'"],
)
def test_search_experiments_on_run_fields_is_an_error(store, filter_string):
    with pytest.raises(InvalidParameterValue, match="experiments can be searched by tags"):
        store.search_experiments(filter_string=filter_string)


@pytest.mark.parametrize("order_by", ["metrics.m DESC", "params.p"])
def test_search_experiments_ordered_by_run_fields_is_an_error(store, order_by):
    with pytest.raises(InvalidParameterValue, match="experiments can be searched by tags"):
        store.search_experiments(order_by=[order_by])


def _expected_downsample(history, max_results, start=None, end=None):
    """Brute force of the documented rule: all points if few; else per bucket of ``width`` steps (the smallest
    power of two giving <= max_results // 2 buckets) the earliest smallest and earliest largest non-NaN value."""
    points = [m for m in history if (start is None or m.step >= start) and (end is None or m.step <= end)]
    if len(points) <= max_results:
        return [(m.step, m.timestamp, _nan_safe(m.value)) for m in points]
    low, high = min(m.step for m in points), max(m.step for m in points)
    width = 1
    while high // width - low // width + 1 > max(2, max_results // 2):
        width *= 2
    kept = set()
    for bucket in {m.step // width for m in points}:
        inside = [m for m in points if m.step // width == bucket and not math.isnan(m.value)]
        if inside:
            kept.add(min(inside, key=lambda m: (m.value, m.step, m.timestamp)))
            kept.add(min(inside, key=lambda m: (-m.value, m.step, m.timestamp)))
    return sorted(((m.step, m.timestamp, m.value) for m in kept), key=lambda p: (p[0], p[1]))


def _nan_safe(value):
    return "nan" if math.isnan(value) else value  # NaN != NaN would fail an equal comparison


def _as_points(metrics, run_id):
    assert all(m.run_id == run_id for m in metrics)
    return [(m.step, m.timestamp, _nan_safe(m.value)) for m in metrics]


def test_metric_history_bulk_interval_keeps_every_buckets_min_and_max(store):
    import random

    rng = random.Random(7)
    rid = new_run(store).info.run_id
    other = new_run(store).info.run_id
    values = [math.sin(i / 50) + rng.random() / 10 for i in range(3000)]
    values[1234] = 50.0  # a spike a fixed-stride sample would miss
    values[2345] = -50.0
    values[100] = math.nan
    values[200], values[201] = math.inf, -math.inf
    points = [Metric("loss", v, T0 + i, i - 300) for i, v in enumerate(values)]  # negative steps too
    points += [Metric("loss", 0.25, T0 + 5, 10), Metric("loss", 0.25, T0 + 1, 10)]  # repeated step
    rng.shuffle(points)  # summaries must not depend on the logging order
    for i in range(0, len(points), 700):
        store.log_batch(rid, points[i : i + 700], [], [])
    store.log_batch(other, [Metric("loss", float(i), T0, i) for i in range(5)], [], [])
    history = store.get_metric_history(rid, "loss")

    for max_results, start, end in [
        (100, None, None),
        (4, None, None),
        (5, 0, None),
        (1000, None, None),
        (64, 10, 2000),
        (300, -300, -1),
        (50, 1230, 1240),
        (10_000, None, None),
        (7, 0, 130),
    ]:
        got = store.get_metric_history_bulk_interval([rid], "loss", max_results, start, end)
        assert len(got) <= max_results
        assert _as_points(got, rid) == _expected_downsample(history, max_results, start, end)
    got = _as_points(store.get_metric_history_bulk_interval([rid], "loss", 100), rid)
    assert (1234 - 300, T0 + 1234, 50.0) in got and (2345 - 300, T0 + 2345, -50.0) in got
    assert (200 - 300, T0 + 200, math.inf) in got

    both = store.get_metric_history_bulk_interval([other, rid], "loss", 10)
    assert [m.run_id for m in both[:5]] == [other] * 5 and {m.run_id for m in both[5:]} == {rid}
    assert [m.value for m in both[:5]] == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert both[0].to_dict() == {"key": "loss", "value": 0.0, "timestamp": T0, "step": 0, "run_id": other}
    assert store.get_metric_history_bulk_interval([rid], "missing", 10) == []


@pytest.mark.parametrize(
    "args",
    [
        ([], 10),
        ("abc", 10),
        (["../x"], 10),
        (["a" * 32] * 101, 10),
        (None, 10),
        ("R", 3),
        ("R", 0),
        ("R", 25_001),
        ("R", 2.5),
        ("R", True),
    ],
)
def test_metric_history_bulk_interval_validates(store, args):
    rid = new_run(store).info.run_id
    run_ids, max_results = args
    run_ids = [rid] if run_ids == "R" else run_ids
    with pytest.raises(InvalidParameterValue):
        store.get_metric_history_bulk_interval(run_ids, "loss", max_results)


def test_metric_history_bulk_interval_bad_range_and_unknown_run(store):
    rid = new_run(store).info.run_id
    with pytest.raises(InvalidParameterValue, match="start_step"):
        store.get_metric_history_bulk_interval([rid], "loss", 10, start_step=5, end_step=1)
    with pytest.raises(InvalidParameterValue, match="end_step"):
        store.get_metric_history_bulk_interval([rid], "loss", 10, end_step=1.5)
    with pytest.raises(ResourceDoesNotExist):
        store.get_metric_history_bulk_interval([rid, "0123456789abcdef0123456789abcdef"], "loss", 10)


# ============================================================================ lead: text every store can write


@pytest.mark.parametrize(
    "batch",
    [
        ([], [Param("p", "a\ud800b")], []),
        ([], [], [RunTag("t", "\udfff")]),
        ([Metric("ok", 1.0, T0, 0)], [Param("fine", "1")], [RunTag("t", "x\ud800")]),
    ],
    ids=["param", "tag", "mixed"],
)
def test_lone_surrogates_are_refused_and_nothing_is_written(store, batch):
    rid = new_run(store).info.run_id
    with pytest.raises(InvalidParameterValue, match="lone surrogate"):
        store.log_batch(rid, *batch)
    data = store.get_run(rid).data
    assert data.metrics == {} and data.params == {} and "t" not in data.tags


def test_experiment_name_with_a_lone_surrogate_is_refused(store):
    before = {e.experiment_id for e in store.search_experiments()}
    with pytest.raises(InvalidParameterValue, match="lone surrogate"):
        store.create_experiment("x\ud800")
    assert {e.experiment_id for e in store.search_experiments()} == before
