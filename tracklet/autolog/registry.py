"""The table of autolog integrations: data, not code branches.

One line per framework. ``install`` names the function that patches the framework; it is imported only
once the user imports ``module`` (a wrapt post-import hook), so ``tracklet.autolog()`` loads nothing heavy.

The version range is what CI tests: ``min_version`` is the version ``.ci/constraints.txt`` pins (the only one
the suite runs against), up to the end of that major version. Lower it only together with a CI environment
that runs the suite on the lower version (tests/autolog/test_contract.py checks the pinned one is inside).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Integration:
    """How to reach one framework's autologging."""

    name: str  # "sklearn", "xgboost", ...: the value of the mlflow.autologging tag
    module: str  # import name whose import fires the hook: "sklearn"
    install: str  # "tracklet.autolog.sklearn:install", called as install(module, config)
    distribution: str  # distribution name for the version check: "scikit-learn"
    min_version: str  # tested range, inclusive
    max_version: str
    also: tuple[str, ...] = ()  # more modules whose import calls install(module, config) too


INTEGRATIONS: dict[str, Integration] = {
    i.name: i
    for i in (
        Integration("sklearn", "sklearn", "tracklet.autolog.sklearn:install", "scikit-learn", "1.9.0", "1.99.99"),
        Integration("xgboost", "xgboost", "tracklet.autolog.xgboost:install", "xgboost", "3.2.0", "3.99.99"),
        Integration("lightgbm", "lightgbm", "tracklet.autolog.lightgbm:install", "lightgbm", "4.7.0", "4.99.99"),
        Integration(
            "keras",
            "keras",
            "tracklet.autolog.keras:install",
            "keras",
            "3.15.0",
            "3.99.99",
            ("tf_keras", "tensorboard.summary.v2"),
        ),
        Integration("pyspark.ml", "pyspark.ml", "tracklet.autolog.pyspark:install", "pyspark", "4.3.0", "4.99.99"),
    )
}
