"""Tracking-core benchmarks at the public API, side by side with MLflow. Prints JSON lines.

    python bench/bench_tracking.py               # both libraries, then the ratios
    python bench/bench_tracking.py --lib tracklet --quick

Figures: import time; 5,000 sequential log_metric calls on the default SQLite store (sync and
synchronous=False, the async figure includes the final flush); the training thread's CPU time per
log_metric(synchronous=False) call (microseconds); 200,000 metric points through log_batch
(batches of 1,000) on SQLite and on the file store; search_runs with a metric + param filter and an order_by
over 2,000 runs on SQLite and on the file store. Each library runs in its own subprocess and temp dir.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings


def emit(**kw):
    print(json.dumps(kw), flush=True)


def import_time(lib: str, reps: int = 5) -> float:
    times = []
    for _ in range(reps):
        out = subprocess.run(
            [
                sys.executable,
                "-c",
                f"import time; t=time.perf_counter(); import {lib}; print(time.perf_counter()-t)",
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        times.append(float(out.stdout.strip().splitlines()[-1]))
    return statistics.median(times)


def load(lib: str):
    warnings.filterwarnings("ignore")
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    if lib == "mlflow":
        import mlflow
        from mlflow import MlflowClient
        from mlflow.entities import Metric, Param, RunTag
    else:
        import tracklet as mlflow
        from tracklet import MlflowClient
        from tracklet.entities import Metric, Param, RunTag
    return mlflow, MlflowClient, Metric, Param, RunTag


def bench_log_metric(lib: str, n: int, synchronous: bool) -> float:
    mlflow, *_ = load(lib)
    with tempfile.TemporaryDirectory() as tmp:
        cwd = os.getcwd()
        os.chdir(tmp)
        mlflow.set_tracking_uri(f"sqlite:///{tmp}/bench.db")
        with mlflow.start_run():
            mlflow.log_metric("warmup", 0.0)
            t0 = time.perf_counter()
            for i in range(n):
                mlflow.log_metric("loss", i * 0.001, step=i, synchronous=synchronous)
            mlflow.flush_async_logging() if hasattr(mlflow, "flush_async_logging") else None
            elapsed = time.perf_counter() - t0
        os.chdir(cwd)
        return n / elapsed


def bench_log_metric_call_cost(lib: str, n: int, reps: int = 7) -> float:
    """CPU time of the calling (training) thread per ``log_metric(synchronous=False)`` call, in microseconds:
    what a training loop pays, with the writer thread running. Thread CPU time, so other processes on a shared
    machine do not inflate it; median of ``reps`` rounds of ``n`` calls, flushed between rounds."""
    mlflow, *_ = load(lib)
    with tempfile.TemporaryDirectory() as tmp:
        cwd = os.getcwd()
        os.chdir(tmp)
        mlflow.set_tracking_uri(f"sqlite:///{tmp}/bench.db")
        per_call = []
        with mlflow.start_run():
            mlflow.log_metric("warmup", 0.0, synchronous=False)
            for _ in range(reps):
                t0 = time.thread_time()
                for i in range(n):
                    mlflow.log_metric("loss", i * 0.001, step=i, synchronous=False)
                per_call.append((time.thread_time() - t0) / n * 1e6)
                mlflow.flush_async_logging() if hasattr(mlflow, "flush_async_logging") else None
        os.chdir(cwd)
        return statistics.median(per_call)


def store_uri(kind: str, tmp: str) -> str:
    return f"sqlite:///{tmp}/bench.db" if kind == "sqlite" else f"{tmp}/mlruns"


def bench_log_batch(lib: str, kind: str, points: int) -> float:
    mlflow, Client, Metric, Param, RunTag = load(lib)
    with tempfile.TemporaryDirectory() as tmp:
        client = Client(store_uri(kind, tmp))
        run = client.create_run("0")
        now = int(time.time() * 1000)
        batches = [
            [Metric(f"m{(b * 1000 + i) % 10}", float(i), now + i, b * 100 + i // 10) for i in range(1000)]
            for b in range(points // 1000)
        ]
        t0 = time.perf_counter()
        for batch in batches:
            client.log_batch(run.info.run_id, metrics=batch)
        return points / (time.perf_counter() - t0)


def bench_search(lib: str, kind: str, n_runs: int, reps: int = 5) -> float:
    mlflow, Client, Metric, Param, RunTag = load(lib)
    with tempfile.TemporaryDirectory() as tmp:
        client = Client(store_uri(kind, tmp))
        exp = client.create_experiment("search-bench")
        now = int(time.time() * 1000)
        for i in range(n_runs):
            rid = client.create_run(exp).info.run_id
            client.log_batch(
                rid,
                metrics=[Metric(f"m{k}", ((i * 37 + k) % 100) / 100, now, 0) for k in range(5)],
                params=[Param(f"p{k}", "abc"[(i + k) % 3]) for k in range(5)],
                tags=[RunTag("team", f"t{i % 4}")],
            )
        query = "metrics.m0 > 0.5 and params.p1 = 'b'"
        times = []
        for _ in range(reps):
            t0 = time.perf_counter()
            runs = client.search_runs([exp], query, order_by=["metrics.m2 DESC"], max_results=100)
            times.append(time.perf_counter() - t0)
        assert len(runs) > 0
        return statistics.median(times)


def run_lib(lib: str, quick: bool) -> None:
    n_metric = 1000 if quick else 5000
    points = 20_000 if quick else 200_000
    n_runs = 300 if quick else 2000
    emit(lib=lib, bench="import_s", value=round(import_time(lib), 4))
    emit(lib=lib, bench="log_metric_sync_calls_per_s", value=round(bench_log_metric(lib, n_metric, True), 1))
    emit(lib=lib, bench="log_metric_async_calls_per_s", value=round(bench_log_metric(lib, n_metric, False), 1))
    emit(
        lib=lib,
        bench="log_metric_async_call_cpu_us",
        value=round(bench_log_metric_call_cost(lib, 2000 if quick else 20000), 2),
    )
    for kind in ("sqlite", "file"):
        emit(
            lib=lib,
            bench=f"log_batch_points_per_s_{kind}",
            value=round(bench_log_batch(lib, kind, points), 1),
        )
    for kind in ("sqlite", "file"):
        emit(
            lib=lib,
            bench=f"search_runs_s_{kind}",
            n_runs=n_runs,
            value=round(bench_search(lib, kind, n_runs), 5),
        )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", choices=["tracklet", "mlflow", "both"], default="both")
    ap.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    args = ap.parse_args()
    if args.lib != "both":
        run_lib(args.lib, args.quick)
        return
    results = {}
    for lib in ("tracklet", "mlflow"):
        cmd = [sys.executable, __file__, "--lib", lib] + (["--quick"] if args.quick else [])
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            emit(lib=lib, error=proc.stderr[-2000:])
            continue
        for line in proc.stdout.splitlines():
            if line.startswith("{"):
                print(line, flush=True)
                rec = json.loads(line)
                results[(lib, rec["bench"])] = rec["value"]
    t, m = "tracklet", "mlflow"
    ratios = {}
    for bench in (
        "log_metric_sync_calls_per_s",
        "log_batch_points_per_s_sqlite",
        "log_batch_points_per_s_file",
    ):
        if (t, bench) in results and (m, bench) in results:
            ratios[bench] = round(results[(t, bench)] / results[(m, bench)], 2)
    if (t, "log_metric_async_calls_per_s") in results and (m, "log_metric_sync_calls_per_s") in results:
        ratios["log_metric_async_vs_mlflow_sync"] = round(
            results[(t, "log_metric_async_calls_per_s")] / results[(m, "log_metric_sync_calls_per_s")], 2
        )
    for kind in ("sqlite", "file"):
        key = f"search_runs_s_{kind}"
        if (t, key) in results and (m, key) in results:
            ratios[f"search_speedup_{kind}"] = round(results[(m, key)] / results[(t, key)], 2)
    emit(bench="ratios_tracklet_over_mlflow", **ratios)


if __name__ == "__main__":
    main()
