"""Artifacts in Google Cloud Storage (``gs://bucket/prefix``), through the vendor's SDK, google-cloud-storage.

The SDK rather than gcsfs (fsspec): gcsfs pins fsspec to its own exact release (installing it would replace the
fsspec other stores use) and goes through aiohttp; the SDK is what Google documents and what MLflow uses. Files
larger than 8 MiB go as resumable uploads in 8 MiB chunks (bounded memory; the object appears only when the last
chunk is in) and come back as one streamed download written as it arrives; both ways are checksummed. A failed directory
upload deletes the objects it had completed (remote.RemoteArtifactRepository._upload).

Credentials as the Google tools find them (Application Default Credentials): ``GOOGLE_APPLICATION_CREDENTIALS``
naming a service-account key file, ``gcloud auth application-default login``, or the metadata server on Google
Cloud. ``STORAGE_EMULATOR_HOST`` (``http://host:port``) points the client at an emulator such as fake-gcs-server,
with anonymous credentials. ``GOOGLE_CLOUD_PROJECT`` names the project when the credentials don't.
"""

from __future__ import annotations

import contextlib
import functools
import mimetypes
import os
import threading
from urllib.parse import unquote, urlparse

from tracklet.exceptions import InvalidParameterValue, ResourceDoesNotExist, TrackletException
from tracklet.tracking.artifacts.remote import RemoteArtifactRepository, missing_extra

SMALL = 8 * 1024 * 1024  # files up to this size go in one request, from memory (8 at a time in a directory)
# resumable-upload chunk (a multiple of 256 KiB, as GCS requires). The SDK holds about two copies of a chunk: 8 MiB
# peaks near 16 MB (the reference's 100 MiB default: ~100 MB); larger chunks make fewer round trips, but on the
# emulator the gain was within the noise of a shared machine while the memory grew in proportion.
CHUNK = 8 * 1024 * 1024
_local = threading.local()


@functools.lru_cache(maxsize=4)
def _credentials(emulator: str | None, key_file: str | None):
    """Credentials and project, found once per configuration (finding them may ask the metadata server)."""
    if emulator:
        from google.auth.credentials import AnonymousCredentials

        return AnonymousCredentials(), os.environ.get("GOOGLE_CLOUD_PROJECT") or "test"
    import google.auth
    from google.auth.exceptions import DefaultCredentialsError

    try:
        creds, project = google.auth.default(scopes=["https://www.googleapis.com/auth/devstorage.read_write"])
    except DefaultCredentialsError as exc:
        raise TrackletException(
            "No Google Cloud credentials for gs:// artifacts: set GOOGLE_APPLICATION_CREDENTIALS to a service-account "
            f"key file or run `gcloud auth application-default login` ({str(exc).splitlines()[0]})"
        ) from None
    return creds, os.environ.get("GOOGLE_CLOUD_PROJECT") or project


def _client():
    """A client per thread and configuration (the SDK's HTTP session is not documented as thread-safe)."""
    from google.cloud import storage

    config = (os.environ.get("STORAGE_EMULATOR_HOST") or None, os.environ.get("GOOGLE_APPLICATION_CREDENTIALS"))
    clients = getattr(_local, "clients", None)
    if clients is None:
        clients = _local.clients = {}
    if config not in clients:
        creds, project = _credentials(*config)
        clients[config] = storage.Client(project=project, credentials=creds)
    return clients[config]


@contextlib.contextmanager
def _errors(action: str, where: str):
    """The SDK's errors as TrackletExceptions naming the action and the object."""
    from google.api_core.exceptions import GoogleAPIError, NotFound
    from google.auth.exceptions import GoogleAuthError

    try:
        yield
    except NotFound:
        raise ResourceDoesNotExist(f"{action} {where}: not found") from None
    except (GoogleAPIError, GoogleAuthError, ValueError, ConnectionError) as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise TrackletException(f"{action} {where}: {message}") from None
    except Exception as exc:  # requests' transport errors (the emulator or the network went away)
        if type(exc).__module__.split(".")[0] in ("requests", "urllib3", "google"):
            raise TrackletException(f"{action} {where}: {exc}") from None
        raise


class GCSArtifactRepository(RemoteArtifactRepository):
    """``gs://bucket/prefix``: a run's artifacts are the objects under ``prefix/``."""

    def __init__(self, artifact_uri: str):
        parsed = urlparse(artifact_uri)
        if not parsed.netloc or parsed.query or parsed.fragment:
            raise InvalidParameterValue(f"Invalid GCS artifact URI {artifact_uri!r}: expected gs://<bucket>/<prefix>")
        super().__init__(artifact_uri, unquote(parsed.path).lstrip("/"))
        try:
            import google.cloud.storage  # noqa: F401
        except ImportError:
            raise missing_extra("gs", "gcs", "google-cloud-storage") from None
        self.bucket_name = parsed.netloc

    def _bucket(self):
        return _client().bucket(self.bucket_name)

    def _where(self, path: str) -> str:
        return f"gs://{self.bucket_name}/{path}"

    def _put(self, local_file: str, path: str) -> None:
        with open(local_file, "rb") as f:  # what the file holds, not what stat says (/proc files say 0)
            head = f.read(SMALL + 1)
        blob = self._bucket().blob(path, chunk_size=CHUNK)
        with _errors("upload to", self._where(path)):
            if len(head) <= SMALL:  # one multipart request (the SDK would hold the whole body in memory too)
                kind = mimetypes.guess_type(local_file)[0] or "application/octet-stream"
                blob.upload_from_string(head, content_type=kind)
            else:  # a resumable upload, CHUNK bytes at a time; the object appears when the last one is in
                blob.upload_from_filename(local_file)

    def _get(self, path: str, local_file: str, size: int | None = None) -> None:
        with _errors("download of", self._where(path)):
            # one streamed response written as it arrives (bounded memory; ranged chunks would each be held whole)
            self._bucket().blob(path).download_to_filename(local_file)

    def _children(self, path: str) -> list[tuple[str, bool, int | None]]:
        prefix = f"{path}/" if path else ""
        with _errors("listing of", self._where(prefix)):
            pages = _client().list_blobs(self.bucket_name, prefix=prefix, delimiter="/")
            out = [(b.name[len(prefix) :], False, b.size) for b in pages]
            out += [(p[len(prefix) :].rstrip("/"), True, None) for p in pages.prefixes]
        return [c for c in out if c[0]]  # "dir/" placeholder objects name the prefix itself

    def _objects_under(self, path: str) -> list[tuple[str, int | None]]:
        prefix = f"{path}/" if path else ""
        with _errors("listing of", self._where(prefix)):
            return [(b.name, b.size) for b in _client().list_blobs(self.bucket_name, prefix=prefix)]

    def _files_under(self, path: str) -> list[tuple[str, int | None]]:
        return [(k, size) for k, size in self._objects_under(path) if not k.endswith("/")]

    def _is_file(self, path: str) -> bool:
        with _errors("lookup of", self._where(path)):
            return self._bucket().get_blob(path) is not None

    def _delete_tree(self, path: str) -> None:
        self._delete_files([k for k, _ in self._objects_under(path)] + [path])

    def _delete_files(self, paths: list[str]) -> None:
        def delete(path: str) -> None:
            try:
                with _errors("delete of", self._where(path)):
                    self._bucket().blob(path).delete()
            except ResourceDoesNotExist:
                pass

        self._transfer([(0, lambda p=p: delete(p)) for p in paths])
