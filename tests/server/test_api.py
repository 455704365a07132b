"""The REST API of create_app: shapes, error bodies and statuses, bad input -> 400 never 500, paging, auth."""

from __future__ import annotations

import json
import math

import pytest

from tests.server.conftest import API
from tracklet.server import Auth, create_app
from tracklet.tracking.stores.sql import SqlStore

T0 = 1_700_000_000_000


def strict_json(text: str):
    """json.loads that refuses bare NaN/Infinity (invalid JSON other clients choke on)."""

    def refuse(name):
        raise ValueError(f"bare {name} in JSON")

    return json.loads(text, parse_constant=refuse)


def new_run(http, name="r", experiment_id="0") -> str:
    response = http.post(f"{API}/runs/create", json={"experiment_id": experiment_id, "run_name": name})
    assert response.status_code == 200, response.text
    return response.json()["run"]["info"]["run_id"]


def assert_error(response, status: int, code: str, *words: str) -> None:
    assert response.status_code == status, response.text
    body = strict_json(response.text)
    assert set(body) == {"error_code", "message"}
    assert body["error_code"] == code
    for word in words:
        assert word in body["message"]
    assert "Traceback" not in response.text


def test_experiment_lifecycle_shapes(http):
    response = http.post(f"{API}/experiments/create", json={"name": "e1", "tags": [{"key": "team", "value": "a"}]})
    eid = response.json()["experiment_id"]
    assert isinstance(eid, str)
    exp = http.get(f"{API}/experiments/get", params={"experiment_id": eid}).json()["experiment"]
    assert exp["name"] == "e1" and exp["lifecycle_stage"] == "active"
    assert exp["artifact_location"] == f"mlflow-artifacts:/{eid}"
    assert exp["tags"] == [{"key": "team", "value": "a"}]
    assert isinstance(exp["creation_time"], int)
    by_name = http.get(f"{API}/experiments/get-by-name", params={"experiment_name": "e1"}).json()
    assert by_name["experiment"]["experiment_id"] == eid
    assert http.post(f"{API}/experiments/update", json={"experiment_id": eid, "new_name": "e2"}).json() == {}
    found = http.post(f"{API}/experiments/search", json={"filter": "name = 'e2'"}).json()
    assert [e["experiment_id"] for e in found["experiments"]] == [eid]
    found = http.get(f"{API}/experiments/search", params={"max_results": 1, "view_type": "ALL"}).json()
    assert len(found["experiments"]) == 1 and found["next_page_token"]
    http.post(f"{API}/experiments/delete", json={"experiment_id": eid})
    assert http.get(f"{API}/experiments/get", params={"experiment_id": eid}).json()["experiment"][
        "lifecycle_stage"
    ] == ("deleted")
    http.post(f"{API}/experiments/restore", json={"experiment_id": eid})
    http.post(f"{API}/experiments/set-experiment-tag", json={"experiment_id": eid, "key": "k", "value": "v"})
    http.post(f"{API}/experiments/delete-experiment-tag", json={"experiment_id": eid, "key": "team"})
    exp = http.get(f"{API}/experiments/get", params={"experiment_id": eid}).json()["experiment"]
    assert exp["tags"] == [{"key": "k", "value": "v"}] and exp["lifecycle_stage"] == "active"


