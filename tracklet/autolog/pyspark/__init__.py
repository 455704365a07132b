"""Spark ML autologging: ``tracklet.pyspark.ml.autolog()`` (or ``tracklet.autolog()``).

Patched: ``pyspark.ml.base.Estimator.fit`` (every Spark ML estimator, Pipelines, CrossValidator,
TrainValidationSplit, OneVsRest, and plain ``pyspark.ml`` estimators of other libraries such as
``xgboost.spark.SparkXGBClassifier``), and for post-training metrics ``Model.transform`` and
``Evaluator.evaluate``. Per top-level fit one run records:

* params: the estimator's defined params; nested stages prefixed ``<StageName>.<param>`` (see
  :mod:`.params`); tags ``estimator_name``, ``estimator_class``; ``estimator_info.json`` with the hierarchy;
* CrossValidator / TrainValidationSplit: a child run per param map, ``search_results.csv``,
  ``best_parameters.json``, ``best_<Stage.param>`` params and ``best_model/`` (see :mod:`.tuning`);
* the model (``model/``, Spark flavor) when its class is on the allowlist, with its signature (no Spark job)
  and, with ``log_input_examples=True``, 5 input rows (see :mod:`.model`);
* with ``log_datasets``: the training DataFrame as a dataset input whose source is what its plan reads;
* post-training metrics ``<metricName>_<dataset variable>`` (see :mod:`.post_metrics`).

The parts import :mod:`.common`, never this module.
"""

from __future__ import annotations

from tracklet.autolog import kit
from tracklet.autolog.patching import replace_attribute, safe_patch
from tracklet.autolog.pyspark.common import INTEGRATION, PySparkOptions

__all__ = ["INTEGRATION", "autolog", "install"]

autolog = kit.declare_autolog(
    INTEGRATION,
    PySparkOptions,
    """Enable (or with ``disable=True`` revert) Spark ML autologging.

    ``log_post_training_metrics``: log ``evaluator.evaluate(model.transform(df))`` of an autologged model as
    ``<metricName>_<dataset variable>``. ``log_model_allowlist``: fully qualified model class names (or
    ``module.*``) whose fitted models are logged; default: Spark ML's serializable models, ``xgboost.spark.*``,
    ``synapse.ml.*``. ``registered_model_name``: accepted for MLflow compatibility; tracklet has no model
    registry yet (a warning says so).
    """,
)


def install(module, config) -> None:
    """Install the patches once ``pyspark.ml`` is imported."""
    from pyspark.ml import base, classification
    from pyspark.ml import tuning as spark_tuning

    from tracklet.autolog.pyspark import fit, post_metrics

    safe_patch(INTEGRATION, base.Estimator, "fit", fit.FitHooks())
    for owner in (spark_tuning, classification):  # the modules whose thread pools fit nested estimators
        original = vars(owner).get("inheritable_thread_target")
        if original is not None:
            replace_attribute(INTEGRATION, owner, "inheritable_thread_target", fit.handing_over(original))
    if kit.options(config, PySparkOptions).log_post_training_metrics:
        post_metrics.install()


def reset_for_tests() -> None:
    from tracklet.autolog.pyspark import post_metrics

    post_metrics._reset_for_tests()
