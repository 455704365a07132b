"""Server fixtures: an app over a fresh SQLite store (in-process client), and one real uvicorn on 127.0.0.1."""

from __future__ import annotations

import threading
import warnings

import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")
pytest.importorskip("httpx")

from tracklet.server import create_app  # noqa: E402
from tracklet.tracking.artifacts.local import LocalArtifactRepository  # noqa: E402
from tracklet.tracking.stores.sql import SqlStore  # noqa: E402

API = "/api/2.0/mlflow"


@pytest.fixture
def backing_store(tmp_path):
    store = SqlStore(f"sqlite:///{tmp_path / 'server.db'}", "mlflow-artifacts:/")
    yield store
    store.close()


@pytest.fixture
def destination(tmp_path):
    path = tmp_path / "mlartifacts"
    path.mkdir()
    return path


@pytest.fixture
def app(backing_store, destination):
    return create_app(backing_store, LocalArtifactRepository(str(destination)))


@pytest.fixture
def http(app):
    """An HTTP client calling the app in-process (a real ASGI cycle, no socket)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient

        client = TestClient(app, raise_server_exceptions=False)
    yield client
    client.close()


class LiveServer:
    """uvicorn serving ``app`` on 127.0.0.1 (a free port) in a background thread."""

    def __init__(self, app):
        import uvicorn

        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        while not self.server.started:
            if not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            self.thread.join(0.01)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture
def live_url(app):
    with LiveServer(app) as url:
        yield url