def test_run_logging_shapes(http):
    run_id = new_run(http, "shapes")
    batch = {
        "run_id": run_id,
        "metrics": [
            {"key": "loss", "value": 0.5, "timestamp": T0, "step": 0},
            {"key": "loss", "value": "0.25", "timestamp": str(T0 + 1), "step": "1"},  # int64/double as strings
            {"key": "bad", "value": "NaN", "timestamp": T0},
            # fields MLflow 3 clients add are accepted and ignored
            {"key": "inf", "value": "-Infinity", "timestamp": T0, "step": 0, "model_id": "m-1", "run_id": run_id},
        ],
        "params": [{"key": "lr", "value": "0.1"}],
        "tags": [{"key": "t", "value": "v"}],
    }
    assert http.post(f"{API}/runs/log-batch", json=batch).json() == {}
    http.post(f"{API}/runs/log-metric", json={"run_id": run_id, "key": "acc", "value": 1, "timestamp": T0, "step": 3})
    http.post(f"{API}/runs/log-parameter", json={"run_uuid": run_id, "key": "depth", "value": "3"})
    http.post(f"{API}/runs/set-tag", json={"run_id": run_id, "key": "gone", "value": "x"})
    http.post(f"{API}/runs/delete-tag", json={"run_id": run_id, "key": "gone"})
    response = http.get(f"{API}/runs/get", params={"run_id": run_id})
    run = strict_json(response.text)["run"]
    metrics = {m["key"]: m for m in run["data"]["metrics"]}
    assert metrics["loss"] == {"key": "loss", "value": 0.25, "timestamp": T0 + 1, "step": 1}
    assert metrics["bad"]["value"] == "NaN" and metrics["inf"]["value"] == "-Infinity"
    assert {p["key"]: p["value"] for p in run["data"]["params"]} == {"lr": "0.1", "depth": "3"}
    tags = {t["key"]: t["value"] for t in run["data"]["tags"]}
    assert tags["t"] == "v" and "gone" not in tags and tags["mlflow.runName"] == "shapes"
    info = http.post(f"{API}/runs/update", json={"run_id": run_id, "status": "FINISHED", "end_time": T0 + 9}).json()
    assert info["run_info"]["status"] == "FINISHED" and info["run_info"]["end_time"] == T0 + 9
    found = http.post(f"{API}/runs/search", json={"experiment_ids": ["0"], "filter": "metrics.loss < 0.3"}).json()
    assert [r["info"]["run_id"] for r in found["runs"]] == [run_id]
    assert "next_page_token" not in found


def test_log_model_and_inputs(http):
    run_id = new_run(http)
    model = {"artifact_path": "model", "flavors": {"python_function": {}}}
    http.post(f"{API}/runs/log-model", json={"run_id": run_id, "model_json": json.dumps(model)})
    dataset = {"name": "iris", "digest": "abc", "source_type": "code", "source": "{}"}
    datasets = [{"dataset": dataset, "tags": [{"key": "mlflow.data.context", "value": "train"}]}]
    assert http.post(f"{API}/runs/log-inputs", json={"run_id": run_id, "datasets": datasets}).json() == {}
    run = http.get(f"{API}/runs/get", params={"run_id": run_id}).json()["run"]
    tags = {t["key"]: t["value"] for t in run["data"]["tags"]}
    assert json.loads(tags["mlflow.log-model.history"]) == [model]
    assert run["inputs"]["dataset_inputs"][0]["dataset"]["name"] == "iris"


def test_ajax_prefix_health_version(http):
    assert http.get("/ajax-api/2.0/mlflow/experiments/get", params={"experiment_id": "0"}).status_code == 200
    assert http.get("/health").text == "OK"
    assert http.get("/version").status_code == 200
    info = http.get("/api/3.0/mlflow/server-info").json()
    assert info["store_type"] == "SqlStore" and info["workspaces_enabled"] is False


def test_error_statuses(http):
    assert_error(http.get(f"{API}/experiments/get", params={"experiment_id": "424242"}), 404, "RESOURCE_DOES_NOT_EXIST")
    assert_error(
        http.get(f"{API}/experiments/get-by-name", params={"experiment_name": "nope"}),
        404,
        "RESOURCE_DOES_NOT_EXIST",
        "nope",
    )
    http.post(f"{API}/experiments/create", json={"name": "dup"})
    assert_error(http.post(f"{API}/experiments/create", json={"name": "dup"}), 400, "RESOURCE_ALREADY_EXISTS")
    assert_error(http.get(f"{API}/runs/get", params={"run_id": "f" * 32}), 404, "RESOURCE_DOES_NOT_EXIST")
    assert_error(http.get(f"{API}/no/such/endpoint"), 404, "ENDPOINT_NOT_FOUND")
    assert_error(http.get(f"{API}/runs/log-batch"), 405, "ENDPOINT_NOT_FOUND")
    run_id = new_run(http)
    http.post(f"{API}/runs/delete", json={"run_id": run_id})
    body = {"run_id": run_id, "metrics": [{"key": "m", "value": 1, "timestamp": T0}]}
    assert_error(http.post(f"{API}/runs/log-batch", json=body), 400, "INVALID_STATE")


