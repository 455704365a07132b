"""Artifacts in Azure Blob Storage (``wasbs://`` / ``wasb://``) and ADLS Gen2 (``abfss://``), through the vendor's
SDK, azure-storage-blob.

The SDK rather than adlfs (fsspec): adlfs goes through the SDK's async client and aiohttp and pins fsspec to its
own release train, while what we need is the SDK's block API itself: a file is uploaded as *uncommitted blocks*
(invisible, in 8 MiB parts, a few in flight at a time: bounded memory) and becomes a blob only when its block
list is committed. A directory upload stages every file first and commits them all only then, so a failure
while sending leaves nothing visible (uncommitted blocks are discarded by the service). ``abfss://`` locations
are reached through the Blob endpoint of the same account (the Blob API works on hierarchical-namespace
accounts); their directory entries are not listed as files.

URIs: ``wasbs://<container>@<account>.blob.core.windows.net/<path>``,
``abfss://<container>@<account>.dfs.core.windows.net/<path>``. Credentials, as the Azure tools read them:
``AZURE_STORAGE_CONNECTION_STRING`` (its account must be the URI's; also the way to reach Azurite or another
endpoint), else ``AZURE_STORAGE_ACCESS_KEY`` (shared key of the URI's account), else ``DefaultAzureCredential``
when azure-identity is installed (managed identity, ``AZURE_CLIENT_ID``/``AZURE_TENANT_ID``/... , az login).
"""

from __future__ import annotations

import base64
import contextlib
import functools
import os
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import unquote, urlparse

from tracklet.exceptions import InvalidParameterValue, ResourceDoesNotExist, TrackletException
from tracklet.tracking.artifacts.remote import RemoteArtifactRepository, missing_extra

BLOCK = 8 * 1024 * 1024
IN_FLIGHT = 4  # blocks of one file sent at a time: at most IN_FLIGHT x BLOCK bytes in memory per large file
SCHEMES = ("wasbs", "wasb", "abfss")


def parse_azure_uri(uri: str) -> tuple[str, str, str, str]:
    """``(container, account, blob endpoint host, path)`` of a ``wasbs://``/``wasb://``/``abfss://`` URI."""
    parsed = urlparse(uri)
    scheme = parsed.scheme.lower()
    container, at, host = parsed.netloc.partition("@")
    account, dot, suffix = host.partition(".")
    if scheme not in SCHEMES or not at or not container or not account or not dot or parsed.query or parsed.fragment:
        raise InvalidParameterValue(
            f"Invalid Azure artifact URI {uri!r}: expected {scheme or 'wasbs'}://<container>@<account>."
            f"{'dfs' if scheme == 'abfss' else 'blob'}.core.windows.net/<path>"
        )
    service, _, domain = suffix.partition(".")
    if service not in ("blob", "dfs") or not domain:
        raise InvalidParameterValue(
            f"Invalid Azure artifact URI {uri!r}: the host must be <account>.blob.<domain> or <account>.dfs.<domain>"
        )
    return container, account, f"{account}.blob.{domain}", unquote(parsed.path).lstrip("/")


def _connection_string_account(conn: str) -> str | None:
    for part in conn.split(";"):
        key, _, value = part.partition("=")
        if key.strip().lower() == "accountname":
            return value.strip()
    return None


