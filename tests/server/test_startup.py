"""Listening before the store is open: /health answers at once, other requests wait, a failed start is reported."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import httpx
import pytest

from tracklet.server._startup import DeferredApp
from tracklet.server.app import create_app
from tracklet.tracking.stores.sql import SqlStore


@pytest.fixture
def anyio_backend():
    return "asyncio"


def _client(app) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


@pytest.mark.anyio
async def test_health_answers_while_building_and_api_waits_for_the_app(tmp_path):
    release = threading.Event()
    store = SqlStore(f"sqlite:///{tmp_path / 's.db'}", "mlflow-artifacts:/")

    def build():
        release.wait(30)
        return create_app(store)

    app = DeferredApp(build)
    app.start()
    async with _client(app) as client:
        health = await client.get("/health")
        assert health.status_code == 200 and health.text == "OK"
        release.set()  # the API request below can only be answered by the built app
        response = await client.get("/api/2.0/mlflow/experiments/get", params={"experiment_id": "0"})
        assert response.status_code == 200 and response.json()["experiment"]["name"] == "Default"
        missing = await client.get("/api/2.0/mlflow/nope")
        assert missing.status_code == 404 and missing.json()["error_code"] == "ENDPOINT_NOT_FOUND"
    store.close()


@pytest.mark.anyio
async def test_a_failed_build_is_reported_and_answered_503():
    errors = []

    def build():
        raise RuntimeError("database is on fire")

    app = DeferredApp(build, errors.append)
    async with _client(app) as client:
        response = await client.post("/api/2.0/mlflow/runs/create", json={})
        assert response.status_code == 503
        assert "database is on fire" in response.json()["message"]
        assert (await client.get("/health")).status_code == 503
    assert [str(e) for e in errors] == ["database is on fire"]


def test_server_with_an_unusable_store_exits_1_with_the_reason(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    args = [sys.executable, "-m", "tracklet", "server", "--port", "0"]
    args += ["--backend-store-uri", f"sqlite:///{blocker}/sub/s.db", "--artifacts-destination", str(tmp_path / "a")]
    proc = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, timeout=120, env=dict(os.environ))
    assert proc.returncode == 1
    assert "cannot start" in proc.stderr and "s.db" in proc.stderr
    assert "Traceback" not in proc.stderr