BAD_BODIES = [
    ("runs/log-batch", b"{not json", "Malformed JSON"),
    ("runs/log-batch", b"[1, 2]", "JSON object"),
    ("runs/log-batch", b'"text"', "JSON object"),
    ("runs/log-batch", b"[" * 100000 + b"]" * 100000, "Malformed JSON"),
    ("runs/log-batch", b"\xff\xfe\xfa", "Malformed JSON"),
    ("runs/log-batch", {"run_id": "RUN", "metrics": {"key": "m"}}, "metrics"),
    ("runs/log-batch", {"run_id": "RUN", "metrics": [{"key": "m", "value": "abc", "timestamp": 1}]}, "value"),
    ("runs/log-batch", {"run_id": "RUN", "metrics": [{"key": "m", "value": True, "timestamp": 1}]}, "value"),
    ("runs/log-batch", {"run_id": "RUN", "metrics": [{"key": "m", "value": 1, "timestamp": "x"}]}, "timestamp"),
    ("runs/log-batch", {"run_id": "RUN", "metrics": [{"key": "m", "value": 1, "timestamp": 1, "step": 1.5}]}, "step"),
    ("runs/log-batch", {"run_id": "RUN", "metrics": [{"key": 5, "value": 1, "timestamp": 1}]}, "key"),
    ("runs/log-batch", {"run_id": "RUN", "params": [{"key": "p", "value": {"nested": 1}}]}, "value"),
    ("runs/log-batch", {"run_id": "RUN", "metrics": [{"key": "m", "value": 1, "timestamp": 1}] * 1001}, "1000"),
    ("runs/log-batch", {"run_id": 12}, "run_id"),
    ("runs/log-batch", {}, "run_id"),
    ("runs/search", {"max_results": "many"}, "max_results"),
    ("runs/search", {"max_results": 10**12}, "max_results"),
    ("runs/search", {"max_results": 50001}, "max_results"),
    ("runs/search", {"experiment_ids": [1, 2]}, "experiment_ids"),
    ("runs/search", {"experiment_ids": ["0"], "filter": "metrics.a = 1 OR x"}, ""),
    ("runs/search", {"experiment_ids": ["0"], "page_token": "garbage!!"}, ""),
    ("runs/search", {"experiment_ids": ["0"], "run_view_type": "SOMETIMES"}, ""),
    ("experiments/create", {"name": 123}, "name"),
    ("experiments/create", {"name": "x", "tags": "nope"}, "tags"),
    ("experiments/search", {"max_results": -5}, "max_results"),
    ("runs/log-model", {"run_id": "RUN", "model_json": "{oops"}, "model_json"),
    ("runs/log-inputs", {"run_id": "RUN", "datasets": [{"dataset": "x"}]}, "dataset"),
    ("runs/update", {"run_id": "RUN", "status": "SLEEPING"}, "status"),
]


@pytest.mark.parametrize("endpoint, body, words", BAD_BODIES)
def test_bad_requests_are_400_with_a_message(http, endpoint, body, words):
    run_id = new_run(http)
    if isinstance(body, dict):
        body = json.dumps(body).replace('"RUN"', json.dumps(run_id)).encode()
    response = http.post(f"{API}/{endpoint}", content=body, headers={"Content-Type": "application/json"})
    assert_error(response, 400, response.json()["error_code"], words)
    assert response.json()["error_code"] in ("INVALID_PARAMETER_VALUE", "BAD_REQUEST")


def test_huge_bodies_rejected(backing_store):
    from starlette.testclient import TestClient

    http = TestClient(create_app(backing_store, None, max_body_bytes=1000))
    assert_error(http.post(f"{API}/experiments/create", content=b" " * 5000), 400, "INVALID_PARAMETER_VALUE", "limit")

    def chunks():  # no content-length: the limit holds while streaming
        for _ in range(10):
            yield b" " * 500

    assert_error(http.post(f"{API}/experiments/create", content=chunks()), 400, "INVALID_PARAMETER_VALUE", "limit")


