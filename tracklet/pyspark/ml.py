"""Spark ML autologging as ``mlflow.pyspark.ml``: ``autolog``.

Importing this module imports neither Spark nor the autolog patches; ``autolog()`` loads them on call.
"""

from __future__ import annotations

from tracklet.flavors import copy_autolog_metadata as _copy_autolog_metadata


def autolog(*args, **kwargs):
    """Enable (or with ``disable=True`` revert) Spark ML autologging; see ``tracklet.autolog.pyspark.autolog``."""
    from tracklet.autolog.pyspark import autolog as _autolog

    return _autolog(*args, **kwargs)


_copy_autolog_metadata(autolog, "tracklet.autolog.pyspark")

__all__ = ["autolog"]
