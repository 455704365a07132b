"""Input edges that used to give raw errors or wrong results: each is a TrackletException naming the argument,
and nothing is written."""

import math

import pytest

import tracklet
from tracklet.entities import Metric, Param
from tracklet.exceptions import InvalidParameterValue
from tracklet.tracking import validation as V


@pytest.fixture(params=["sqlite", "file"])
def client(request, tmp_path):
    uri = f"sqlite:///{tmp_path}/t.db" if request.param == "sqlite" else str(tmp_path / "mlruns")
    return tracklet.MlflowClient(uri)


@pytest.mark.parametrize("key", ["loss\n", "loss\r\n", "a\nb", "\n"])
def test_a_key_with_a_newline_is_rejected(key, client):
    with pytest.raises(InvalidParameterValue, match="may only contain"):
        V.validate_key(key, "metric")
    run_id = client.create_run("0").info.run_id
    with pytest.raises(InvalidParameterValue):
        client.log_metric(run_id, key, 1.0)
    with pytest.raises(InvalidParameterValue):
        client.log_param(run_id, key, "x")
    assert client.get_run(run_id).data.metrics == {}


@pytest.mark.parametrize("run_id", ["abc\n", "0\n"])
def test_ids_with_a_trailing_newline_are_rejected(run_id):
    with pytest.raises(InvalidParameterValue, match="run ID"):
        V.validate_run_id(run_id)
    with pytest.raises(InvalidParameterValue, match="experiment ID"):
        V.validate_experiment_id(run_id)


@pytest.mark.parametrize(
    "field,kwargs",
    [
        ("step", {"step": float("inf")}),
        ("step", {"step": float("-inf")}),
        ("step", {"step": float("nan")}),
        ("step", {"step": 2**70}),
        ("step", {"step": -(2**63) - 1}),
        ("step", {"step": 1.5}),
        ("timestamp", {"timestamp": 2**70}),
        ("timestamp", {"timestamp": 2**63}),
        ("timestamp", {"timestamp": -1}),
    ],
)
def test_step_and_timestamp_outside_signed_64_bits_are_rejected_by_every_store(client, field, kwargs):
    run_id = client.create_run("0").info.run_id
    with pytest.raises(InvalidParameterValue, match=field):
        client.log_metric(run_id, "m", 1.0, **kwargs)
    # the store itself checks (the same function), whatever the caller
    metric = Metric("m", 1.0, kwargs.get("timestamp", 0), kwargs.get("step", 0))
    with pytest.raises(InvalidParameterValue, match=field):
        client.store.log_batch(run_id, [metric], [], [])
    assert client.get_metric_history(run_id, "m") == []


def test_the_signed_64_bit_bounds_themselves_are_stored(client):
    run_id = client.create_run("0").info.run_id
    client.log_metric(run_id, "m", 1.0, timestamp=2**63 - 1, step=-(2**63))
    client.log_metric(run_id, "m", 2.0, timestamp=0, step=2**63 - 1)
    client.log_metric(run_id, "m", 3.0, timestamp=5, step=4.0)  # an integral float step is an int
    assert sorted((m.step, m.timestamp) for m in client.get_metric_history(run_id, "m")) == [
        (-(2**63), 2**63 - 1),
        (4, 5),
        (2**63 - 1, 0),
    ]


@pytest.mark.parametrize(
    "kwargs,argument",
    [
        ({"metrics": {"a": 1.0}}, "metrics"),
        ({"params": {"a": "1"}}, "params"),
        ({"metrics": ["a"]}, "metrics"),
        ({"params": [("a", "1")]}, "params"),
        ({"tags": "abc"}, "tags"),
        ({"metrics": 3}, "metrics"),
    ],
)
def test_log_batch_with_the_wrong_container_names_the_argument(client, kwargs, argument):
    run_id = client.create_run("0").info.run_id
    with pytest.raises(InvalidParameterValue, match=f"log_batch: {argument} must be a list"):
        client.log_batch(run_id, **kwargs)
    with pytest.raises(InvalidParameterValue, match=argument):
        client.log_batch(run_id, synchronous=False, **kwargs)


@pytest.mark.parametrize(
    "args,kwargs,argument",
    [
        ((["0"], ["x"]), {}, "filter_string"),
        ((["0"],), {"filter_string": 3}, "filter_string"),
        ((["0"],), {"order_by": "metrics.m"}, "order_by"),
        ((["0"],), {"order_by": [1]}, "order_by"),
        ((["0"],), {"page_token": 5}, "page_token"),
    ],
)
def test_search_runs_with_wrong_argument_types_names_the_argument(client, args, kwargs, argument):
    with pytest.raises(InvalidParameterValue, match=argument):
        client.search_runs(*args, **kwargs)


def test_search_experiments_with_a_list_as_filter_names_the_argument(client):
    with pytest.raises(InvalidParameterValue, match="filter_string"):
        client.search_experiments(filter_string=["name = 'x'"])


@pytest.mark.parametrize(
    "call",
    [
        lambda: tracklet.log_params({None: 1}),
        lambda: tracklet.log_params({1: 1}),
        lambda: tracklet.log_metrics({None: 1.0}),
        lambda: tracklet.set_tags({None: "x"}),
        lambda: tracklet.log_params([("a", 1)]),
    ],
)
def test_fluent_dict_logging_rejects_what_the_client_rejects(call):
    with tracklet.start_run() as run:
        with pytest.raises(InvalidParameterValue):
            call()
    data = tracklet.get_run(run.info.run_id).data
    assert data.params == {} and data.metrics == {}
    assert "None" not in data.tags and "1" not in data.params


def test_fluent_start_run_rejects_a_none_tag_key():
    with pytest.raises(InvalidParameterValue, match="tag"):
        tracklet.start_run(tags={None: "x"})
    assert tracklet.active_run() is None


def test_last_active_run_after_a_nested_run_is_the_parent():
    with tracklet.start_run() as parent:
        with tracklet.start_run(nested=True) as child:
            tracklet.log_metric("c", 1.0)
        tracklet.log_metric("p", 1.0)
    last = tracklet.last_active_run()
    assert last.info.run_id == parent.info.run_id != child.info.run_id
    assert last.data.metrics == {"p": 1.0}
    tracklet.start_run()
    with tracklet.start_run(nested=True) as inner:
        pass
    assert tracklet.last_active_run().info.run_id != inner.info.run_id  # the active outer run
    outer = tracklet.active_run().info.run_id
    tracklet.end_run()
    assert tracklet.last_active_run().info.run_id == outer


def test_param_objects_with_non_string_values_are_stringified(client):
    run_id = client.create_run("0").info.run_id
    client.log_batch(run_id, params=[Param("a", 1), Param("b", None)])
    assert client.get_run(run_id).data.params == {"a": "1", "b": ""}
    assert math.isnan(V.validate_metric("m", float("nan"), 0, 0)[1])
