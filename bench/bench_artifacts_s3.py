"""Artifact upload/download to an S3-compatible server (moto, started here on 127.0.0.1), tracklet vs MLflow.

    python bench/bench_artifacts_s3.py                       # both libraries, 500 MB file + 1,000 small files
    python bench/bench_artifacts_s3.py --size-mb 100 --lib tracklet --repeat 3

Prints one JSON line per figure: ``{"lib", "figure", "value", "unit", "peak_mb", "rounds"}``, the medians over
``--repeat`` interleaved rounds. Each library runs in its own
process; ``peak_mb`` is the growth of that process's peak resident memory during the transfer (VmHWM, reset before
each transfer through /proc/self/clear_refs), i.e. what the transfer itself held in memory. Figures:

* ``upload_file`` / ``download_file`` -- one file of ``--size-mb`` (MB/s)
* ``upload_dir`` / ``download_dir``   -- a directory of ``--files`` files of 2 KB (files/s)
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _vm(field: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _measure(fn) -> tuple[float, float]:
    """(seconds, peak resident growth in MB) of fn()."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # resets VmHWM to the current RSS
    base = _vm("VmRSS")
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0, _vm("VmHWM") - base


def _repo(lib: str, uri: str):
    if lib == "mlflow":
        from mlflow.store.artifact.s3_artifact_repo import S3ArtifactRepository

        return S3ArtifactRepository(uri)
    sys.path.insert(0, ROOT)
    from tracklet.tracking.artifacts import get_artifact_repository

    return get_artifact_repository(uri)


def _steps(repo, big: str, small: str, dl: str) -> dict:
    return {
        "upload_file": lambda: repo.log_artifact(big, "m"),
        "download_file": lambda: repo.download_artifacts("m/model.bin", dl),
        "upload_dir": lambda: repo.log_artifacts(small, "d"),
        "download_dir": lambda: repo.download_artifacts("d", dl),
    }


def make_inputs(prefix: str, size_mb: int, files: int) -> tuple[str, str, str]:
    """A temp folder with a file of ``size_mb`` MB and a folder of ``files`` files of 2 KB: (folder, file, folder)."""
    work = tempfile.mkdtemp(prefix=prefix)
    big = os.path.join(work, "model.bin")
    with open(big, "wb") as f:
        block = os.urandom(1 << 20)
        for _ in range(size_mb):
            f.write(block)
    small = os.path.join(work, "small")
    os.makedirs(small)
    for i in range(files):
        with open(os.path.join(small, f"f{i:04d}.txt"), "wb") as f:
            f.write(os.urandom(2048))
    return work, big, small


def interleaved_medians(commands: dict[str, list[str]], repeat: int, env: dict) -> list[dict]:
    """Run each library's worker command once per round, rounds interleaved; the median row of each figure."""
    rows: dict[tuple[str, str], list[dict]] = {}
    for _ in range(repeat):
        for cmd in commands.values():
            out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
            for line in out.splitlines():
                row = json.loads(line)
                rows.setdefault((row["lib"], row["figure"]), []).append(row)
    out = []
    for (lib, figure), runs in rows.items():
        value = statistics.median(r["value"] for r in runs)
        peak = statistics.median(r["peak_mb"] for r in runs)
        out.append({"lib": lib, "figure": figure, "value": round(value, 1), "unit": runs[0]["unit"]})
        out[-1] |= {"peak_mb": round(peak), "rounds": len(runs)}
    return out


def worker(lib: str, bucket: str, size_mb: int, files: int, repeat: int = 1) -> None:
    """One library, in this process: upload and download a big file and a directory of small files."""
    work, big, small = make_inputs("bench-s3-", size_mb, files)
    results: dict[str, list[tuple[float, float]]] = {}
    for r in range(repeat):
        repo = _repo(lib, f"s3://{bucket}/{lib}-{r}-{uuid.uuid4().hex[:6]}/artifacts")
        dl = os.path.join(work, f"dl{r}")
        os.makedirs(dl)  # MLflow requires an existing destination
        for name, fn in _steps(repo, big, small, dl).items():
            results.setdefault(name, []).append(_measure(fn))
        repo.delete_artifacts()
    for name, runs in results.items():
        secs = statistics.median(s for s, _ in runs)
        peak = statistics.median(p for _, p in runs)
        value, unit = (size_mb / secs, "MB/s") if name.endswith("file") else (files / secs, "files/s")
        print(json.dumps({"lib": lib, "figure": name, "value": round(value, 1), "unit": unit, "peak_mb": round(peak)}))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--lib", choices=["tracklet", "mlflow", "both"], default="both")
    p.add_argument("--size-mb", type=int, default=500)
    p.add_argument("--files", type=int, default=1000)
    p.add_argument("--repeat", type=int, default=1)
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--bucket", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        worker(args.worker, args.bucket, args.size_mb, args.files)
        return
    port = _free_port()
    os.environ.update(
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_DEFAULT_REGION="us-east-1",
        MLFLOW_S3_ENDPOINT_URL=f"http://127.0.0.1:{port}",
    )
    env = dict(os.environ)
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        import boto3

        client = boto3.client("s3", endpoint_url=env["MLFLOW_S3_ENDPOINT_URL"], region_name="us-east-1")
        for _ in range(100):
            try:
                client.list_buckets()
                break
            except Exception:
                time.sleep(0.1)
        bucket = f"bench-{uuid.uuid4().hex[:8]}"
        client.create_bucket(Bucket=bucket)
        libs = ["tracklet", "mlflow"] if args.lib == "both" else [args.lib]
        commands = {}
        for lib in libs:
            cmd = [sys.executable, __file__, "--worker", lib, "--bucket", bucket, "--size-mb", str(args.size_mb)]
            commands[lib] = cmd + ["--files", str(args.files)]
        for row in interleaved_medians(commands, args.repeat, env):
            print(json.dumps(row))
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
