"""Property-based fuzzing of the whole API (hypothesis): whatever arrives, the answer is never a 5xx, never a
traceback, and every error is a JSON ``{"error_code", "message"}``."""

from __future__ import annotations

import json
import warnings
from urllib.parse import quote

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from tracklet.server import create_app  # noqa: E402
from tracklet.server.app import API_PREFIXES, TRACKING_ROUTES  # noqa: E402
from tracklet.server.logged_models_api import ROUTES as MODEL_ROUTES  # noqa: E402
from tracklet.tracking.artifacts.local import LocalArtifactRepository  # noqa: E402
from tracklet.tracking.stores.sql import SqlStore  # noqa: E402

FIELDS = [
    "run_id", "run_uuid", "experiment_id", "experiment_ids", "name", "key", "value", "timestamp", "step",
    "metrics", "params", "tags", "max_results", "page_token", "filter", "order_by", "view_type",
    "run_view_type", "status", "end_time", "start_time", "run_name", "user_id", "model_json", "datasets",
    "metric_key", "run_ids", "start_step", "end_step", "new_name", "experiment_name", "model_id", "models",
    "source_run_id", "model_type", "path", "allow_deleted", "artifact_location",
]  # fmt: skip

SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)


@pytest.fixture
def world(tmp_path):
    """An app over a store holding one experiment, run (with a metric) and logged model the fuzzer may hit."""
    store = SqlStore(f"sqlite:///{tmp_path / 'fuzz.db'}", "mlflow-artifacts:/")
    (tmp_path / "dest").mkdir()
    app = create_app(store, LocalArtifactRepository(str(tmp_path / "dest")), max_body_bytes=256 * 1024)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient

        client = TestClient(app, raise_server_exceptions=False)
    eid = store.create_experiment("fuzz")
    run = store.create_run(eid, "u", 1, [], "r")
    model = store.logged_models.create(eid, "m", run.info.run_id)
    known = [eid, run.info.run_id, model.model_id, "0", "m", "loss"]
    yield client, known
    client.close()
    store.close()


def json_values(known):
    scalars = (
        st.none()
        | st.booleans()
        | st.integers(min_value=-(2**70), max_value=2**70)
        | st.floats(allow_nan=True, allow_infinity=True)
        | st.text(max_size=30)
        | st.sampled_from(known + ["NaN", "Infinity", "-1", "ACTIVE_ONLY", "READY", "../x", "%2e%2e"])
    )
    return st.recursive(
        scalars,
        lambda inner: (
            st.lists(inner, max_size=4)
            | st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8), inner, max_size=4)
        ),
        max_leaves=12,
    )


def check(response) -> None:
    assert response.status_code < 500, (response.status_code, response.text[:500])
    assert "Traceback" not in response.text and 'File "' not in response.text
    if response.status_code >= 400:
        body = response.json()
        assert set(body) == {"error_code", "message"} and body["message"]


ROUTES = [(p, m) for p, methods, _ in TRACKING_ROUTES + MODEL_ROUTES for m in methods]


@given(data=st.data())
@SETTINGS
def test_json_bodies_never_break_the_server(world, data):
    client, known = world
    path, method = data.draw(st.sampled_from(ROUTES))
    path = path.replace("{model_id}", data.draw(st.sampled_from(known))).replace("{tag_key:path}", "k")
    body = data.draw(st.dictionaries(st.sampled_from(FIELDS), json_values(known), max_size=6) | json_values(known))
    prefix = data.draw(st.sampled_from(API_PREFIXES))
    if method in ("GET", "DELETE"):
        params = (
            {k: json.dumps(v) if not isinstance(v, str) else v for k, v in body.items()}
            if isinstance(body, dict)
            else {}
        )
        response = client.request(method, prefix + path, params=params)
    else:
        response = client.request(method, prefix + path, content=json.dumps(body).encode())
    check(response)


@given(raw=st.binary(max_size=300), path=st.sampled_from(ROUTES))
@SETTINGS
def test_raw_bytes_never_break_the_server(world, raw, path):
    client, _ = world
    route, method = path
    check(
        client.request(
            method if method != "GET" else "POST",
            API_PREFIXES[0] + route.replace("{model_id}", "x").replace("{tag_key:path}", "k"),
            content=raw,
        )
    )


@given(path=st.text(max_size=60), method=st.sampled_from(["GET", "PUT", "DELETE"]), listing=st.booleans())
@SETTINGS
def test_artifact_paths_never_break_the_server(world, path, method, listing):
    client, _ = world
    if listing:
        response = client.get("/api/2.0/mlflow-artifacts/artifacts", params={"path": path})
    else:
        target = "/api/2.0/mlflow-artifacts/artifacts/" + quote(path, safe="/%")
        response = client.request(method, target, content=b"x")
    if response.status_code != 200 or listing or method != "GET":
        check(response)
