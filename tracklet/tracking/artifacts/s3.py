"""Artifacts in Amazon S3 or an S3-compatible store (MinIO, Ceph, moto...), through boto3.

boto3 rather than fsspec's s3fs: s3fs pins aiobotocore, which pins botocore to a narrow range (installing it
here would have replaced the botocore that boto3 users already have); boto3 is the vendor's SDK, what MLflow
uses, and its transfer manager uploads and downloads in parts, streaming, with bounded memory
(``TransferConfig``: ``max_concurrency`` x ``multipart_chunksize``). A multipart upload becomes visible only
when complete, so a failed upload leaves no half-visible object; a failed directory upload deletes the objects
it had completed (remote.RemoteArtifactRepository._upload).

Configuration as MLflow: ``AWS_*`` variables / profiles for credentials and region;
``TRACKLET_S3_ENDPOINT_URL`` (or ``MLFLOW_S3_ENDPOINT_URL``) for an S3-compatible endpoint;
``TRACKLET_S3_IGNORE_TLS`` (or ``MLFLOW_S3_IGNORE_TLS``) to skip certificate checks.
"""

from __future__ import annotations

import contextlib
import functools
import os
from urllib.parse import urlparse

from tracklet import env
from tracklet.exceptions import InvalidParameterValue, ResourceDoesNotExist, TrackletException
from tracklet.tracking.artifacts.remote import RemoteArtifactRepository, missing_extra

_CHUNK = 8 * 1024 * 1024


@functools.lru_cache(maxsize=8)
def _client(endpoint_url: str | None, verify: bool):
    import boto3  # boto3 clients are thread-safe; one per endpoint

    return boto3.client("s3", endpoint_url=endpoint_url, verify=verify)


@functools.lru_cache(maxsize=1)
def _transfer_config():
    from boto3.s3.transfer import TransferConfig

    # max_io_queue: downloaded parts waiting for the disk (default 100 x 256 KB); 16 keeps memory small
    return TransferConfig(multipart_threshold=_CHUNK, multipart_chunksize=_CHUNK, max_concurrency=4, max_io_queue=16)


@contextlib.contextmanager
def _errors(action: str, uri: str):
    """botocore's errors as TrackletExceptions naming the action and the location."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in ("404", "NoSuchKey", "NoSuchBucket"):
            raise ResourceDoesNotExist(f"{action} {uri}: {code}") from None
        raise TrackletException(f"{action} {uri}: {exc}") from None
    except BotoCoreError as exc:
        raise TrackletException(f"{action} {uri}: {exc}") from None


class S3ArtifactRepository(RemoteArtifactRepository):
    """``s3://bucket/prefix``: a run's artifacts are the objects under ``prefix/``."""

    def __init__(self, artifact_uri: str):
        parsed = urlparse(artifact_uri)
        if not parsed.netloc:
            raise InvalidParameterValue(f"Invalid S3 artifact URI {artifact_uri!r}: expected s3://<bucket>/<prefix>")
        super().__init__(artifact_uri, parsed.path.lstrip("/"))
        self.bucket = parsed.netloc
        try:
            import boto3  # noqa: F401
        except ImportError:
            raise missing_extra("s3", "s3", "boto3") from None
        self._s3 = _client(env.get("S3_ENDPOINT_URL"), not env.get_bool("S3_IGNORE_TLS"))

    def _put(self, local_file: str, path: str) -> None:
        with _errors("upload to", f"s3://{self.bucket}/{path}"):
            if os.path.getsize(local_file) < _CHUNK:  # one request; the transfer manager's threads cost more
                with open(local_file, "rb") as f:
                    self._s3.put_object(Bucket=self.bucket, Key=path, Body=f)
            else:  # in parts, concurrently, at most max_concurrency x chunk in memory; visible when complete
                self._s3.upload_file(local_file, self.bucket, path, Config=_transfer_config())

    def _get(self, path: str, local_file: str, size: int | None = None) -> None:
        with _errors("download of", f"s3://{self.bucket}/{path}"):
            if size is not None and size < _CHUNK:
                body = self._s3.get_object(Bucket=self.bucket, Key=path)["Body"]
                with open(local_file, "wb") as f:
                    for chunk in body.iter_chunks(1 << 20):
                        f.write(chunk)
            else:
                self._s3.download_file(self.bucket, path, local_file, Config=_transfer_config())

    def _pages(self, prefix: str, delimiter: str | None):
        kwargs = {"Bucket": self.bucket, "Prefix": prefix}
        if delimiter:
            kwargs["Delimiter"] = delimiter
        with _errors("listing of", f"s3://{self.bucket}/{prefix}"):
            yield from self._s3.get_paginator("list_objects_v2").paginate(**kwargs)

    def _children(self, path: str) -> list[tuple[str, bool, int | None]]:
        prefix = f"{path}/" if path else ""
        out = []
        for page in self._pages(prefix, "/"):
            out += [(p["Prefix"][len(prefix) :].rstrip("/"), True, None) for p in page.get("CommonPrefixes", [])]
            out += [(o["Key"][len(prefix) :], False, o["Size"]) for o in page.get("Contents", [])]
        return [c for c in out if c[0]]  # "dir/" marker objects name the prefix itself

    def _objects_under(self, path: str) -> list[tuple[str, int]]:
        prefix = f"{path}/" if path else ""
        return [(o["Key"], o["Size"]) for page in self._pages(prefix, None) for o in page.get("Contents", [])]

    def _files_under(self, path: str) -> list[tuple[str, int | None]]:
        return [(k, size) for k, size in self._objects_under(path) if not k.endswith("/")]

    def _is_file(self, path: str) -> bool:
        try:
            with _errors("lookup of", f"s3://{self.bucket}/{path}"):
                self._s3.head_object(Bucket=self.bucket, Key=path)
        except ResourceDoesNotExist:
            return False
        return True

    def _delete_tree(self, path: str) -> None:
        self._delete_files([k for k, _ in self._objects_under(path)] + [path])

    def _delete_files(self, keys: list[str]) -> None:
        for i in range(0, len(keys), 1000):  # DeleteObjects takes at most 1000 keys; a missing key is no error
            batch = [{"Key": k} for k in keys[i : i + 1000]]
            with _errors("delete of", f"s3://{self.bucket}/{keys[i]} (and {len(batch) - 1} more)"):
                self._s3.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})
