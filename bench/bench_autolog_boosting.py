"""Autolog overhead on XGBoost and LightGBM training, side by side with MLflow. Prints JSON lines.

    python bench/bench_autolog_boosting.py                       # both libraries, log_models off and on
    python bench/bench_autolog_boosting.py --lib tracklet --log-models --reps 5

Workload: ``xgboost.train`` and ``lightgbm.train``, 300 rounds on 20,000 x 30 (binary), two eval sets
(train, valid) with two metrics each and early stopping (50 rounds), on a SQLite store in a temp dir.
overhead = median over adjacent (plain, autolog) pairs of autolog / plain - 1 (wall clock; ``cpu_overhead``
the same on process CPU time, all threads included), pairs interleaved so both sides see the same load; the
first autologged fit (store creation, first imports) is reported apart as ``first_fit_s``. Training is
single-threaded so that other load on the machine disturbs the figures less.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings


def emit(**kw):
    print(json.dumps(kw), flush=True)


def make_data(n: int = 20_000, d: int = 30, seed: int = 0):
    import numpy as np

    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    logits = X[:, :10] @ rng.normal(size=10) + 0.5 * np.sin(X[:, 10:20]).sum(axis=1)
    y = (logits + rng.normal(scale=2.0, size=n) > 0).astype(float)
    cut = int(n * 0.8)
    return X[:cut], y[:cut], X[cut:], y[cut:]


def xgboost_fit(data):
    import xgboost as xgb

    Xt, yt, Xv, yv = data
    dtrain, dvalid = xgb.DMatrix(Xt, label=yt), xgb.DMatrix(Xv, label=yv)
    params = {
        "objective": "binary:logistic",
        "eval_metric": ["logloss", "auc"],
        "eta": 0.05,
        "max_depth": 6,
        "nthread": 1,
    }

    def fit():
        return xgb.train(
            params,
            dtrain,
            num_boost_round=300,
            evals=[(dtrain, "train"), (dvalid, "valid")],
            early_stopping_rounds=50,
            verbose_eval=False,
        )

    return fit


def lightgbm_fit(data):
    import lightgbm as lgb

    Xt, yt, Xv, yv = data
    params = {
        "objective": "binary",
        "metric": ["binary_logloss", "auc"],
        "learning_rate": 0.05,
        "num_leaves": 63,
        "num_threads": 1,
        "verbose": -1,
    }

    def fit():
        dtrain = lgb.Dataset(Xt, label=yt)
        dvalid = lgb.Dataset(Xv, label=yv, reference=dtrain)
        return lgb.train(
            params,
            dtrain,
            num_boost_round=300,
            valid_sets=[dtrain, dvalid],
            valid_names=["train", "valid"],
            callbacks=[lgb.early_stopping(50, verbose=False)],
        )

    return fit


def run_one(lib: str, framework: str, log_models: bool, reps: int) -> None:
    warnings.filterwarnings("ignore")
    os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
    import logging

    logging.getLogger("mlflow").setLevel(logging.ERROR)
    if lib == "mlflow":
        import mlflow
    else:
        import tracklet as mlflow
    tmp = tempfile.mkdtemp(prefix=f"bench-{lib}-")
    atexit.register(shutil.rmtree, tmp, True)
    os.chdir(tmp)
    mlflow.set_tracking_uri(f"sqlite:///{tmp}/{lib}.db")
    fit = {"xgboost": xgboost_fit, "lightgbm": lightgbm_fit}[framework](make_data())
    namespace = getattr(mlflow, framework)

    def timed(auto: bool) -> tuple[float, float]:
        namespace.autolog(log_models=log_models, disable=not auto, silent=True)
        t0, c0 = time.perf_counter(), time.process_time()
        fit()
        return time.perf_counter() - t0, time.process_time() - c0

    timed(False)  # warm the framework up
    first = timed(True)[0]
    pairs = []
    for i in range(reps):  # adjacent pairs see the same machine load; alternate which goes first
        p, a = (timed(False), timed(True)) if i % 2 == 0 else reversed((timed(True), timed(False)))
        pairs.append((p, a))
    med = statistics.median
    emit(
        lib=lib,
        framework=framework,
        log_models=log_models,
        reps=reps,
        plain_s=round(med(p[0] for p, _ in pairs), 4),
        autolog_s=round(med(a[0] for _, a in pairs), 4),
        overhead=round(med(a[0] / p[0] - 1 for p, a in pairs), 4),
        cpu_overhead=round(med(a[1] / p[1] - 1 for p, a in pairs), 4),
        first_fit_s=round(first, 4),
        first_overhead=round(first / med(p[0] for p, _ in pairs) - 1, 4),
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lib", choices=["tracklet", "mlflow"])
    ap.add_argument("--framework", choices=["xgboost", "lightgbm"])
    ap.add_argument("--log-models", action="store_true")
    ap.add_argument("--reps", type=int, default=5)
    opts = ap.parse_args()
    if opts.lib and opts.framework:
        run_one(opts.lib, opts.framework, opts.log_models, opts.reps)
        return
    # fan out: every combination in its own process, so imports and caches don't leak between them
    libs = [opts.lib] if opts.lib else ["tracklet", "mlflow"]
    frameworks = [opts.framework] if opts.framework else ["xgboost", "lightgbm"]
    models = [opts.log_models] if opts.lib else [False, True]
    results = []
    for framework in frameworks:
        for log_models in models:
            for lib in libs:
                cmd = [
                    sys.executable,
                    __file__,
                    "--lib",
                    lib,
                    "--framework",
                    framework,
                    "--reps",
                    str(opts.reps),
                ]
                out = subprocess.run(cmd + (["--log-models"] if log_models else []), capture_output=True, text=True)
                lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
                if out.returncode or not lines:
                    emit(lib=lib, framework=framework, log_models=log_models, error=out.stderr[-2000:])
                    continue
                print(lines[-1], flush=True)
                results.append(json.loads(lines[-1]))
    by = {(r["framework"], r["log_models"], r["lib"]): r["overhead"] for r in results}
    for framework in frameworks:
        for log_models in models:
            t, m = by.get((framework, log_models, "tracklet")), by.get((framework, log_models, "mlflow"))
            if t is not None and m is not None:
                emit(
                    framework=framework,
                    log_models=log_models,
                    tracklet_overhead=t,
                    mlflow_overhead=m,
                    ratio=round(t / m, 3) if m > 0 else None,
                )


if __name__ == "__main__":
    main()
