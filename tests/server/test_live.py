"""tracklet as a client of a real uvicorn server on 127.0.0.1: the REST store over sockets, the fluent API with
artifacts, retries and connection errors."""

from __future__ import annotations

import json
import threading

import pytest

import tracklet
from tests.stores import test_contract as contract
from tracklet.exceptions import TrackletException
from tracklet.tracking.stores._http import TransportError
from tracklet.tracking.stores.rest import RestStore


@pytest.fixture
def live_store(live_url):
    store = RestStore(live_url)
    yield store
    store.close()


@pytest.mark.parametrize(
    "check",
    [
        contract.test_create_run_fields,
        contract.test_log_batch_roundtrip,
        contract.test_log_batch_with_invalid_entity_writes_nothing,
        contract.test_nan_and_inf_round_trip,
        contract.test_delete_and_restore_run,
        contract.test_record_logged_model_concurrent_appends_all_land,
        contract.test_thread_safety_smoke,
        contract.test_log_inputs_roundtrip_and_dedup,
    ],
    ids=lambda f: f.__name__,
)
def test_store_contract_over_sockets(live_store, check):
    check(live_store)


def test_fluent_api_with_artifacts(live_url, tmp_path, destination):
    tracklet.set_tracking_uri(live_url)
    tracklet.set_experiment("remote")
    with tracklet.start_run(run_name="over-http") as run:
        tracklet.log_params({"lr": 0.1, "layers": 3})
        for step in range(5):
            tracklet.log_metric("loss", 1 / (step + 1), step=step)
        tracklet.log_dict({"a": 1}, "config/params.json")
        (tmp_path / "notes.txt").write_text("hello")
        tracklet.log_artifact(str(tmp_path / "notes.txt"))
    got = tracklet.get_run(run.info.run_id)
    assert got.info.status == "FINISHED"
    assert got.info.artifact_uri.startswith("mlflow-artifacts:/")
    assert got.data.params == {"lr": "0.1", "layers": "3"} and got.data.metrics["loss"] == 0.2
    client = tracklet.MlflowClient()
    assert [m.step for m in client.get_metric_history(run.info.run_id, "loss")] == list(range(5))
    assert [f.path for f in client.list_artifacts(run.info.run_id)] == ["config", "notes.txt"]
    local = client.download_artifacts(run.info.run_id, "config/params.json", str(tmp_path / "dl"))
    assert json.load(open(local)) == {"a": 1}
    eid = got.info.experiment_id
    assert (destination / eid / run.info.run_id / "artifacts" / "notes.txt").read_text() == "hello"
    runs = tracklet.search_runs(filter_string="params.lr = '0.1'", output_format="list")
    assert [r.info.run_id for r in runs] == [run.info.run_id]


def test_connection_refused_raises_after_retries(monkeypatch):
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("TRACKLET_HTTP_REQUEST_MAX_RETRIES", "2")
    monkeypatch.setenv("TRACKLET_HTTP_REQUEST_BACKOFF_FACTOR", "0")
    store = RestStore(f"http://127.0.0.1:{port}")
    with pytest.raises(TransportError) as err:
        store.get_experiment("0")
    assert err.value.sent is False


def test_retries_on_503_and_429_for_idempotent_calls(app, monkeypatch):
    """A flaky front (the real app behind) answers 503 then 429 before letting requests through."""
    from tests.server.conftest import LiveServer

    failures = {"left": 0, "status": 503}
    lock = threading.Lock()

    async def flaky(scope, receive, send):
        if scope["type"] == "http":
            with lock:
                fail = failures["left"] > 0
                failures["left"] -= fail
            if fail:
                await send(
                    {"type": "http.response.start", "status": failures["status"], "headers": [(b"retry-after", b"0")]}
                )
                await send({"type": "http.response.body", "body": b"busy"})
                return
        await app(scope, receive, send)

    monkeypatch.setenv("TRACKLET_HTTP_REQUEST_BACKOFF_FACTOR", "0")
    with LiveServer(flaky) as url:
        store = RestStore(url)
        failures["left"] = 2
        assert store.get_experiment("0").name == "Default"  # retried twice, then served
        assert failures["left"] == 0
        failures.update(left=2, status=429)
        run_id = contract.new_run(store).info.run_id  # not idempotent, but a 429 was not processed: retried
        assert failures["left"] == 0
        failures.update(left=1, status=503)
        with pytest.raises(TrackletException) as err:  # a metric batch is not idempotent: no retry
            store.log_batch(run_id, [contract.Metric("m", 1.0, contract.T0, 0)], [], [])
        assert "503" in str(err.value)
        assert store.get_metric_history(run_id, "m") == []
        store.close()
