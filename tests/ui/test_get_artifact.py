"""``GET /get-artifact``: run artifacts streamed for the UI (proxied and local roots), and hostile paths refused."""

from __future__ import annotations

import base64
import json
import os
import tempfile
import urllib.error
import urllib.request
from urllib.parse import quote

import pytest

import tracklet
from tests.server.conftest import LiveServer
from tracklet.server import create_app
from tracklet.server.auth import Auth
from tracklet.tracking.artifacts import get_artifact_repository
from tracklet.tracking.artifacts.local import LocalArtifactRepository
from tracklet.tracking.stores.sql import SqlStore


def get(url: str, headers: dict | None = None):
    """(status, headers, body) without raising on 4xx."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {})) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


@pytest.fixture
def logged(ui_server, tmp_path):
    with tracklet.start_run() as run:
        tracklet.log_text("hello artifact\n", "notes/hello.txt")
        tracklet.log_dict({"a": 1}, "config.json")
        tracklet.log_text("<script>alert(1)</script>", "page.html")
    return ui_server.url, run.info.run_id, run.info.artifact_uri


def test_streams_a_run_artifact_with_type_and_attachment(logged):
    url, run_id, _ = logged
    status, headers, body = get(f"{url}/get-artifact?run_id={run_id}&path=notes/hello.txt")
    assert status == 200 and body == b"hello artifact\n"
    assert headers["content-type"] == "text/plain; charset=utf-8"
    assert headers["content-disposition"].startswith("attachment") and "hello.txt" in headers["content-disposition"]
    status, headers, body = get(f"{url}/get-artifact?run_uuid={run_id}&path=config.json")  # MLflow's name
    assert status == 200 and json.loads(body) == {"a": 1}
    assert headers["content-type"].startswith("application/json")
    # an HTML artifact can't script the UI's origin when opened from here
    status, headers, _ = get(f"{url}/get-artifact?run_id={run_id}&path=page.html")
    assert status == 200 and headers["content-security-policy"] == "sandbox"
    assert headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    "raw_path",
    [
        "../../../etc/passwd",
        "notes/../../secret",
        "/etc/passwd",
        "%2e%2e/%2e%2e/secret",  # decoded once by the server: '../../secret'
        "%252e%252e%252fsecret",  # double encoded
        "notes%5c..%5c..%5csecret",  # backslashes
        "C:/Windows/win.ini",
        "notes/hello.txt%00.png",
    ],
)
def test_hostile_paths_are_refused_with_400(logged, raw_path):
    url, run_id, _ = logged
    status, _, body = get(f"{url}/get-artifact?run_id={run_id}&path={raw_path}")
    assert status == 400, body
    assert json.loads(body)["error_code"] == "INVALID_PARAMETER_VALUE"


def test_symlink_out_of_the_root_is_refused(logged, tmp_path):
    url, run_id, artifact_uri = logged
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret")
    run_dir = tmp_path / "mlartifacts" / artifact_uri.split(":", 1)[1].strip("/")
    os.symlink(secret, run_dir / "link.txt")
    status, _, body = get(f"{url}/get-artifact?run_id={run_id}&path=link.txt")
    assert status == 400 and b"top secret" not in body


def test_missing_file_directory_run_and_path(logged):
    url, run_id, _ = logged
    assert get(f"{url}/get-artifact?run_id={run_id}&path=nope.txt")[0] == 404
    assert get(f"{url}/get-artifact?run_id={run_id}&path=notes")[0] == 400  # a directory
    assert get(f"{url}/get-artifact?run_id={'0' * 32}&path=a.txt")[0] == 404
    assert get(f"{url}/get-artifact?run_id={run_id}")[0] == 400
    assert get(f"{url}/get-artifact?path=a.txt")[0] == 400
    # both names for two different runs: refused (an auth check reads one of them)
    assert get(f"{url}/get-artifact?run_id={run_id}&run_uuid={'0' * 32}&path=config.json")[0] == 400
    assert get(f"{url}/get-artifact?run_id={run_id}&run_uuid={run_id}&path=config.json")[0] == 200


def test_local_artifact_root_and_auth(tmp_path):
    """A store whose runs keep artifacts in a local folder (not proxied), behind basic auth."""
    root = tmp_path / "artifacts"
    store = SqlStore(f"sqlite:///{tmp_path / 'l.db'}", str(root))
    run = store.create_run("0", "me", 0, [], "local")
    repo = LocalArtifactRepository(run.info.artifact_uri)
    (tmp_path / "model.bin").write_bytes(bytes(range(256)))
    repo.log_artifact(str(tmp_path / "model.bin"))
    (tmp_path / "outside.txt").write_text("outside")
    os.symlink(tmp_path / "outside.txt", os.path.join(repo.root, "escape"))
    auth = Auth(username="u", password="p")
    with LiveServer(create_app(store, None, auth)) as url:
        q = f"{url}/get-artifact?run_id={run.info.run_id}&path="
        assert get(q + "model.bin")[0] == 401
        token = {"Authorization": "Basic " + base64.b64encode(b"u:p").decode()}
        status, headers, body = get(q + "model.bin", token)
        assert status == 200 and body == bytes(range(256))
        assert headers["content-type"] == "application/octet-stream"
        assert get(q + "escape", token)[0] == 400
        assert get(q + quote("../../../l.db"), token)[0] == 400
    store.close()


def test_other_scheme_goes_through_the_repository_lookup(tmp_path):
    """Runs whose artifact root is another server's proxy (an ``http://`` URI): fetched through the repository
    tracklet picks for the scheme, into a temporary directory that is gone once the reply is sent."""
    remote_root = tmp_path / "remote"
    remote_root.mkdir()
    with LiveServer(create_app(None, LocalArtifactRepository(str(remote_root)), artifacts_only=True)) as remote:
        store = SqlStore(f"sqlite:///{tmp_path / 'o.db'}", f"{remote}/api/2.0/mlflow-artifacts/artifacts/exp")
        run = store.create_run("0", "me", 0, [], "remote-artifacts")
        (tmp_path / "table.csv").write_text("a,b\n1,2\n")
        repo = get_artifact_repository(run.info.artifact_uri)
        repo.log_artifact(str(tmp_path / "table.csv"), "data")
        before = set(os.listdir(tempfile.gettempdir()))
        with LiveServer(create_app(store, None)) as url:
            q = f"{url}/get-artifact?run_id={run.info.run_id}&path="
            status, headers, body = get(q + "data/table.csv")
            assert status == 200 and body == b"a,b\n1,2\n"
            assert headers["content-type"] == "text/csv; charset=utf-8"
            assert get(q + "data/missing.csv")[0] == 404
            assert get(q + "data/%2e%2e/%2e%2e/o.db")[0] == 400
        leftovers = {
            n for n in set(os.listdir(tempfile.gettempdir())) - before if n.startswith("tracklet-get-artifact")
        }
        assert leftovers == set()
        store.close()
