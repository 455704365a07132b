"""Spark ML autologging as ``mlflow.pyspark.ml``: ``autolog``.

Importing this module imports neither Spark nor the autolog patches; ``autolog()`` loads them on call.
"""

from __future__ import annotations

from tracklet.autolog.core import FrameworkAutolog as _FrameworkAutolog

autolog = _FrameworkAutolog("pyspark.ml")
"""Enable (or with ``disable=True`` revert) Spark ML autologging; see ``tracklet.autolog.pyspark.autolog``."""

__all__ = ["autolog"]