@functools.lru_cache(maxsize=8)
def _service(account: str, endpoint_host: str, secure: bool, conn: str | None, key: str | None):
    """One BlobServiceClient per account and credential (the SDK's clients are thread-safe)."""
    from azure.storage.blob import BlobServiceClient

    sizes = {"max_single_put_size": BLOCK, "max_block_size": BLOCK, "max_single_get_size": BLOCK}
    sizes["max_chunk_get_size"] = BLOCK
    if conn:
        named = _connection_string_account(conn)
        if named and named != account:
            raise InvalidParameterValue(
                f"AZURE_STORAGE_CONNECTION_STRING is for account {named!r}, but the artifact URI names {account!r}"
            )
        return BlobServiceClient.from_connection_string(conn, **sizes)
    url = f"{'https' if secure else 'http'}://{endpoint_host}"
    if key:
        return BlobServiceClient(url, credential={"account_name": account, "account_key": key}, **sizes)
    try:
        from azure.identity import DefaultAzureCredential
    except ImportError:
        raise TrackletException(
            f"No credentials for Azure account {account!r}: set AZURE_STORAGE_CONNECTION_STRING or "
            "AZURE_STORAGE_ACCESS_KEY, or pip install azure-identity to use DefaultAzureCredential"
        ) from None
    return BlobServiceClient(url, credential=DefaultAzureCredential(), **sizes)


@contextlib.contextmanager
def _errors(action: str, where: str):
    """The SDK's errors as TrackletExceptions naming the action and the blob."""
    from azure.core.exceptions import AzureError, ResourceNotFoundError

    try:
        yield
    except ResourceNotFoundError as exc:
        raise ResourceDoesNotExist(f"{action} {where}: {getattr(exc, 'error_code', None) or 'not found'}") from None
    except AzureError as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise TrackletException(f"{action} {where}: {message}") from None


def _is_folder(item) -> bool:
    return str((getattr(item, "metadata", None) or {}).get("hdi_isfolder", "")).lower() == "true"


def _block_id(n: int) -> str:
    # ids of one blob must all have the same length; a random part keeps two concurrent writers' blocks apart
    return base64.b64encode(f"{uuid.uuid4().hex}-{n:08d}".encode()).decode()


