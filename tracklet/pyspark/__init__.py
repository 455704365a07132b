"""Spark ML autologging as ``mlflow.pyspark``: ``tracklet.pyspark.ml.autolog()``.

Importing this package imports neither Spark nor the autolog patches.
"""

from __future__ import annotations

from tracklet.pyspark import ml

__all__ = ["ml"]
