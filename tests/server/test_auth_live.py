"""``--auth basic`` end to end: a real uvicorn server, tracklet's REST client (username/password and token),
the real ``mlflow`` client (``MLFLOW_TRACKING_USERNAME``/``PASSWORD``, its auth client too), ``python -m tracklet
users ...`` and ``python -m tracklet server --auth basic`` as processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from tests.server.conftest import LiveServer
from tests.server.test_auth_permissions import basic
from tests.server.test_cli import free_port, wait_healthy
from tracklet.server import create_app
from tracklet.server.auth_basic import BasicAuth
from tracklet.server.auth_store import AuthStore
from tracklet.tracking.artifacts.local import LocalArtifactRepository

CREDENTIAL_VARS = [f"{p}_TRACKING_{n}" for p in ("TRACKLET", "MLFLOW") for n in ("USERNAME", "PASSWORD", "TOKEN")]


@pytest.fixture
def users(backing_store):
    store = AuthStore(backing_store.db_uri, bcrypt_rounds=4)
    store.create_user("admin", "pw-admin", is_admin=True)
    store.create_user("ann", "pw-ann")
    store.create_user("viewer", "pw-viewer")
    yield store
    store.close()


@pytest.fixture
def live(backing_store, destination, users, monkeypatch):
    for var in CREDENTIAL_VARS:
        monkeypatch.delenv(var, raising=False)
    app = create_app(backing_store, LocalArtifactRepository(str(destination)), BasicAuth(users))
    with LiveServer(app) as url:
        yield url


def _status(url: str, headers: dict | None = None, method: str = "GET") -> int:
    request = urllib.request.Request(url, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_tracklet_client_with_password_then_token(live, backing_store, users, destination, monkeypatch, tmp_path):
    import tracklet
    from tracklet.exceptions import TrackletException

    monkeypatch.setenv("TRACKLET_TRACKING_USERNAME", "ann")
    monkeypatch.setenv("TRACKLET_TRACKING_PASSWORD", "pw-ann")
    tracklet.set_tracking_uri(live)
    tracklet.set_experiment("ann-team")  # ann creates it, so she manages it
    (tmp_path / "notes.txt").write_text("hello")
    with tracklet.start_run() as run:
        tracklet.log_param("alpha", 0.1)
        for step in range(3):
            tracklet.log_metric("loss", 1.0 / (step + 1), step=step)
        tracklet.log_artifact(str(tmp_path / "notes.txt"))  # through the artifact proxy
    stored = backing_store.get_run(run.info.run_id)
    exp = stored.info.experiment_id
    assert stored.data.params == {"alpha": "0.1"} and stored.info.status == "FINISHED"
    assert (destination / exp / run.info.run_id / "artifacts" / "notes.txt").read_text() == "hello"
    assert users.permissions_of("ann") == {exp: "MANAGE"}

    _tid, token = users.create_token("viewer", "ci")  # READ by default: reads, may not write
    monkeypatch.delenv("TRACKLET_TRACKING_USERNAME")
    monkeypatch.delenv("TRACKLET_TRACKING_PASSWORD")
    monkeypatch.setenv("TRACKLET_TRACKING_TOKEN", token)
    client = tracklet.MlflowClient(live)
    assert client.get_run(run.info.run_id).data.metrics == {"loss": 1.0 / 3}
    assert [m.value for m in client.get_metric_history(run.info.run_id, "loss")] == [1.0, 0.5, 1.0 / 3]
    assert [f.path for f in client.list_artifacts(run.info.run_id)] == ["notes.txt"]
    with pytest.raises(TrackletException) as denied:
        client.log_metric(run.info.run_id, "loss", 0.0)
    assert denied.value.error_code == "PERMISSION_DENIED"
    monkeypatch.setenv("TRACKLET_TRACKING_TOKEN", "tkl_not-a-token")
    with pytest.raises(TrackletException) as unknown:
        client.get_run(run.info.run_id)
    assert unknown.value.error_code == "UNAUTHENTICATED"


def test_live_server_challenges_and_decodes_paths_once(live, backing_store, users):
    assert _status(live + "/") == 401 and _status(live + "/", basic("viewer")) == 200
    assert _status(live + "/health") == 200
    exp = backing_store.create_experiment("one")
    users.set_permission("ann", exp, "MANAGE")
    proxy = live + "/api/2.0/mlflow-artifacts/artifacts"
    assert _status(f"{proxy}/{exp}/x.txt", basic("ann"), "PUT") == 200
    # "%2531" decodes once to "%31": the handler's path starts with the folder "%31", not experiment 1: admins only
    encoded = f"%25{ord(exp[0]):x}{exp[1:]}"
    assert _status(f"{proxy}/{encoded}/x.txt", basic("ann"), "PUT") == 403


def test_mlflow_client_and_its_auth_client(live, backing_store, users, monkeypatch):
    mlflow = pytest.importorskip("mlflow")
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "ann")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "pw-ann")
    client = mlflow.MlflowClient(tracking_uri=live)
    exp = client.create_experiment("from-mlflow")
    run = client.create_run(exp)
    client.log_metric(run.info.run_id, "acc", 0.9)
    client.log_dict(run.info.run_id, {"k": 1}, "cfg.json")
    assert backing_store.get_run(run.info.run_id).data.metrics == {"acc": 0.9}
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "viewer")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "pw-viewer")
    assert client.get_run(run.info.run_id).data.metrics == {"acc": 0.9}
    with pytest.raises(mlflow.exceptions.MlflowException) as denied:
        client.log_metric(run.info.run_id, "acc", 0.1)
    assert "PERMISSION_DENIED" in str(denied.value) or "403" in str(denied.value)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "wrong")
    with pytest.raises(mlflow.exceptions.MlflowException):
        client.get_run(run.info.run_id)

    # the calls MLflow's AuthServiceClient makes (it needs Flask-WTF to import), with mlflow's own credentials path
    from mlflow.utils.credentials import get_default_host_creds
    from mlflow.utils.rest_utils import http_request

    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "admin")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "pw-admin")
    creds = get_default_host_creds(live)
    users_api = "/api/2.0/mlflow/users"
    created = http_request(creds, f"{users_api}/create", "POST", json={"username": "carol", "password": "pw-c"})
    assert created.status_code == 200 and created.json()["user"]["username"] == "carol"
    assert http_request(creds, f"{users_api}/get", "GET", params={"username": "carol"}).json()["user"]["id"]
    changed = {"username": "carol", "password": "pw-new"}
    assert http_request(creds, f"{users_api}/update-password", "PATCH", json=changed).status_code == 200
    assert users.verify_password("carol", "pw-new") is not None
    assert http_request(creds, f"{users_api}/delete", "DELETE", json={"username": "carol"}).status_code == 200
    assert users.find_user("carol") is None


def _tracklet(*args: str, env: dict | None = None, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tracklet", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        input=stdin,
        timeout=120,
    )


def test_users_cli_end_to_end(tmp_path):
    db = f"sqlite:///{tmp_path / 'server.db'}"
    where = ["--backend-store-uri", db]
    (tmp_path / "pw").write_text("pw-ann\n")
    done = _tracklet("users", "create", "ann", "--password-file", str(tmp_path / "pw"), *where)
    assert done.returncode == 0 and "Created user 'ann'" in done.stdout, done.stderr
    assert (
        _tracklet("users", "create", "root", "--admin", *where, env={"TRACKLET_USER_PASSWORD": "pw-root"}).returncode
        == 0
    )  # noqa: E501
    no_password = _tracklet("users", "create", "eve", *where, stdin="")
    assert no_password.returncode != 0 and "--password-file" in no_password.stderr
    assert _tracklet("users", "grant", "ann", "7", "edit", *where).returncode == 0
    bad = _tracklet("users", "grant", "ann", "7", "owner", *where)
    assert (
        bad.returncode == 1
        and bad.stderr.startswith("error: INVALID_PARAMETER_VALUE")
        and "Traceback" not in bad.stderr
    )  # noqa: E501
    listed = json.loads(_tracklet("users", "list", "--json", *where).stdout)
    assert [(u["username"], u["is_admin"]) for u in listed] == [("ann", False), ("root", True)]
    token = json.loads(_tracklet("users", "token", "ann", "--label", "ci", "--json", *where).stdout)
    assert token["token"].startswith("tkl_")

    store = AuthStore(db)
    assert store.permissions_of("ann") == {"7": "EDIT"}
    assert store.user_for_token(token["token"]).username == "ann"
    assert store.verify_password("ann", "pw-ann") and store.verify_password("root", "pw-root")
    assert _tracklet("users", "revoke-token", "ann", str(token["token_id"]), *where).returncode == 0
    assert store.user_for_token(token["token"]) is None
    assert _tracklet("users", "revoke", "ann", "7", *where).returncode == 0
    assert store.permissions_of("ann") == {}
    assert _tracklet("users", "passwd", "ann", *where, env={"TRACKLET_USER_PASSWORD": "changed"}).returncode == 0
    assert store.verify_password("ann", "changed") and not store.verify_password("ann", "pw-ann")
    assert _tracklet("users", "delete", "ann", *where).returncode == 0
    assert store.find_user("ann") is None
    store.close()

    mlruns = tmp_path / "mlruns"  # a file store keeps its users in <root>/auth.db
    mlruns.mkdir()
    file_where = ["--backend-store-uri", str(mlruns)]
    assert _tracklet("users", "create", "fan", *file_where, env={"TRACKLET_USER_PASSWORD": "x"}).returncode == 0
    assert (mlruns / "auth.db").exists()


def test_server_process_with_auth_basic(tmp_path):
    db = f"sqlite:///{tmp_path / 'server.db'}"
    base = [sys.executable, "-m", "tracklet", "server", "--auth", "basic", "--backend-store-uri", db]
    refused = subprocess.run([*base, "--port", "0"], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert refused.returncode != 0 and "needs a user" in refused.stderr
    refused = _tracklet("server", "--auth", "basic", "--backend-store-uri", db, "--admin-username", "boss")
    assert refused.returncode != 0 and "no default password" in refused.stderr

    port = free_port()
    env = {**os.environ, "TRACKLET_ADMIN_USERNAME": "boss", "TRACKLET_ADMIN_PASSWORD": "pw-boss"}
    for var in CREDENTIAL_VARS:
        env.pop(var, None)
    proc = subprocess.Popen(
        [*base, "--port", str(port), "--artifacts-destination", str(tmp_path / "art")],
        cwd=tmp_path,
        env=env,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc)
        get = f"{url}/api/2.0/mlflow/experiments/get?experiment_id=0"
        assert _status(get) == 401
        assert _status(get, basic("boss", "pw-boss")) == 200
        assert _status(get, basic("boss", "wrong")) == 401
    finally:
        proc.terminate()
        proc.wait(20)
    assert AuthStore(db).get_user("boss").is_admin
