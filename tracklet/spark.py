"""Spark models and datasource autologging, as ``mlflow.spark``: ``save_model``, ``log_model``, ``load_model``,
``autolog``.

``autolog()`` here records which files and tables Spark reads (the run tag ``sparkDatasourceInfo``); Spark ML
training is autologged by ``tracklet.pyspark.ml.autolog()``. Importing this module imports neither Spark nor
the autolog patches.
"""

from __future__ import annotations

from tracklet.flavors.spark import (
    FLAVOR_NAME,
    get_default_pip_requirements,
    load_model,
    log_model,
    save_model,
)


def autolog(disable: bool = False, silent: bool = False) -> None:
    """Enable (or with ``disable=True`` revert) Spark datasource autologging: the files and tables read through
    Spark are recorded in the run tag ``sparkDatasourceInfo``; see ``tracklet.autolog.spark_datasource``."""
    from tracklet.autolog.spark_datasource import autolog as _autolog

    _autolog(disable=disable, silent=silent)


__all__ = ["FLAVOR_NAME", "autolog", "get_default_pip_requirements", "load_model", "log_model", "save_model"]
