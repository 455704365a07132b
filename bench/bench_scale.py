"""How tracking-store cost grows with the number of runs and metric points (issue 15), tracklet vs MLflow.

    python bench/bench_scale.py                                # SQLite, 1k/10k/30k/100k runs, 1M points
    python bench/bench_scale.py --sizes 1000 10000 --points 100000   # quick
    python bench/bench_scale.py --store postgres --postgres-uri postgresql://...   # or $TRACKLET_TEST_POSTGRES_URI
    python bench/bench_scale.py --lib both --mlflow-max-runs 10000 --mlflow-points 100000

Prints one JSON line per figure: ``{"lib", "store", "figure", "runs"|"points", "value", "unit", ...}``.

Runs: one experiment grown to each size in turn through the store API (``create_run`` + one ``log_batch`` of
10 params ``p0..p9`` with values a-d, 10 metrics ``m0..m9`` uniform in [0, 1), 5 tags). At each size:

* ``create_runs``    -- runs/s of that growth step (create_run + log_batch)
* ``search_filtered`` -- ``metrics.m1 > 0.5 and params.p1 = 'a'`` ordered by ``metrics.m2 DESC``, first page of
  100, median of 5 (s)
* ``search_newest``  -- no filter, newest first, first page of 100, median of 5 (s)

History: one metric of ``--points`` points written with ``log_batch`` (1,000 per call), then read whole
(``history_read``: ``get_metric_history``; ``history_read_all``: the same and every Metric built from it) and
downsampled to 1,000 points (``get_metric_history_bulk_interval``; MLflow: its store's
``get_metric_history_bulk_interval_from_steps`` with the steps its REST handler picks). With ``--file-history``
the same metric is also written to a file store and downsampled there (``history_downsampled_file_first``: the
first read, which builds the bucket-summary sidecar; ``history_downsampled_file``: later reads).

Every timed figure is the median of several calls and carries ``cpu`` (the process CPU time, median): on a
shared machine the wall clock mostly measures the other jobs.

MLflow stops growing at ``--mlflow-max-runs`` runs and writes ``--mlflow-points`` points: it is 10-50x
slower, so its full sizes would take hours. The machine is shared: figures are medians.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import statistics
import sys
import tempfile
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

FILTER = "metrics.m1 > 0.5 and params.p1 = 'a'"
ORDER_BY = ["metrics.m2 DESC"]
PAGE = 100


def _entities(lib: str):
    if lib == "mlflow":
        from mlflow.entities import Metric, Param, RunTag
    else:
        from tracklet.tracking.entities import Metric, Param, RunTag
    return Metric, Param, RunTag


def make_store(lib: str, kind: str, workdir: str, postgres_uri: str | None):
    artifacts = "file://" + os.path.join(workdir, "artifacts")
    if kind == "postgres":
        uri = postgres_uri
    else:
        uri = f"sqlite:///{workdir}/{lib}.db"
    if lib == "mlflow":
        from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

        return SqlAlchemyStore(uri, artifacts)
    from tracklet.tracking.stores.sql import SqlStore

    return SqlStore(uri, artifacts)


def _median_time(fn, repeats: int = 5) -> tuple[float, object, float]:
    """(median wall seconds, last result, median CPU seconds of this process)."""
    times, cpu, result = [], [], None
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = fn()
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return statistics.median(times), result, statistics.median(cpu)


def grow(lib: str, store, experiment_id: str, start: int, stop: int, rng: random.Random) -> float:
    """Add runs ``start..stop-1``; returns runs/s."""
    Metric, Param, RunTag = _entities(lib)
    now = int(time.time() * 1000)
    began = time.perf_counter()
    for i in range(start, stop):
        run_id = store.create_run(experiment_id, "bench", now + i, [], f"run-{i}").info.run_id
        store.log_batch(
            run_id,
            [Metric(f"m{j}", rng.random(), now + i, 0) for j in range(10)],
            [Param(f"p{j}", rng.choice("abcd")) for j in range(10)],
            [RunTag(f"t{j}", f"v{i % (j + 2)}") for j in range(5)],
        )
    return (stop - start) / (time.perf_counter() - began)


def search_figures(lib: str, store, experiment_id: str, runs: int) -> list[dict]:
    if lib == "mlflow":
        from mlflow.entities import ViewType

        active = ViewType.ACTIVE_ONLY
    else:
        active = 1

    def filtered():
        return store.search_runs([experiment_id], FILTER, active, PAGE, ORDER_BY, None)

    def newest():
        return store.search_runs([experiment_id], None, active, PAGE, None, None)

    out = []
    for name, fn in (("search_filtered", filtered), ("search_newest", newest)):
        seconds, page, cpu = _median_time(fn)
        out.append(
            {
                "figure": name,
                "runs": runs,
                "value": round(seconds, 4),
                "unit": "s",
                "cpu": round(cpu, 4),
                "page": len(page),
            }
        )
    return out


def _write_history(lib: str, store, experiment_id: str, points: int) -> tuple[str, float]:
    Metric, _, _ = _entities(lib)
    run_id = store.create_run(experiment_id, "bench", int(time.time() * 1000), [], "history").info.run_id
    now = int(time.time() * 1000)
    start = time.perf_counter()
    for b in range(0, points, 1000):
        store.log_batch(run_id, [Metric("loss", 1.0 / (s + 1), now + s, s) for s in range(b, b + 1000)], [], [])
    return run_id, time.perf_counter() - start


def history_figures(lib: str, store, experiment_id: str, points: int) -> list[dict]:
    run_id, write = _write_history(lib, store, experiment_id, points)
    return [{"figure": "history_write", "points": points, "value": round(write, 3), "unit": "s"}] + history_reads(
        lib, store, run_id
    )


def history_reads(lib: str, store, run_id: str) -> list[dict]:
    """The whole history, the whole history with every Metric built, the history downsampled to 1,000."""
    read, hist, read_cpu = _median_time(lambda: store.get_metric_history(run_id, "loss"), repeats=3)
    read_all, _, read_all_cpu = _median_time(lambda: list(store.get_metric_history(run_id, "loss")), repeats=3)
    points = len(hist)
    if lib == "mlflow":
        # the steps MLflow's get-history-bulk-interval handler asks its store for: 1,000 evenly spaced steps
        steps = sorted({round(i * (points - 1) / 999) for i in range(1000)})

        def sampled():
            return store.get_metric_history_bulk_interval_from_steps(run_id, "loss", steps, 1000)
    else:

        def sampled():
            return store.get_metric_history_bulk_interval([run_id], "loss", 1000)

    downsampled, sample, downsampled_cpu = _median_time(sampled)
    base = {"points": points, "unit": "s"}
    return [
        {**base, "figure": "history_read", "value": round(read, 3), "cpu": round(read_cpu, 3)},
        {**base, "figure": "history_read_all", "value": round(read_all, 3), "cpu": round(read_all_cpu, 3)},
        {
            **base,
            "figure": "history_downsampled",
            "value": round(downsampled, 4),
            "cpu": round(downsampled_cpu, 4),
            "returned": len(sample),
        },
    ]


def file_history_figures(lib: str, workdir: str, points: int) -> list[dict]:
    """The downsampled read on a file store: the first read (it builds the summaries), then later reads."""
    if lib == "mlflow":
        return []
    from tracklet.tracking.stores.file import FileStore

    store = FileStore(os.path.join(workdir, "mlruns"), "file://" + os.path.join(workdir, "file-artifacts"))
    run_id, write = _write_history(lib, store, "0", points)
    first, _, first_cpu = _median_time(lambda: store.get_metric_history_bulk_interval([run_id], "loss", 1000), 1)
    warm, sample, warm_cpu = _median_time(lambda: store.get_metric_history_bulk_interval([run_id], "loss", 1000))
    base = {"store": "file", "points": points, "unit": "s"}
    return [
        {**base, "figure": "history_write", "value": round(write, 3)},
        {**base, "figure": "history_downsampled_file_first", "value": round(first, 4), "cpu": round(first_cpu, 4)},
        {**base, "figure": "history_downsampled_file", "value": round(warm, 4), "cpu": round(warm_cpu, 4)},
    ]


def run_existing(args) -> None:
    """Search figures on a database grown earlier (``--existing-uri``): its experiment ``--experiment``, and the
    history figures on its run named ``history`` when there is one, without writing anything."""
    from tracklet.tracking.stores.sql import SqlStore

    store = SqlStore(args.existing_uri, "file:///tmp/bench-scale-unused")
    experiment = store.get_experiment_by_name(args.experiment)
    count = args.existing_runs
    kind = store._dialect
    for _ in range(args.rounds):
        for record in search_figures("tracklet", store, experiment.experiment_id, count):
            _emit({"lib": "tracklet", "store": kind, **record})
        history = store.search_runs(
            [experiment.experiment_id, "0"], "attributes.run_name = 'history'", 3, 1, None, None
        )
        if history:
            for record in history_reads("tracklet", store, history[0].info.run_id):
                _emit({"lib": "tracklet", "store": kind, **record})
    store.close()


def run_lib(lib: str, kind: str, args) -> None:
    sizes = sorted(args.sizes)
    points = args.points
    if lib == "mlflow":
        sizes = [s for s in sizes if s <= args.mlflow_max_runs]
        points = min(points, args.mlflow_points)
    with tempfile.TemporaryDirectory(prefix=f"bench-scale-{lib}-") as workdir:
        if kind == "postgres":
            _reset_postgres(args.postgres_uri)
        store = make_store(lib, kind, workdir, args.postgres_uri)
        rng = random.Random(15)
        experiment_id = store.create_experiment(f"scale-{time.time_ns()}")
        have = 0
        for size in sizes:
            rate = grow(lib, store, experiment_id, have, size, rng)
            have = size
            _emit(
                {
                    "lib": lib,
                    "store": kind,
                    "figure": "create_runs",
                    "runs": size,
                    "value": round(rate),
                    "unit": "runs/s",
                }
            )
            for record in search_figures(lib, store, experiment_id, size):
                _emit({"lib": lib, "store": kind, **record})
        if points:
            for record in history_figures(lib, store, experiment_id, points):
                _emit({"lib": lib, "store": kind, **record})
            if args.file_history:
                for record in file_history_figures(lib, workdir, points):
                    _emit({"lib": lib, **record})
        store_close = getattr(store, "close", None) or getattr(getattr(store, "engine", None), "dispose", None)
        if store_close:
            store_close()


def _reset_postgres(uri: str) -> None:
    """Empty the benchmark database (it must be a throwaway one)."""
    import sqlalchemy as sa

    from tracklet.tracking.stores.sql._engine import resolve_url

    engine = sa.create_engine(resolve_url(uri))
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    engine.dispose()


def _emit(record: dict) -> None:
    print(json.dumps(record), flush=True)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lib", choices=["tracklet", "mlflow", "both"], default="tracklet")
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--postgres-uri", default=os.environ.get("TRACKLET_TEST_POSTGRES_URI"))
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10_000, 30_000, 100_000])
    parser.add_argument("--points", type=int, default=1_000_000, help="points of the history metric (0: skip)")
    parser.add_argument("--file-history", action="store_true", help="also downsample the history on a file store")
    parser.add_argument("--mlflow-max-runs", type=int, default=10_000)
    parser.add_argument("--mlflow-points", type=int, default=100_000)
    parser.add_argument("--existing-uri", help="measure a database grown earlier instead (read only)")
    parser.add_argument("--experiment", default="scale", help="its experiment (with --existing-uri)")
    parser.add_argument("--existing-runs", type=int, default=100_000, help="its number of runs, for the output")
    parser.add_argument("--rounds", type=int, default=1, help="repeat the figures (with --existing-uri)")
    args = parser.parse_args(argv)
    if args.store == "postgres" and not args.postgres_uri:
        parser.error("--store postgres needs --postgres-uri or $TRACKLET_TEST_POSTGRES_URI (a throwaway database)")
    logging.disable(logging.WARNING)
    warnings.filterwarnings("ignore")
    if args.existing_uri:
        run_existing(args)
        return
    for lib in ["tracklet", "mlflow"] if args.lib == "both" else [args.lib]:
        run_lib(lib, args.store, args)


if __name__ == "__main__":
    main()
