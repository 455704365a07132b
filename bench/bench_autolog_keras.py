"""Keras autolog overhead, side by side with MLflow's ``mlflow.tensorflow.autolog()``. Prints JSON lines.

    python bench/bench_autolog_keras.py                    # first fit (fresh processes) and later fits
    python bench/bench_autolog_keras.py --mode later --lib tracklet --reps 5 [--log-models]
    python bench/bench_autolog_keras.py --mode later --lib tracklet --log-every-n-steps 1   # per-step logging

Workload: an MLP 64-64-1 (Adam, binary cross-entropy, accuracy), 10 epochs, batch 256, on 20,000 x 30 with
``validation_split=0.2``, TensorFlow backend on one thread, SQLite store in a temp dir, each library with its defaults
(MLflow's include ``checkpoint=True``). Two figures per setting:

* ``first``: what a script sees -- the first ``fit`` in a fresh process (TensorFlow's tracing included on both
  sides). Each round starts fresh processes: a plain one (no tracking library imported) and one per library
  and ``log_models`` setting; overhead = median over rounds of fit_time / plain fit_time - 1 (``cpu_*``: the
  same on process CPU time, all threads included -- steadier when the machine is shared).
* ``later``: in one process, after a warm-up fit, interleaved (plain, autolog) pairs of fits of a freshly
  built model; overhead = median of the pairs' ratios - 1.
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
    X = rng.normal(size=(n, d)).astype("float32")
    logits = X[:, :10] @ rng.normal(size=10) + 0.5 * np.sin(X[:, 10:20]).sum(axis=1)
    return X, (logits + rng.normal(scale=2.0, size=n) > 0).astype("float32")


def make_fit(data):
    import keras
    import tensorflow as tf

    # single-threaded training: other load on the machine disturbs the figures less
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    X, y = data

    def fit():
        keras.utils.set_random_seed(0)
        model = keras.Sequential(
            [
                keras.Input((X.shape[1],)),
                keras.layers.Dense(64, activation="relu"),
                keras.layers.Dense(64, activation="relu"),
                keras.layers.Dense(1, activation="sigmoid"),
            ]
        )
        model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
        t0, c0 = time.perf_counter(), time.process_time()
        model.fit(X, y, epochs=10, batch_size=256, validation_split=0.2, verbose=0)
        return time.perf_counter() - t0, time.process_time() - c0

    return fit


def setup(lib: str, every_n_steps: int | None = None):
    """Quiet, temp-dir SQLite store; returns ``enable(on: bool)`` for the library's Keras autolog."""
    warnings.filterwarnings("ignore")
    os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    tmp = tempfile.mkdtemp(prefix=f"bench-keras-{lib}-")
    atexit.register(shutil.rmtree, tmp, True)
    os.chdir(tmp)
    if lib == "plain":
        return lambda on, log_models: None
    import logging

    logging.getLogger("mlflow").setLevel(logging.ERROR)
    if lib == "mlflow":
        import mlflow
        import mlflow.tensorflow as namespace
    else:
        import tracklet as mlflow
        import tracklet.tensorflow as namespace
    mlflow.set_tracking_uri(f"sqlite:///{tmp}/{lib}.db")
    extra = {"log_every_n_steps": every_n_steps} if every_n_steps else {}
    return lambda on, log_models: namespace.autolog(log_models=log_models, disable=not on, silent=True, **extra)


def run_first(lib: str, log_models: bool) -> None:
    enable = setup(lib)
    t0 = time.perf_counter()
    enable(True, log_models)
    autolog_call = time.perf_counter() - t0
    fit = make_fit(make_data())
    wall, cpu = fit()
    emit(
        mode="first",
        lib=lib,
        log_models=log_models,
        fit_s=round(wall, 4),
        cpu_s=round(cpu, 4),
        autolog_call_s=round(autolog_call, 4),
    )


def run_later(lib: str, log_models: bool, reps: int, every_n_steps: int | None = None) -> None:
    enable = setup(lib, every_n_steps)
    fit = make_fit(make_data())

    def timed(on: bool) -> tuple[float, float]:
        enable(on, log_models)
        return fit()

    timed(False)  # warm-up: TensorFlow's first tracing and allocations
    timed(True)  # the store's first run
    pairs = []
    for i in range(reps):  # adjacent pairs see the same machine load; alternate which goes first
        p, a = (timed(False), timed(True)) if i % 2 == 0 else reversed((timed(True), timed(False)))
        pairs.append((p, a))
    emit(
        mode="later",
        lib=lib,
        log_models=log_models,
        log_every_n_steps=every_n_steps,
        reps=reps,
        **_figures(pairs),
    )


def _figures(pairs: list) -> dict:
    """Medians over (plain, autolog) pairs of (wall, cpu) seconds."""
    med = statistics.median
    return {
        "plain_s": round(med(p[0] for p, _ in pairs), 4),
        "autolog_s": round(med(a[0] for _, a in pairs), 4),
        "added_s": round(med(a[0] - p[0] for p, a in pairs), 4),
        "overhead": round(med(a[0] / p[0] - 1 for p, a in pairs), 4),
        "cpu_added_s": round(med(a[1] - p[1] for p, a in pairs), 4),
        "cpu_overhead": round(med(a[1] / p[1] - 1 for p, a in pairs), 4),
    }


def _child(args: list[str]) -> dict | None:
    out = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True)
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
    if out.returncode or not lines:
        emit(args=args, error=out.stderr[-2000:])
        return None
    return json.loads(lines[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mode", choices=["first", "later"])
    ap.add_argument("--lib", choices=["plain", "tracklet", "mlflow"])
    ap.add_argument("--log-models", action="store_true")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--log-every-n-steps", type=int, help="later mode: per-step metrics every N optimizer steps")
    opts = ap.parse_args()
    if opts.mode and opts.lib:
        if opts.mode == "first":
            run_first(opts.lib, opts.log_models)
        else:
            run_later(opts.lib, opts.log_models, opts.reps, opts.log_every_n_steps)
        return
    libs = [opts.lib] if opts.lib and opts.lib != "plain" else ["tracklet", "mlflow"]
    settings = [(lib, models) for models in (False, True) for lib in libs]
    if opts.mode in (None, "first"):
        rounds: dict = {s: [] for s in settings}
        for _ in range(opts.reps):  # one fresh plain process per round, then one per setting
            plain = _child(["--mode", "first", "--lib", "plain"])
            for lib, models in settings:
                r = _child(["--mode", "first", "--lib", lib] + (["--log-models"] if models else []))
                if plain and r:
                    rounds[(lib, models)].append(((plain["fit_s"], plain["cpu_s"]), (r["fit_s"], r["cpu_s"])))
        for (lib, models), pairs in rounds.items():
            if pairs:
                emit(
                    mode="first",
                    lib=lib,
                    log_models=models,
                    reps=len(pairs),
                    **_figures(pairs),
                )
    if opts.mode in (None, "later"):
        for lib, models in settings:
            r = _child(
                ["--mode", "later", "--lib", lib, "--reps", str(opts.reps)] + (["--log-models"] if models else [])
            )
            if r:
                print(json.dumps(r), flush=True)


if __name__ == "__main__":
    main()
