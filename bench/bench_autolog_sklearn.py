"""Benchmark scikit-learn autologging: tracklet vs MLflow. Prints JSON lines.

    python bench/bench_autolog_sklearn.py --lib tracklet
    python bench/bench_autolog_sklearn.py --lib mlflow

(a) ``autolog_call_ms``: the time of ``<lib>.autolog()`` itself in a fresh interpreter with no ML framework
    imported (after ``import <lib>``, timed apart), min and median over ``--calls`` processes, and which
    heavy modules are loaded by then.
(b) ``fit``: RandomForestClassifier(n_estimators=50) on 20,000 x 30, without autolog and with autolog
    (log_models=True, a SQLite store in a temp dir), alternating so machine load hits both alike. The
    first autologged fit (one-time imports) is reported apart; ``overhead_*_s`` = median(autolog) -
    median(baseline) over the later fits, in wall-clock and in CPU seconds (this process plus its
    children: MLflow infers model requirements in a subprocess).
(c) ``first_fit`` (``--fresh N``): the first fit in a fresh process, the way a script meets it: N interleaved
    pairs of fresh interpreters, one plain and one with ``<lib>.autolog(log_models=...)`` called before
    ``import sklearn``; each times its one fit. Reports the median of each side and the median of the
    per-pair ratios (``--fresh-models`` to log models too), and for the whole process: the added CPU time
    (imports, the warm-up thread and the exit drain included) and ``to_exit`` -- the wall time from the fit's
    start to the process's end, which includes the post-fit recording that autologging finishes in the
    background after ``fit`` returned (``TRACKLET_AUTOLOG_DEFER_POST_FIT=false`` puts it back inside ``fit``).
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

_CALL_SCRIPT = """
import time
t0 = time.perf_counter()
import {lib} as lib
t = time.perf_counter()
lib.autolog({kwargs})
elapsed = (time.perf_counter() - t) * 1000
import sys
heavy = [m for m in ("sklearn", "numpy", "pandas", "xgboost", "lightgbm") if m in sys.modules]
print(elapsed, (t - t0) * 1000, ",".join(heavy))
"""


_FRESH_SCRIPT = """
import os, sys, tempfile, time
tmp = tempfile.mkdtemp(prefix="bench-fresh-")
os.chdir(tmp)
if {autolog}:
    import {lib} as lib
    lib.set_tracking_uri("sqlite:///" + tmp + "/bench.db")
    lib.autolog(log_models={models}, silent=True{extra})