class AzureBlobArtifactRepository(RemoteArtifactRepository):
    """``wasbs://container@account.blob.core.windows.net/prefix``: a run's artifacts are the blobs under it."""

    def __init__(self, artifact_uri: str):
        container, account, endpoint_host, path = parse_azure_uri(artifact_uri)
        super().__init__(artifact_uri, path)
        try:
            import azure.storage.blob  # noqa: F401
        except ImportError:
            raise missing_extra(urlparse(artifact_uri).scheme.lower(), "azure", "azure-storage-blob") from None
        self.container_name = container
        secure = urlparse(artifact_uri).scheme.lower() != "wasb"
        conn = os.environ.get("AZURE_STORAGE_CONNECTION_STRING") or None
        key = os.environ.get("AZURE_STORAGE_ACCESS_KEY") or None
        self._container = _service(account, endpoint_host, secure, conn, key).get_container_client(container)
        self._where = f"{urlparse(artifact_uri).scheme}://{container}@{account}"

    def _blob(self, path: str):
        return self._container.get_blob_client(path)

    # ------------------------------------------------------------------ upload: stage blocks, then commit
    def _stage(self, local_file: str, path: str):
        """Send the file as uncommitted blocks; return the commit that makes it a blob."""
        blob = self._blob(path)
        ids = self._send_blocks(blob, local_file, path)
        return lambda: self._commit(blob, path, ids, local_file)

    def _send_blocks(self, blob, local_file: str, path: str) -> list[str]:
        with _errors("upload to", f"{self._where}/{path}"), open(local_file, "rb") as f:
            first = f.read(BLOCK)
            if not first:  # an empty file is an empty block list (the service refuses empty blocks)
                return []
            if len(first) < BLOCK:  # one block: sent on this thread (directories already run files concurrently)
                block_id = _block_id(0)
                blob.stage_block(block_id, first, length=len(first))
                return [block_id]
            return self._stage_parts(blob, f, first)

    def _stage_parts(self, blob, f, first: bytes) -> list[str]:
        """Blocks of a large file, IN_FLIGHT at a time (the next one is read only when a slot frees up)."""
        ids: list[str] = []
        slots = threading.BoundedSemaphore(IN_FLIGHT)
        with ThreadPoolExecutor(IN_FLIGHT) as pool:
            futures, data = [], first
            while data:
                block_id = _block_id(len(ids))
                ids.append(block_id)
                slots.acquire()
                future = pool.submit(blob.stage_block, block_id, data, length=len(data))
                future.add_done_callback(lambda _f: slots.release())
                futures.append(future)
                if any(fu.done() and fu.exception() for fu in futures):
                    break
                data = f.read(BLOCK)
            for future in futures:
                future.result()
        return ids

    def _commit(self, blob, path: str, ids: list[str], local_file: str) -> None:
        """Commit the staged blocks. Another writer's commit of the same blob in between discards our
        uncommitted blocks (the service keeps one list per blob): then the file is sent again, and the last
        writer wins, as with any other store."""
        from azure.core.exceptions import HttpResponseError
        from azure.storage.blob import BlobBlock

        with _errors("upload to", f"{self._where}/{path}"):
            for attempt in range(5):
                try:
                    blob.commit_block_list([BlobBlock(block_id=i) for i in ids])
                    return
                except HttpResponseError as exc:
                    if getattr(exc, "error_code", None) != "InvalidBlockList" or attempt == 4:
                        raise
                ids = self._send_blocks(blob, local_file, path)

    def _put(self, local_file: str, path: str) -> None:
        self._stage(local_file, path)()

    # ------------------------------------------------------------------ download, listing, delete
    def _get(self, path: str, local_file: str, size: int | None = None) -> None:
        with _errors("download of", f"{self._where}/{path}"), open(local_file, "wb") as f:
            # in BLOCK-sized ranges, a few at a time, written as they arrive: bounded memory
            self._blob(path).download_blob(max_concurrency=IN_FLIGHT).readinto(f)

    def _list(self, prefix: str, delimiter: str | None, folders: bool = False):
        """Blobs (and, with a delimiter, prefixes) under ``prefix``; directory entries only when ``folders``."""
        with _errors("listing of", f"{self._where}/{prefix}"):
            if delimiter:
                items = self._container.walk_blobs(name_starts_with=prefix, delimiter=delimiter, include=["metadata"])
            else:
                items = self._container.list_blobs(name_starts_with=prefix, include=["metadata"])
            for item in items:
                # hierarchical-namespace accounts list each directory as an empty blob marked hdi_isfolder
                if _is_folder(item) and not folders:
                    continue
                yield item

    def _children(self, path: str) -> list[tuple[str, bool, int | None]]:
        prefix = f"{path}/" if path else ""
        out = []
        for item in self._list(prefix, "/"):
            name = item.name[len(prefix) :]
            if name.endswith("/"):
                out.append((name.rstrip("/"), True, None))
            else:
                out.append((name, False, item.size))
        return [c for c in out if c[0]]

    def _files_under(self, path: str) -> list[tuple[str, int | None]]:
        prefix = f"{path}/" if path else ""
        return [(b.name, b.size) for b in self._list(prefix, None) if not b.name.endswith("/")]

    def _is_file(self, path: str) -> bool:
        try:
            with _errors("lookup of", f"{self._where}/{path}"):
                props = self._blob(path).get_blob_properties()
        except ResourceDoesNotExist:
            return False
        return not _is_folder(props)

    def _delete_tree(self, path: str) -> None:
        items = list(self._list(f"{path}/", None, folders=True))
        self._delete_files([b.name for b in items if not _is_folder(b)] + [path])
        for name in sorted((b.name for b in items if _is_folder(b)), key=len, reverse=True):
            self._delete_files([name])  # directory entries last, the deepest first (they must be empty)

    def _delete_files(self, paths: list[str]) -> None:
        def delete(path: str) -> None:
            try:
                with _errors("delete of", f"{self._where}/{path}"):
                    self._blob(path).delete_blob()
            except ResourceDoesNotExist:
                pass

        self._transfer([(0, lambda p=p: delete(p)) for p in paths])
