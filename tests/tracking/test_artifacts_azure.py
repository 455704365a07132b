"""Azure Blob specifics (the shared contract is in test_artifact_repositories.py): URIs, credentials, files sent as
blocks and committed only when whole, against Azurite on 127.0.0.1."""

from __future__ import annotations

import hashlib
import os

import pytest

from tracklet.exceptions import InvalidParameterValue, TrackletException
from tracklet.tracking.artifacts import get_artifact_repository

pytest.importorskip("azure.storage.blob")

from tracklet.tracking.artifacts.azure import BLOCK, parse_azure_uri  # noqa: E402


@pytest.mark.parametrize(
    "uri,expected",
    [
        ("wasbs://c@acct.blob.core.windows.net/a/b", ("c", "acct", "acct.blob.core.windows.net", "a/b")),
        ("abfss://c@acct.dfs.core.windows.net/a", ("c", "acct", "acct.blob.core.windows.net", "a")),
        ("wasbs://c@acct.blob.core.chinacloudapi.cn/x", ("c", "acct", "acct.blob.core.chinacloudapi.cn", "x")),
        ("wasbs://c@acct.blob.core.windows.net/d%20e", ("c", "acct", "acct.blob.core.windows.net", "d e")),
    ],
)
def test_uris_name_container_account_and_the_blob_endpoint(uri, expected):
    assert parse_azure_uri(uri) == expected


@pytest.mark.parametrize(
    "uri",
    [
        "wasbs://acct.blob.core.windows.net/x",
        "wasbs://c@acct/x",
        "wasbs://c@acct.file.core.windows.net/x",
        "wasbs://c@acct.blob.core.windows.net/x?sig=1",
        "abfss://@acct.dfs.core.windows.net/x",
    ],
)
def test_malformed_uris_are_refused(uri):
    with pytest.raises(InvalidParameterValue, match="Azure artifact URI"):
        get_artifact_repository(uri)


def test_a_connection_string_for_another_account_is_refused(azurite, monkeypatch):
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite)
    with pytest.raises(InvalidParameterValue, match="for account 'devstoreaccount1'.*'other'"):
        get_artifact_repository("wasbs://c@other.blob.core.windows.net/x")


def test_without_credentials_the_error_names_the_ways_to_give_them(monkeypatch):
    monkeypatch.delenv("AZURE_STORAGE_CONNECTION_STRING", raising=False)
    monkeypatch.delenv("AZURE_STORAGE_ACCESS_KEY", raising=False)
    try:
        import azure.identity  # noqa: F401

        pytest.skip("azure-identity is installed: DefaultAzureCredential is used instead")
    except ImportError:
        pass
    with pytest.raises(TrackletException, match="AZURE_STORAGE_CONNECTION_STRING or AZURE_STORAGE_ACCESS_KEY"):
        get_artifact_repository("wasbs://c@nocreds.blob.core.windows.net/x")


def test_an_access_key_is_used_for_the_uris_account(azurite, azure_container, monkeypatch, tmp_path):
    """The connection string wins over AZURE_STORAGE_ACCESS_KEY; alone, the key signs requests to the URI's own
    account endpoint (a public endpoint cannot be reached from here: the client is inspected, not called)."""
    from tracklet.tracking.artifacts import azure

    monkeypatch.setenv("AZURE_STORAGE_ACCESS_KEY", "a2V5")
    repo = get_artifact_repository(f"wasbs://{azure_container.container_name}@devstoreaccount1.blob.core.windows.net/r")
    repo.log_artifact(_write(tmp_path / "f.txt", b"x"))  # the connection string (set by the fixture) won
    assert [f.path for f in repo.list_artifacts()] == ["f.txt"]
    monkeypatch.delenv("AZURE_STORAGE_CONNECTION_STRING")
    keyed = azure.AzureBlobArtifactRepository("wasbs://c@keyed.blob.core.windows.net/r")
    assert keyed._container.url.startswith("https://keyed.blob.core.windows.net/c")
    assert keyed._container.credential.account_name == "keyed"


def test_large_files_go_as_blocks_and_come_back_whole(azure_container, tmp_path):
    data = os.urandom(BLOCK * 2 + 12345)
    uri = f"wasbs://{azure_container.container_name}@devstoreaccount1.blob.core.windows.net/run/artifacts"
    repo = get_artifact_repository(uri)
    repo.log_artifact(_write(tmp_path / "model.bin", data), "m")
    committed, uncommitted = azure_container.get_blob_client("run/artifacts/m/model.bin").get_block_list("all")
    assert [b.size for b in committed] == [BLOCK, BLOCK, 12345] and not uncommitted
    got = repo.download_artifacts("m/model.bin", str(tmp_path / "dl"))
    assert hashlib.sha256(open(got, "rb").read()).digest() == hashlib.sha256(data).digest()


def _write(path, data: bytes) -> str:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    return str(path)
