"""Google Cloud Storage specifics (the shared contract is in test_artifact_repositories.py): URIs, credentials,
resumable uploads of large files, against fake-gcs-server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import os

import pytest

from tracklet.exceptions import InvalidParameterValue, TrackletException
from tracklet.tracking.artifacts import get_artifact_repository

pytest.importorskip("google.cloud.storage")

from tracklet.tracking.artifacts import gcs  # noqa: E402


@pytest.mark.parametrize("uri", ["gs:///x", "gs://b/x?generation=1", "gs://b/x#frag"])
def test_malformed_uris_are_refused(uri):
    with pytest.raises(InvalidParameterValue, match="GCS artifact URI"):
        get_artifact_repository(uri)


def test_without_credentials_the_error_names_google_application_credentials(monkeypatch, tmp_path):
    monkeypatch.delenv("STORAGE_EMULATOR_HOST", raising=False)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing-key.json"))
    repo = get_artifact_repository("gs://bucket/run/artifacts")  # credentials are looked up on first use
    with pytest.raises(TrackletException, match="GOOGLE_APPLICATION_CREDENTIALS"):
        repo.list_artifacts()


def test_a_large_file_goes_in_resumable_chunks_and_comes_back_whole(gcs_bucket, tmp_path):
    data = os.urandom(gcs.CHUNK * 2 + 777)  # three resumable chunks
    src = tmp_path / "model.bin"
    src.write_bytes(data)
    repo = get_artifact_repository(f"gs://{gcs_bucket.name}/run/artifacts")
    repo.log_artifact(str(src), "m")
    assert gcs_bucket.get_blob("run/artifacts/m/model.bin").size == len(data)
    got = repo.download_artifacts("m/model.bin", str(tmp_path / "dl"))
    assert hashlib.sha256(open(got, "rb").read()).digest() == hashlib.sha256(data).digest()


def test_errors_of_the_service_are_tracklet_exceptions(fake_gcs, monkeypatch, tmp_path):
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", fake_gcs)
    repo = get_artifact_repository("gs://no-such-bucket-here/run")
    src = tmp_path / "f.txt"
    src.write_text("x")
    with pytest.raises(TrackletException, match="gs://no-such-bucket-here/run/f.txt"):
        repo.log_artifact(str(src))
