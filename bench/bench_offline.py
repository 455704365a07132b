"""Autolog against a tracking server that is down for the whole fit vs the same fit on a local SQLite store.

    python bench/bench_offline.py                  # 7 interleaved pairs, log_models off and on
    python bench/bench_offline.py --pairs 5 --log-models

Workload: bench_autolog_boosting.py's ``xgboost.train`` (300 rounds on 20,000 x 30, two eval sets with two
metrics each, early stopping, one thread), autologged. Each fit runs in a fresh process: ``sqlite`` logs to a
new SQLite file, ``down`` to ``http://127.0.0.1:<a port nobody listens on>``, so the run is created offline and
everything goes to the offline spool. Figures (medians over the pairs, each pair run back to back, alternating
which goes first): the fit's wall clock and process CPU time (all threads), and the whole process's wall
clock from start to exit (imports, data, the fit, and the exit: SQLite closing, or the spool's final probe and
its one-line message). Prints JSON lines.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def emit(**kw):
    print(json.dumps(kw), flush=True)


def child(mode: str, log_models: bool) -> None:
    """One autologged fit in this process; prints its figures as JSON."""
    sys.path.insert(0, HERE)
    import warnings

    from bench_autolog_boosting import make_data, xgboost_fit

    warnings.filterwarnings("ignore")
    import tracklet

    if mode == "sqlite":
        tracklet.set_tracking_uri(f"sqlite:///{os.getcwd()}/bench.db")
    tracklet.autolog(log_models=log_models, silent=True)
    fit = xgboost_fit(make_data())
    t0, c0 = time.perf_counter(), time.process_time()
    fit()
    emit(fit_s=time.perf_counter() - t0, fit_cpu_s=time.process_time() - c0)


def one(mode: str, log_models: bool) -> dict:
    tmp = tempfile.mkdtemp(prefix=f"bench-offline-{mode}-")
    try:
        env = dict(os.environ, TRACKLET_SPOOL_DIR=os.path.join(tmp, "spool"))
        for var in ("TRACKLET_TRACKING_URI", "MLFLOW_TRACKING_URI"):
            env.pop(var, None)
        if mode == "down":
            with socket.socket() as s:  # a free port: nothing listens there during the fit
                s.bind(("127.0.0.1", 0))
                env["TRACKLET_TRACKING_URI"] = f"http://127.0.0.1:{s.getsockname()[1]}"
        cmd = [sys.executable, os.path.abspath(__file__), "--child", mode] + (["--log-models"] if log_models else [])
        t0 = time.perf_counter()
        out = subprocess.run(cmd, cwd=tmp, env=env, capture_output=True, text=True)
        process_s = time.perf_counter() - t0
        lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
        if out.returncode or not lines:
            raise RuntimeError(f"{mode} fit failed: {out.stderr[-2000:]}")
        result = json.loads(lines[-1])
        result["process_s"] = process_s
        result["stderr_lines"] = [ln for ln in out.stderr.splitlines() if ln.startswith("tracklet:")]
        return result
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def measure(pairs: int, log_models: bool) -> None:
    rows = []
    for i in range(pairs):
        if i % 2 == 0:
            s, d = one("sqlite", log_models), one("down", log_models)
        else:
            d, s = one("down", log_models), one("sqlite", log_models)
        rows.append((s, d))
    med = statistics.median
    emit(
        log_models=log_models,
        pairs=pairs,
        sqlite_fit_s=round(med(s["fit_s"] for s, _ in rows), 3),
        down_fit_s=round(med(d["fit_s"] for _, d in rows), 3),
        fit_overhead=round(med(d["fit_s"] / s["fit_s"] - 1 for s, d in rows), 4),
        fit_cpu_overhead=round(med(d["fit_cpu_s"] / s["fit_cpu_s"] - 1 for s, d in rows), 4),
        sqlite_process_s=round(med(s["process_s"] for s, _ in rows), 3),
        down_process_s=round(med(d["process_s"] for _, d in rows), 3),
        process_overhead=round(med(d["process_s"] / s["process_s"] - 1 for s, d in rows), 4),
        exit_message=rows[-1][1]["stderr_lines"],
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pairs", type=int, default=7)
    ap.add_argument("--log-models", action="store_true", help="only log_models=True (default: off, then on)")
    ap.add_argument("--child", choices=["sqlite", "down"], help=argparse.SUPPRESS)
    opts = ap.parse_args()
    if opts.child:
        child(opts.child, opts.log_models)
        return
    for log_models in [True] if opts.log_models else [False, True]:
        measure(opts.pairs, log_models)


if __name__ == "__main__":
    main()
