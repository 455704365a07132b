"""Autolog overhead on Spark ML training, side by side with MLflow's ``mlflow.pyspark.ml.autolog``. JSON lines.

    python bench/bench_autolog_pyspark.py                         # both libraries, both workloads
    python bench/bench_autolog_pyspark.py --lib tracklet --workload cv --reps 3

Workloads, on a local Spark (``local[2]``) reading a parquet file of ``--rows`` x 10 features (cached before each
fit, outside the timing, so every fit starts from the same in-memory data):

* ``lr``: ``LogisticRegression(maxIter=20).fit``;
* ``cv``: ``CrossValidator`` (2 folds) over a 3-point ``regParam`` grid of that LogisticRegression.

Both libraries run with their defaults (models, signatures and datasets logged; MLflow also persists and then
unpersists the training DataFrame, and counts its rows for the dataset profile). Each library runs in its own
process and SparkSession, on a SQLite store in a temp dir. overhead = median over adjacent (plain, autolog)
pairs of autolog / plain - 1; ``added_s`` the median of autolog - plain in seconds; pairs interleaved so both
sides see the same machine load; a warm-up fit of each kind comes first.
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


def spark_session():
    from pyspark.sql import SparkSession

    spark = (
        SparkSession.builder.master("local[2]")
        .appName("tracklet-bench")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def make_data(spark, tmp: str, rows: int):
    """A parquet file of ``rows`` x 10 features (vector column) and a binary label; returns its reader."""
    from pyspark.ml.feature import VectorAssembler
    from pyspark.sql import functions as F

    cols = [f"x{i}" for i in range(10)]
    df = spark.range(rows).select(*[F.randn(seed=i).alias(c) for i, c in enumerate(cols)])
    df = df.withColumn("label", (F.col("x0") + 0.5 * F.col("x1") + 0.3 * F.randn(seed=99) > 0).cast("double"))
    path = os.path.join(tmp, "train.parquet")
    VectorAssembler(inputCols=cols, outputCol="features").transform(df).select("features", "label").write.parquet(path)
    return lambda: spark.read.parquet(path)


def workload(name: str):
    from pyspark.ml.classification import LogisticRegression
    from pyspark.ml.evaluation import BinaryClassificationEvaluator
    from pyspark.ml.tuning import CrossValidator, ParamGridBuilder

    lr = LogisticRegression(maxIter=20)
    if name == "lr":
        return lr
    grid = ParamGridBuilder().addGrid(lr.regParam, [0.0, 0.01, 0.1]).build()
    return CrossValidator(
        estimator=lr, estimatorParamMaps=grid, evaluator=BinaryClassificationEvaluator(), numFolds=2, seed=7
    )


def run_one(lib: str, name: str, rows: int, reps: int) -> None:
    warnings.filterwarnings("ignore")
    os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
    import logging

    logging.getLogger("mlflow").setLevel(logging.ERROR)
    logging.getLogger("py4j").setLevel(logging.ERROR)
    if lib == "mlflow":
        import mlflow
        import mlflow.pyspark.ml
    else:
        import tracklet as mlflow
        import tracklet.pyspark.ml
    tmp = tempfile.mkdtemp(prefix=f"bench-spark-{lib}-")
    atexit.register(shutil.rmtree, tmp, True)
    os.chdir(tmp)
    mlflow.set_tracking_uri(f"sqlite:///{tmp}/{lib}.db")
    spark = spark_session()
    read = make_data(spark, tmp, rows)
    estimator = workload(name)

    def timed(auto: bool) -> float:
        mlflow.pyspark.ml.autolog(disable=not auto, silent=True)
        df = read().cache()
        df.count()  # materialize outside the timing (MLflow unpersists the training data after a fit)
        t0 = time.perf_counter()
        estimator.fit(df)
        elapsed = time.perf_counter() - t0
        df.unpersist()
        return elapsed

    timed(False)  # warm the JVM up
    first = timed(True)
    pairs = []
    for i in range(reps):
        p, a = (timed(False), timed(True)) if i % 2 == 0 else reversed((timed(True), timed(False)))
        pairs.append((p, a))
    med = statistics.median
    emit(
        lib=lib,
        workload=name,
        rows=rows,
        reps=reps,
        plain_s=round(med(p for p, _ in pairs), 3),
        autolog_s=round(med(a for _, a in pairs), 3),
        added_s=round(med(a - p for p, a in pairs), 3),
        overhead=round(med(a / p - 1 for p, a in pairs), 4),
        first_fit_s=round(first, 3),
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lib", choices=["tracklet", "mlflow"])
    ap.add_argument("--workload", choices=["lr", "cv"])
    ap.add_argument("--rows", type=int, default=20_000)
    ap.add_argument("--reps", type=int, default=5)
    opts = ap.parse_args()
    if opts.lib and opts.workload:
        run_one(opts.lib, opts.workload, opts.rows, opts.reps)
        return
    libs = [opts.lib] if opts.lib else ["tracklet", "mlflow"]
    names = [opts.workload] if opts.workload else ["lr", "cv"]
    results = {}
    for name in names:
        for lib in libs:
            cmd = [sys.executable, __file__, "--lib", lib, "--workload", name]
            cmd += ["--rows", str(opts.rows), "--reps", str(opts.reps)]
            out = subprocess.run(cmd, capture_output=True, text=True)
            lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
            if out.returncode or not lines:
                emit(lib=lib, workload=name, error=out.stderr[-2000:])
                continue
            print(lines[-1], flush=True)
            results[(name, lib)] = json.loads(lines[-1])
    for name in names:
        t, m = results.get((name, "tracklet")), results.get((name, "mlflow"))
        if t and m:
            emit(
                workload=name,
                tracklet_overhead=t["overhead"],
                mlflow_overhead=m["overhead"],
                tracklet_added_s=t["added_s"],
                mlflow_added_s=m["added_s"],
            )


if __name__ == "__main__":
    main()
