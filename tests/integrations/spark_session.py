"""The one local SparkSession every Spark test in a pytest process shares (starting the JVM takes seconds).

``get_spark()`` creates it on first use (``local[2]``, no UI, 2 shuffle partitions, its warehouse in a
temporary directory, a JVM tuned for a fast start) and returns the same session afterwards; the JVM ends with
the process.
"""

from __future__ import annotations

import os
import tempfile

_WAREHOUSE = os.path.join(tempfile.gettempdir(), f"tracklet-spark-warehouse-{os.getpid()}")


def get_spark():
    """The shared SparkSession."""
    from pyspark.sql import SparkSession

    spark = SparkSession.getActiveSession()
    if spark is None:
        spark = (
            SparkSession.builder.master("local[2]")
            .appName("tracklet-tests")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.shuffle.partitions", "2")
            .config("spark.default.parallelism", "2")
            .config("spark.sql.warehouse.dir", _WAREHOUSE)
            # tiny data: the C1 compiler only and one GC thread start the JVM several times faster
            .config("spark.driver.extraJavaOptions", "-XX:+UseSerialGC -XX:TieredStopAtLevel=1")
            .getOrCreate()
        )
        spark.sparkContext.setLogLevel("ERROR")
    return spark
