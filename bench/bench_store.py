"""Tracking-store throughput, measured at the store level for tracklet and for MLflow.

    python bench/bench_store.py --lib tracklet            # SQLite + file store
    python bench/bench_store.py --lib mlflow --store sqlite
    python bench/bench_store.py --lib both --quick         # smaller counts, both libraries, plus ratios

Prints one JSON line per figure: ``{"lib", "store", "figure", "value", "unit", ...}``. Figures:

* ``log_metric``  -- sequential single-metric ``log_metric`` calls on one run (calls/s)
* ``log_batch``   -- metric points through ``log_batch`` in batches of 1,000 (points/s)
* ``create_run``  -- ``create_run`` alone, then ``create_run`` + one ``log_batch`` of 10 params / 10 metrics /
  5 tags per run (runs/s; ``with_batch`` tells which)
* ``search_runs`` -- a metric + param filter with ``order_by`` over N runs, median wall time (ms) and
  median CPU time of this process (``cpu_ms``)

Each library uses its default settings for the store (MLflow's SqlAlchemyStore and FileStore; tracklet's
SqlStore and FileStore). A store that cannot be imported is reported as skipped.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import tempfile
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _entities(lib: str):
    if lib == "mlflow":
        from mlflow.entities import Metric, Param, RunTag
    else:
        from tracklet.tracking.entities import Metric, Param, RunTag
    return Metric, Param, RunTag


def make_store(lib: str, kind: str, workdir: str):
    """A fresh store of ``lib`` ("tracklet" | "mlflow") and ``kind`` ("sqlite" | "file") in ``workdir``."""
    artifacts = "file://" + os.path.join(workdir, "artifacts")
    if lib == "mlflow":
        if kind == "sqlite":
            from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

            return SqlAlchemyStore(f"sqlite:///{workdir}/mlflow.db", artifacts)
        from mlflow.store.tracking.file_store import FileStore

        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 refuses its file store otherwise
        return FileStore(os.path.join(workdir, "mlruns"), artifacts)
    if kind == "sqlite":
        from tracklet.tracking.stores.sql import SqlStore

        return SqlStore(f"sqlite:///{workdir}/tracklet.db", artifacts)
    from tracklet.tracking.stores.file import FileStore

    return FileStore(os.path.join(workdir, "mlruns"), artifacts)


def _new_run(store, name: str, experiment_id: str = "0"):
    return store.create_run(experiment_id, "bench", int(time.time() * 1000), [], name).info.run_id


def bench_log_metric(lib, store, n: int) -> dict:
    Metric, _, _ = _entities(lib)
    run_id = _new_run(store, "log-metric")
    now = int(time.time() * 1000)
    start = time.perf_counter()
    for i in range(n):
        store.log_metric(run_id, Metric("loss", 1.0 / (i + 1), now + i, i))
    elapsed = time.perf_counter() - start
    return {"figure": "log_metric", "value": round(n / elapsed, 1), "unit": "calls/s", "n": n}


def bench_log_batch(lib, store, points: int, batch: int = 1000) -> dict:
    Metric, _, _ = _entities(lib)
    run_id = _new_run(store, "log-batch")
    now = int(time.time() * 1000)
    batches = [
        [Metric(f"m{j % 10}", float(j), now + b, b * batch + j) for j in range(batch)] for b in range(points // batch)
    ]
    start = time.perf_counter()
    for metrics in batches:
        store.log_batch(run_id, metrics, [], [])
    elapsed = time.perf_counter() - start
    return {
        "figure": "log_batch",
        "value": round(points / elapsed, 1),
        "unit": "points/s",
        "n": points,
        "batch": batch,
    }


def bench_create_run(lib, store, runs: int) -> list[dict]:
    Metric, Param, RunTag = _entities(lib)
    experiment_id = store.create_experiment(f"create-{time.time_ns()}")
    now = int(time.time() * 1000)
    out = []
    for with_batch in (False, True):
        start, start_cpu = time.perf_counter(), time.process_time()
        for i in range(runs):
            run_id = _new_run(store, f"run-{i}", experiment_id)
            if with_batch:
                store.log_batch(
                    run_id,
                    [Metric(f"m{j}", j / 10, now, 0) for j in range(10)],
                    [Param(f"p{j}", str(j)) for j in range(10)],
                    [RunTag(f"t{j}", "x") for j in range(5)],
                )
        elapsed, cpu = time.perf_counter() - start, time.process_time() - start_cpu
        out.append(
            {
                "figure": "create_run",
                "value": round(runs / elapsed, 1),
                "unit": "runs/s",
                "n": runs,
                "with_batch": with_batch,
                # runs per CPU second of this process (system calls included): steadier on a shared machine
                "per_cpu_s": round(runs / cpu, 1),
            }
        )
    return out


def bench_search(lib, store, runs: int, repeats: int = 5) -> dict:
    Metric, Param, RunTag = _entities(lib)
    experiment_id = store.create_experiment(f"search-{time.time_ns()}")
    now = int(time.time() * 1000)
    setup = time.perf_counter()
    for i in range(runs):
        run_id = _new_run(store, f"run-{i}", experiment_id)
        store.log_batch(
            run_id,
            [
                Metric("acc", (i * 37 % 1000) / 1000, now, 0),
                Metric("loss", (i * 11 % 997) / 997, now, 0),
                Metric("f1", (i % 7) / 7, now, 0),
            ],
            [
                Param("model", "rf" if i % 3 else "linear"),
                Param("lr", str(0.001 * (i % 5))),
                Param("depth", str(i % 9)),
            ],
            [RunTag("team", "a" if i % 2 else "b")],
        )
    setup = time.perf_counter() - setup
    filter_string = "metrics.acc > 0.5 and params.model = 'rf'"
    order_by = ["metrics.loss ASC"]
    times, cpu, found = [], [], 0
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = store.search_runs([experiment_id], filter_string, 1, 1000, order_by, None)
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
        found = len(result)
    # cpu_ms (this process's CPU time, SQLite included) is steadier than wall time on a shared machine
    return {
        "figure": "search_runs",
        "value": round(statistics.median(times) * 1000, 2),
        "unit": "ms",
        "cpu_ms": round(statistics.median(cpu) * 1000, 2),
        "runs": runs,
        "matched": found,
        "filter": filter_string,
        "order_by": order_by,
        "setup_s": round(setup, 1),
    }


def run_lib(lib: str, kinds: list[str], args) -> list[dict]:
    out = []
    for kind in kinds:
        with tempfile.TemporaryDirectory(prefix=f"bench-{lib}-{kind}-") as workdir:
            try:
                store = make_store(lib, kind, workdir)
            except ImportError as exc:
                out.append(_emit({"lib": lib, "store": kind, "skipped": str(exc)}))
                continue
            for fn, size in (
                (bench_log_metric, args.calls),
                (bench_log_batch, args.points),
                (bench_create_run, args.create),
                (bench_search, args.runs),
            ):
                if args.only and fn.__name__.removeprefix("bench_") not in args.only:
                    continue
                figures = fn(lib, store, size)
                for figure in figures if isinstance(figures, list) else [figures]:
                    out.append(_emit({"lib": lib, "store": kind, **figure}))
            close = getattr(store, "close", None)
            if close:
                close()
    return out


def _emit(record: dict) -> dict:
    print(json.dumps(record), flush=True)
    return record


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lib", choices=["tracklet", "mlflow", "both"], default="both")
    parser.add_argument("--store", choices=["sqlite", "file", "all"], default="all")
    parser.add_argument("--calls", type=int, default=5000, help="sequential log_metric calls")
    parser.add_argument("--points", type=int, default=200_000, help="metric points through log_batch")
    parser.add_argument("--runs", type=int, default=2000, help="runs searched")
    parser.add_argument("--create", type=int, default=500, help="runs created (each way)")
    parser.add_argument(
        "--only", nargs="*", choices=["log_metric", "log_batch", "create_run", "search"], help="run only these figures"
    )
    parser.add_argument("--quick", action="store_true", help="1,000 calls, 20,000 points, 200 + 300 runs")
    args = parser.parse_args(argv)
    if args.quick:
        args.calls, args.points, args.create, args.runs = 1000, 20_000, 200, 300
    logging.disable(logging.WARNING)
    warnings.filterwarnings("ignore")
    kinds = ["sqlite", "file"] if args.store == "all" else [args.store]
    libs = ["tracklet", "mlflow"] if args.lib == "both" else [args.lib]
    results = {lib: run_lib(lib, kinds, args) for lib in libs}
    if len(libs) == 2:
        for ours, theirs in zip(results["tracklet"], results["mlflow"], strict=True):
            if "figure" not in ours or "figure" not in theirs:
                continue
            higher_is_better = ours["unit"] != "ms"
            ratio = ours["value"] / theirs["value"] if higher_is_better else theirs["value"] / ours["value"]
            extra = {"with_batch": ours["with_batch"]} if "with_batch" in ours else {}
            _emit({"store": ours["store"], "figure": ours["figure"], **extra, "speedup_vs_mlflow": round(ratio, 2)})


if __name__ == "__main__":
    main()