def test_metric_history_paging(http):
    run_id = new_run(http)
    for start in (0, 1000):
        metrics = [{"key": "m", "value": i, "timestamp": T0 + i, "step": i} for i in range(start, start + 1000)]
        http.post(f"{API}/runs/log-batch", json={"run_id": run_id, "metrics": metrics})
    everything = http.get(f"{API}/metrics/get-history", params={"run_id": run_id, "metric_key": "m"}).json()
    assert len(everything["metrics"]) == 2000 and "next_page_token" not in everything
    steps, token, pages = [], None, 0
    while True:
        params = {"run_id": run_id, "metric_key": "m", "max_results": 700, "page_token": token}
        page = http.get(f"{API}/metrics/get-history", params={k: v for k, v in params.items() if v}).json()
        steps += [m["step"] for m in page["metrics"]]
        pages += 1
        token = page.get("next_page_token")
        if not token:
            break
    assert pages == 3 and steps == list(range(2000))
    for bad in ({"max_results": 25001}, {"max_results": 0}, {"max_results": "x"}, {"page_token": "###"}):
        params = {"run_id": run_id, "metric_key": "m", **bad}
        assert_error(http.get(f"{API}/metrics/get-history", params=params), 400, "INVALID_PARAMETER_VALUE")


def test_metric_history_bulk_interval(http, backing_store):
    runs = [new_run(http, f"r{i}") for i in range(2)]
    for run_id in runs:
        metrics = [{"key": "m", "value": (i * 7) % 13, "timestamp": T0, "step": i} for i in range(100)]
        http.post(f"{API}/runs/log-batch", json={"run_id": run_id, "metrics": metrics})
    params = {"run_ids": runs, "metric_key": "m", "max_results": 10, "start_step": 10, "end_step": 59}
    got = http.get(f"{API}/metrics/get-history-bulk-interval", params=params).json()["metrics"]
    for run_id in runs:
        steps = [m["step"] for m in got if m["run_id"] == run_id]
        assert 4 <= len(steps) <= 10 and all(10 <= s <= 59 for s in steps) and steps == sorted(steps)
    # the server samples as the store does (each step bucket's min and max), point for point
    expected = backing_store.get_metric_history_bulk_interval(runs, "m", 10, 10, 59)
    assert [(m["run_id"], m["step"], m["value"]) for m in got] == [(m.run_id, m.step, m.value) for m in expected]
    bad = {"run_ids": runs, "metric_key": "m", "max_results": 10**9}
    assert_error(http.get(f"{API}/metrics/get-history-bulk-interval", params=bad), 400, "INVALID_PARAMETER_VALUE")


def test_internal_errors_are_500_without_traceback(tmp_path):
    from starlette.testclient import TestClient

    class BuggyStore(SqlStore):
        def get_run(self, run_id):
            raise ZeroDivisionError("secret internals")

    store = BuggyStore(f"sqlite:///{tmp_path / 'b.db'}", "mlflow-artifacts:/")
    http = TestClient(create_app(store, None), raise_server_exceptions=False)
    response = http.get(f"{API}/runs/get", params={"run_id": "a" * 32})
    assert_error(response, 500, "INTERNAL_ERROR")
    assert "secret" not in response.text and "ZeroDivision" not in response.text
    store.close()


def test_auth_token_and_basic(backing_store, monkeypatch):
    from starlette.testclient import TestClient

    from tracklet.server.inprocess import AsgiTransport
    from tracklet.tracking.stores.rest import RestStore

    app = create_app(backing_store, None, Auth(username="ann", password="pw", token="s3cret"))
    http = TestClient(app)
    assert_error(http.get(f"{API}/experiments/get", params={"experiment_id": "0"}), 401, "UNAUTHENTICATED")
    wrong = {"Authorization": "Bearer nope"}
    assert http.get(f"{API}/experiments/get", params={"experiment_id": "0"}, headers=wrong).status_code == 401
    assert http.get("/health").status_code == 200
    store = RestStore("http://testserver", AsgiTransport(app))
    monkeypatch.setenv("TRACKLET_TRACKING_TOKEN", "s3cret")
    assert store.get_experiment("0").name == "Default"
    monkeypatch.delenv("TRACKLET_TRACKING_TOKEN")
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "ann")  # MLflow's names work as a fallback
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "pw")
    assert store.get_experiment("0").name == "Default"
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "bad")
    with pytest.raises(Exception) as err:
        store.get_experiment("0")
    assert err.value.error_code == "UNAUTHENTICATED"


