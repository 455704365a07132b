"""Gluon autolog overhead, side by side with MLflow 2.14.3's ``mlflow.gluon.autolog()``. Prints JSON lines.

    PYTHONPATH=. /work/venv-gluon/bin/python bench/bench_autolog_gluon.py --lib tracklet   # tracklet only
    PYTHONPATH=. /work/venv-gluon-mlflow/bin/python bench/bench_autolog_gluon.py           # both + key parity
    ... --mode first|later|keys --lib plain|tracklet|mlflow [--log-models] [--reps 5]

MXNet 1.9.1 imports only with numpy < 1.24, and the reference removed Gluon autologging after 2.14.3, so the
comparison needs a venv of its own, not used by CI: ``python -m venv /work/venv-gluon-mlflow`` then
``/work/venv-gluon-mlflow/bin/pip install -c .ci/constraints-gluon-mlflow.txt -e ".[gluon]" mlflow==2.14.3``.

Workload: a small MLP (2 x 64 hidden units) on 4,000 x 20 (binary), ``Estimator.fit`` for 10 epochs of batch 64
with train and validation accuracy, SQLite store in a temp dir, each library with its defaults. Figures:

* ``first``: the first fit in a fresh process (MXNet's graph build included on both sides); each round runs a
  plain process and one per library / ``log_models`` setting; overhead = median over rounds of fit / plain - 1.
* ``later``: in one process, after a warm-up fit and a first autologged fit, interleaved (plain, autolog) pairs
  of fits of a freshly built net; overhead = median of the pairs' ratios - 1 (``cpu_*``: process CPU time).
* ``keys``: the params, metric names and artifact paths of one autologged run (log_models on), per library.
"""

from __future__ import annotations

import argparse
import atexit
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings

# shared with the Keras bench (bench/ is on sys.path when a script in it runs)
from bench_autolog_keras import _figures, emit


def make_fit():
    import mxnet as mx
    import numpy as np
    from mxnet import gluon
    from mxnet.gluon.contrib.estimator import Estimator

    rng = np.random.default_rng(0)
    X = rng.normal(size=(4000, 20)).astype("float32")
    y = (X[:, :5].sum(axis=1) + 0.5 * rng.normal(size=4000) > 0).astype("float32")
    train = gluon.data.DataLoader(gluon.data.ArrayDataset(X[:3200], y[:3200]), batch_size=64)
    valid = gluon.data.DataLoader(gluon.data.ArrayDataset(X[3200:], y[3200:]), batch_size=64)

    def fit():
        mx.random.seed(0)
        net = gluon.nn.HybridSequential()
        net.add(gluon.nn.Dense(64, activation="relu"), gluon.nn.Dense(64, activation="relu"), gluon.nn.Dense(2))
        net.initialize(mx.init.Xavier())
        net.hybridize()
        trainer = gluon.Trainer(net.collect_params(), "adam", {"learning_rate": 0.001})
        est = Estimator(
            net,
            gluon.loss.SoftmaxCrossEntropyLoss(),
            train_metrics=mx.metric.Accuracy(),
            val_metrics=mx.metric.Accuracy(),
            trainer=trainer,
            context=mx.cpu(),
        )
        est.logger.setLevel(logging.ERROR)
        t0, c0 = time.perf_counter(), time.process_time()
        est.fit(train, val_data=valid, epochs=10)
        return time.perf_counter() - t0, time.process_time() - c0

    return fit


def setup(lib: str):
    """Quiet, temp-dir SQLite store; returns ``(module, enable(on, log_models))`` for the library's autolog."""
    warnings.filterwarnings("ignore")
    os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
    tmp = tempfile.mkdtemp(prefix=f"bench-gluon-{lib}-")
    atexit.register(shutil.rmtree, tmp, True)
    os.chdir(tmp)
    if lib == "plain":
        return None, lambda on, log_models: None
    for name in ("mlflow", "tracklet", "alembic"):
        logging.getLogger(name).setLevel(logging.ERROR)
    if lib == "mlflow":
        import mlflow
        import mlflow.gluon as namespace
    else:
        import tracklet as mlflow
        import tracklet.gluon as namespace
    mlflow.set_tracking_uri(f"sqlite:///{tmp}/{lib}.db")
    return mlflow, lambda on, log_models: namespace.autolog(log_models=log_models, disable=not on, silent=True)


