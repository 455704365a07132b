"""Autolog overhead on MXNet Gluon ``Estimator.fit`` (Gluon environment). Prints JSON lines.

    PYTHONPATH=. venv-gluon/bin/python bench/bench_autolog_gluon.py [--reps 5] [--log-models]

The reference system removed Gluon autologging (its last release with it needs old pins), so this compares
tracklet's autolog with the plain fit only. Workload: a small MLP (2 x 64 hidden units) on 4,000 x 20
(binary), 10 epochs of batch 64, train and validation accuracy, on a SQLite store in a temp dir. overhead =
median over adjacent (plain, autolog) pairs of autolog / plain - 1 (wall clock), pairs interleaved so both
sides see the same load; the first autologged fit (store creation, imports) is left out.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import statistics
import tempfile
import time
import warnings


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
        est.fit(train, val_data=valid, epochs=10)
        return est

    return fit


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--log-models", action="store_true")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    logging.getLogger("tracklet").setLevel(logging.WARNING)

    import tracklet
    import tracklet.gluon

    root = tempfile.mkdtemp()
    try:
        tracklet.set_tracking_uri(f"sqlite:///{root}/bench.db")
        fit = make_fit()
        fit()  # warm-up: MXNet's first graph build
        tracklet.gluon.autolog(log_models=args.log_models, silent=True)
        fit()  # first autologged fit: store creation
        ratios, plain_s, auto_s = [], [], []
        for _ in range(args.reps):
            tracklet.gluon.autolog(disable=True)
            t0 = time.perf_counter()
            fit()
            plain = time.perf_counter() - t0
            tracklet.gluon.autolog(log_models=args.log_models, silent=True)
            t0 = time.perf_counter()
            fit()
            auto = time.perf_counter() - t0
            plain_s.append(plain)
            auto_s.append(auto)
            ratios.append(auto / plain - 1)
        tracklet.flush_async_logging()
        print(
            json.dumps(
                {
                    "bench": "gluon Estimator.fit",
                    "log_models": args.log_models,
                    "reps": args.reps,
                    "plain_s": round(statistics.median(plain_s), 4),
                    "autolog_s": round(statistics.median(auto_s), 4),
                    "overhead": round(statistics.median(ratios), 4),
                    "ratios": [round(r, 3) for r in ratios],
                }
            ),
            flush=True,
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