def test_artifacts_only_and_prometheus(backing_store, destination):
    from starlette.testclient import TestClient

    from tracklet.tracking.artifacts.local import LocalArtifactRepository

    repo = LocalArtifactRepository(str(destination))
    only = TestClient(create_app(None, repo, artifacts_only=True))
    assert only.get(f"{API}/experiments/get", params={"experiment_id": "0"}).status_code == 503
    assert only.put("/api/2.0/mlflow-artifacts/artifacts/a.txt", content=b"x").status_code == 200
    http = TestClient(create_app(backing_store, repo, expose_prometheus=True))
    http.get(f"{API}/experiments/get", params={"experiment_id": "0"})
    text = http.get("/metrics").text
    assert 'tracklet_http_requests_total{method="GET",route="/api/2.0/mlflow/experiments/get",status="200"} 1' in text


def test_nan_metric_values_stay_valid_json(http):
    run_id = new_run(http)
    metrics = [{"key": k, "value": v, "timestamp": T0} for k, v in (("a", "NaN"), ("b", "Infinity"))]
    http.post(f"{API}/runs/log-batch", json={"run_id": run_id, "metrics": metrics})
    history = strict_json(http.get(f"{API}/metrics/get-history", params={"run_id": run_id, "metric_key": "a"}).text)
    assert history["metrics"][0]["value"] == "NaN"
    from tracklet.tracking import wire

    assert math.isnan(wire.float_from_json(history["metrics"][0]["value"]))


@pytest.mark.parametrize(
    "body",
    [
        {"filter": "metrics.a > 1" + "0" * 400},
        {"filter": "metrics.a > 99999999999999999999"},
        {"filter": "params.p = '" + "x" * 100000 + "'"},
        {"filter": " and ".join(["metrics.a > 1"] * 3000)},
        {"order_by": ["metrics.a"] * 500},
    ],
)
def test_extreme_searches_are_answered(http, body):
    new_run(http)
    response = http.post(f"{API}/runs/search", json={"experiment_ids": ["0"], **body})
    assert response.status_code in (200, 400), response.text[:300]
    if response.status_code == 400:
        assert_error(response, 400, "INVALID_PARAMETER_VALUE")


def test_fixed_paths_resolve_before_parameter_routes_as_listed(http):
    """Fixed paths are found by dictionary; a fixed path with another method falls through to the routes with
    parameters (GET logged-models/search is the model named 'search'), else 405."""
    assert http.get("/health").text == "OK"
    assert http.get("/ajax-api/2.0/mlflow/experiments/get", params={"experiment_id": "0"}).status_code == 200
    found = http.post(f"{API}/logged-models/search", json={"experiment_ids": ["0"]})
    assert found.status_code == 200 and found.json().get("models", []) == []
    assert_error(http.get(f"{API}/logged-models/search"), 404, "RESOURCE_DOES_NOT_EXIST")
    assert_error(http.delete(f"{API}/runs/search"), 405, "ENDPOINT_NOT_FOUND")


def test_replies_fall_back_to_the_standard_json_for_what_orjson_refuses():
    from tracklet.server import _endpoint

    assert _endpoint._orjson is not None, "orjson is in the server extra"
    fast = _endpoint._dumps({"runs": [{"key": "k", "value": 1.5, "step": 2**62}]})
    assert json.loads(fast) == {"runs": [{"key": "k", "value": 1.5, "step": 2**62}]}
    # a lone surrogate (JSON allows "\ud800" escapes) and an integer beyond 64 bits: orjson raises, json answers
    for data in ({"value": "\ud800"}, {"step": 2**70}):
        assert json.loads(_endpoint._dumps(data)) == data
