"""``tracklet server`` / ``python -m tracklet server`` / ``tracklet ui``: options, env vars, a real process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from tracklet.cli import build_parser
from tracklet.server import serve
from tracklet.tracking.stores.rest import RestStore


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited: {proc.stderr.read().decode()}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.read() == b"OK":
                    return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("server did not become healthy")


@pytest.mark.parametrize("command", [["-m", "tracklet", "server"], ["-m", "tracklet", "ui"]])
def test_server_process_serves_runs_and_artifacts(tmp_path, command):
    port = free_port()
    args = [sys.executable, *command, "--port", str(port)]
    if command[-1] == "server":
        args += [
            "--backend-store-uri",
            f"sqlite:///{tmp_path / 's.db'}",
            "--artifacts-destination",
            str(tmp_path / "a"),
        ]
    proc = subprocess.Popen(args, cwd=tmp_path, stderr=subprocess.PIPE, env=dict(os.environ))
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc)
        store = RestStore(url)
        run = store.create_run("0", "u", 1, [], "cli-run")
        assert run.info.artifact_uri == f"mlflow-artifacts:/0/{run.info.run_id}/artifacts"
        store.close()
    finally:
        proc.terminate()
        proc.wait(20)
    if command[-1] == "ui":  # the default store in the working directory
        assert (tmp_path / "tracklet.db").exists()
    else:
        assert (tmp_path / "s.db").exists()


def test_options_flags_env_and_mlflow_fallback(monkeypatch, tmp_path):
    monkeypatch.setenv("MLFLOW_BACKEND_STORE_URI", f"sqlite:///{tmp_path}/mlflow-name.db")
    monkeypatch.setenv("MLFLOW_PORT", "7001")
    args = build_parser().parse_args(["server"])
    options = serve.options_from_args(args)
    assert options["backend_store_uri"].endswith("mlflow-name.db") and args.port == 7001
    assert args.host == "127.0.0.1" and args.workers == 1
    assert options["serve_artifacts"] and options["default_artifact_root"] == serve.PROXIED_ROOT
    assert options["artifacts_destination"] == str(tmp_path / "mlartifacts")
    monkeypatch.setenv("TRACKLET_BACKEND_STORE_URI", f"sqlite:///{tmp_path}/ours.db")
    args = build_parser().parse_args(["server", "--no-serve-artifacts", "--port", "7002"])
    options = serve.options_from_args(args)
    assert options["backend_store_uri"].endswith("ours.db") and args.port == 7002
    assert not options["serve_artifacts"] and options["default_artifact_root"] is None
    args = build_parser().parse_args(["server", "--backend-store-uri", str(tmp_path / "mlruns")])
    assert type(serve.build_app(serve.options_from_args(args)).state.context.store).__name__ == "FileStore"


def test_bind_warning():
    assert serve.bind_warning("127.0.0.1", False) is None
    assert serve.bind_warning("0.0.0.0", True) is None
    assert "without authentication" in serve.bind_warning("0.0.0.0", False)
