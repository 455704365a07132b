"""The artifact proxy over a real socket: round trips, streaming, and hostile paths that must never escape."""

from __future__ import annotations

import hashlib
import http.client
import os
from urllib.parse import urlparse

import pytest

from tests.server.conftest import API
from tracklet.tracking.artifacts import get_artifact_repository
from tracklet.tracking.artifacts.http import HttpArtifactRepository

PROXY = "/api/2.0/mlflow-artifacts/artifacts"


def raw_request(url: str, method: str, target: str, body: bytes | None = None) -> tuple[int, bytes]:
    """Send ``target`` exactly as written (no client-side normalisation of '..' or percent-escapes)."""
    parsed = urlparse(url)
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30)
    try:
        conn.putrequest(method, target, skip_accept_encoding=True)
        conn.putheader("Content-Length", str(len(body or b"")))
        conn.endheaders(body or b"")
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


@pytest.fixture
def outside(tmp_path):
    """A secret file beside (not inside) the artifact destination, and a symlink into it from inside."""
    secret_dir = tmp_path / "outside"
    secret_dir.mkdir()
    (secret_dir / "secret.txt").write_text("TOP-SECRET")
    return secret_dir


HOSTILE = [
    "../outside/secret.txt",
    "a/../../outside/secret.txt",
    "%2e%2e/outside/secret.txt",
    "%2E%2E%2Foutside%2Fsecret.txt",
    "%252e%252e/outside/secret.txt",
    "%252e%252e%252foutside%252fsecret.txt",
    "..%2foutside%2fsecret.txt",
    "..%5coutside%5csecret.txt",
    "a\\..\\..\\outside\\secret.txt",
    "%5c..%5c..%5coutside%5csecret.txt",
    "/" + "x/../" * 3 + "etc/passwd",
    "%2fetc%2fpasswd",
    "/etc/passwd",
    "C:/Windows/win.ini",
    "a/%00/b",
    "link/secret.txt",
    "link",
    ".",
    "",
]


@pytest.mark.parametrize("path", HOSTILE)
@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_hostile_paths_never_escape(live_url, destination, outside, path, method):
    (destination / "link").symlink_to(outside, target_is_directory=True)
    before = sorted(os.listdir(outside.parent))
    status, body = raw_request(live_url, method, f"{PROXY}/{path}", b"PWNED" if method == "PUT" else None)
    assert status in (400, 404, 405), (status, body)
    assert b"TOP-SECRET" not in body and b"root:" not in body
    assert b"Traceback" not in body
    assert (outside / "secret.txt").read_text() == "TOP-SECRET"
    assert sorted(os.listdir(outside)) == ["secret.txt"]
    assert sorted(os.listdir(outside.parent)) == before
    for folder, _, files in os.walk(destination):
        for name in files:
            assert open(os.path.join(folder, name), "rb").read() != b"PWNED"


@pytest.mark.parametrize("path", ["../outside", "%2e%2e", "link", "/etc", "a\\..\\.."])
def test_hostile_listing_paths(live_url, destination, outside, path):
    (destination / "link").symlink_to(outside, target_is_directory=True)
    status, body = raw_request(live_url, "GET", f"{PROXY}?path={path}")
    assert status == 400, body
    assert b"secret" not in body


def test_hostile_run_artifact_listing(live_url, http, outside):
    run_id = http.post(f"{API}/runs/create", json={"experiment_id": "0"}).json()["run"]["info"]["run_id"]
    for path in ("../../..", "..%2f..", "%252e%252e/%252e%252e"):
        status, body = raw_request(live_url, "GET", f"{API}/artifacts/list?run_id={run_id}&path={path}")
        assert status == 400, body


def test_roundtrip_streaming_and_listing(live_url, tmp_path, destination):
    repo = HttpArtifactRepository("mlflow-artifacts:/0/run1/artifacts", tracking_uri=live_url)
    big = tmp_path / "big.bin"
    with open(big, "wb") as out:  # 24 MB in 1 MB chunks: streamed up and down
        for i in range(24):
            out.write(hashlib.sha256(str(i).encode()).digest() * 32768)
    src = tmp_path / "tree"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_text("alpha")
    (src / "sub" / "b.txt").write_text("beta")
    repo.log_artifact(str(big), "data")
    repo.log_artifacts(str(src), "tree")
    on_disk = destination / "0" / "run1" / "artifacts"
    assert (on_disk / "data" / "big.bin").stat().st_size == big.stat().st_size
    assert (on_disk / "tree" / "sub" / "b.txt").read_text() == "beta"
    assert not [n for n in os.listdir(on_disk / "data") if n.endswith(".part")]
    assert [(f.path, f.is_dir) for f in repo.list_artifacts()] == [("data", True), ("tree", True)]
    listed = repo.list_artifacts("tree")
    assert [(f.path, f.is_dir, f.file_size) for f in listed] == [("tree/a.txt", False, 5), ("tree/sub", True, None)]
    assert repo.list_artifacts("tree/a.txt") == []
    out = repo.download_artifacts("", str(tmp_path / "down"))
    digest = hashlib.sha256(open(os.path.join(out, "data", "big.bin"), "rb").read()).hexdigest()
    assert digest == hashlib.sha256(big.read_bytes()).hexdigest()
    assert open(os.path.join(out, "tree", "sub", "b.txt")).read() == "beta"
    repo.delete_artifacts("tree/sub")
    assert [f.path for f in repo.list_artifacts("tree")] == ["tree/a.txt"]
    from tracklet.exceptions import ResourceDoesNotExist

    with pytest.raises(ResourceDoesNotExist):
        repo.download_artifacts("tree/missing.txt", str(tmp_path / "none"))


def test_repository_by_uri(live_url):
    assert isinstance(get_artifact_repository("mlflow-artifacts:/0/x", live_url), HttpArtifactRepository)
    direct = get_artifact_repository(f"{live_url}{PROXY}/0/x")
    assert isinstance(direct, HttpArtifactRepository) and direct.root == "0/x"
    from tracklet.exceptions import InvalidParameterValue

    with pytest.raises(InvalidParameterValue, match="http"):
        HttpArtifactRepository("mlflow-artifacts:/0/x", tracking_uri="sqlite:///x.db")