def run_first(lib: str, log_models: bool) -> None:
    _, enable = setup(lib)
    enable(True, log_models)
    wall, cpu = make_fit()()
    emit(mode="first", lib=lib, log_models=log_models, fit_s=round(wall, 4), cpu_s=round(cpu, 4))


def run_later(lib: str, log_models: bool, reps: int) -> None:
    mod, enable = setup(lib)
    fit = make_fit()

    def timed(on: bool) -> tuple[float, float]:
        enable(on, log_models)
        return fit()

    timed(False)  # warm-up: MXNet's first graph build
    timed(True)  # the store's first run
    pairs = []
    for i in range(reps):  # adjacent pairs see the same machine load; alternate which goes first
        p, a = (timed(False), timed(True)) if i % 2 == 0 else reversed((timed(True), timed(False)))
        pairs.append((p, a))
    if lib == "tracklet":
        mod.flush_async_logging()
    emit(mode="later", lib=lib, log_models=log_models, reps=reps, **_figures(pairs))


def run_keys(lib: str) -> None:
    mod, enable = setup(lib)
    enable(True, True)
    make_fit()()
    run = mod.last_active_run()
    client = mod.MlflowClient()

    def walk(path=None):
        for f in client.list_artifacts(run.info.run_id, path):
            yield from walk(f.path) if f.is_dir else [f.path]

    data = run.data if run.data.params else client.get_run(run.info.run_id).data
    tags = sorted(k for k in data.tags if not k.startswith("mlflow.source") and k != "mlflow.user")
    emit(mode="keys", lib=lib, params=data.params, metrics=sorted(data.metrics), tags=tags, artifacts=sorted(walk()))


def _child(args: list[str]) -> dict | None:
    out = subprocess.run([sys.executable, os.path.abspath(__file__), *args], capture_output=True, text=True)
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
    if out.returncode or not lines:
        emit(args=args, error=out.stderr[-2000:])
        return None
    return json.loads(lines[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mode", choices=["first", "later", "keys"])
    ap.add_argument("--lib", choices=["plain", "tracklet", "mlflow"])
    ap.add_argument("--log-models", action="store_true")
    ap.add_argument("--reps", type=int, default=5)
    opts = ap.parse_args()
    if opts.mode and opts.lib:
        {"first": lambda: run_first(opts.lib, opts.log_models), "keys": lambda: run_keys(opts.lib)}.get(
            opts.mode, lambda: run_later(opts.lib, opts.log_models, opts.reps)
        )()
        return
    if opts.lib and opts.lib != "plain":
        libs = [opts.lib]
    else:
        try:  # mlflow 2.14.3 lives in its own venv; elsewhere compare with the plain fit only
            import mlflow.gluon  # noqa: F401

            libs = ["tracklet", "mlflow"]
        except ImportError:
            libs = ["tracklet"]
    models = [opts.log_models] if opts.log_models else [False, True]
    settings = [(lib, m) for m in models for lib in libs]
    if opts.mode in (None, "first"):
        rounds: dict = {s: [] for s in settings}
        for _ in range(opts.reps):  # one fresh plain process per round, then one per setting
            plain = _child(["--mode", "first", "--lib", "plain"])
            for lib, m in settings:
                r = _child(["--mode", "first", "--lib", lib] + (["--log-models"] if m else []))
                if plain and r:
                    rounds[(lib, m)].append(((plain["fit_s"], plain["cpu_s"]), (r["fit_s"], r["cpu_s"])))
        for (lib, m), pairs in rounds.items():
            if pairs:
                emit(mode="first", lib=lib, log_models=m, reps=len(pairs), **_figures(pairs))
    if opts.mode in (None, "later"):
        for lib, m in settings:
            r = _child(["--mode", "later", "--lib", lib, "--reps", str(opts.reps)] + (["--log-models"] if m else []))
            if r:
                print(json.dumps(r), flush=True)
    if opts.mode in (None, "keys"):
        for lib in libs:
            r = _child(["--mode", "keys", "--lib", lib])
            if r:
                print(json.dumps(r), flush=True)


if __name__ == "__main__":
    main()