import numpy as np
from sklearn.ensemble import RandomForestClassifier
rng = np.random.default_rng(0)
X = rng.normal(size=({rows}, 30))
y = (X[:, :5].sum(axis=1) + rng.normal(size={rows}) > 0).astype(int)
t, c, start = time.perf_counter(), time.process_time(), time.time()
RandomForestClassifier(n_estimators=50, random_state=0, n_jobs=1).fit(X, y)
print(time.perf_counter() - t, time.process_time() - c, start)
"""


def first_fit(lib: str, pairs: int, rows: int, models: bool) -> dict:
    """The first fit in fresh processes: plain vs autologged, interleaved pairs."""
    extra = ", log_traces=False" if lib == "mlflow" else ""
    import resource

    plain, auto = [], []  # (fit wall, fit cpu, fit start to process end wall, whole process cpu) per process
    for _ in range(pairs):
        for on, out in ((False, plain), (True, auto)):
            script = _FRESH_SCRIPT.format(lib=lib, autolog=on, models=models, extra=extra, rows=rows)
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
            end, after = time.time(), resource.getrusage(resource.RUSAGE_CHILDREN)
            wall, cpu, start = (float(v) for v in done.stdout.split()[-3:])
            process_cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
            out.append((wall, cpu, end - start, process_cpu))
    result = {"lib": lib, "metric": "first_fit_s", "log_models": models, "rows": rows}
    # cpu: the fit's CPU time, less sensitive to other load; to_exit: from the fit's start to the process's end
    for i, clock in enumerate(("wall", "cpu", "to_exit")):
        p, a = [v[i] for v in plain], [v[i] for v in auto]
        result[clock] = {
            "plain_median": round(statistics.median(p), 3),
            "autolog_median": round(statistics.median(a), 3),
            "ratio_median": round(statistics.median(x / y for x, y in zip(a, p, strict=True)), 3),
            "added_median_s": round(statistics.median(x - y for x, y in zip(a, p, strict=True)), 3),
            "plain": [round(v, 3) for v in p],
            "autolog": [round(v, 3) for v in a],
        }
    # the whole process's CPU (imports, the warm-up thread, the exit drain): what the fit's figures leave out
    result["process_cpu_added_median_s"] = round(
        statistics.median(y[3] - x[3] for x, y in zip(plain, auto, strict=True)), 3
    )
    return result


def _cpu() -> float:
    """CPU seconds of this process and its finished children (MLflow runs a subprocess per logged model);
    less sensitive than wall time to other load on the machine."""
    import resource

    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + kids.ru_utime + kids.ru_stime


def autolog_call_ms(lib: str, calls: int) -> dict:
    kwargs = "log_traces=False" if lib == "mlflow" else ""
    times, imports, heavy = [], [], ""
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(calls):
            out = subprocess.run(
                [sys.executable, "-c", _CALL_SCRIPT.format(lib=lib, kwargs=kwargs)],
                cwd=tmp,
                capture_output=True,
                text=True,
                check=True,
            ).stdout.split()
            times.append(float(out[0]))
            imports.append(float(out[1]))
            heavy = out[2] if len(out) > 2 else ""
    return {
        "lib": lib,
        "metric": "autolog_call_ms",
        "min": round(min(times), 1),
        "median": round(statistics.median(times), 1),
        "calls": calls,
        "import_lib_ms_median": round(statistics.median(imports), 1),
        "imported_after_autolog": heavy,
    }


def fit_overhead(lib: str, rounds: int, rows: int) -> list[dict]:
    import numpy as np
    from sklearn.ensemble import RandomForestClassifier

    rng = np.random.default_rng(0)
    X = rng.normal(size=(rows, 30))
    y = (X[:, :5].sum(axis=1) + rng.normal(size=rows) > 0).astype(int)
    tmp = tempfile.mkdtemp(prefix=f"bench-{lib}-")
    os.chdir(tmp)
    if lib == "mlflow":
        import mlflow as mod

        extra = {"log_traces": False}
    else:
        import tracklet as mod

        extra = {}
    mod.set_tracking_uri(f"sqlite:///{tmp}/{lib}.db")

    def fit() -> tuple[float, float]:
        t, c = time.perf_counter(), _cpu()
        RandomForestClassifier(n_estimators=50, random_state=0, n_jobs=1).fit(X, y)
        return time.perf_counter() - t, _cpu() - c

    base, auto = [fit()], []
    mod.autolog(log_models=True, silent=True, **extra)
    first = fit()
    for _ in range(rounds):
        mod.autolog(disable=True, **extra)
        base.append(fit())
        mod.autolog(log_models=True, silent=True, **extra)
        auto.append(fit())
    out = []
    for i, clock in enumerate(("wall", "cpu")):
        b = statistics.median(v[i] for v in base)
        a = statistics.median(v[i] for v in auto)
        out += [
            {
                "lib": lib,
                "metric": f"fit_{clock}_s",
                "mode": "baseline",
                "median": round(b, 3),
                "all": [round(v[i], 3) for v in base],
            },
            {
                "lib": lib,
                "metric": f"fit_{clock}_s",
                "mode": "autolog",
                "median": round(a, 3),
                "first": round(first[i], 3),
                "all": [round(v[i], 3) for v in auto],
            },
            {
                "lib": lib,
                "metric": f"overhead_{clock}_s",
                "median": round(a - b, 3),
                "first_fit": round(first[i] - b, 3),
                "rows": rows,
                "n_estimators": 50,
            },
        ]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lib", choices=["tracklet", "mlflow"], default="tracklet")
    parser.add_argument("--calls", type=int, default=7, help="fresh processes timing autolog()")
    parser.add_argument("--rounds", type=int, default=3, help="baseline/autolog fit pairs after the first")
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--fresh", type=int, default=0, help="also N fresh-process first-fit pairs (c)")
    parser.add_argument("--fresh-models", action="store_true", help="log models in (c)")
    parser.add_argument("--only-fresh", action="store_true", help="run (c) only")
    args = parser.parse_args()
    if args.fresh:
        print(json.dumps(first_fit(args.lib, args.fresh, args.rows, args.fresh_models)), flush=True)
    if args.only_fresh:
        return
    print(json.dumps(autolog_call_ms(args.lib, args.calls)), flush=True)
    for line in fit_overhead(args.lib, args.rounds, args.rows):
        print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
