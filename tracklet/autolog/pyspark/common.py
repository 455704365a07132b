"""What the parts of the Spark ML integration share (a leaf: imports no other part)."""

from __future__ import annotations

import math

INTEGRATION = "pyspark.ml"

# Fitted model classes logged by default: Spark ML's serializable models (as MLflow's allowlist), the Spark
# estimators of XGBoost, and SynapseML's. ``<module>.*`` allows a whole module tree.
DEFAULT_ALLOWLIST = frozenset(
    {
        *(
            f"pyspark.ml.classification.{c}"
            for c in (
                "LinearSVCModel",
                "DecisionTreeClassificationModel",
                "GBTClassificationModel",
                "LogisticRegressionModel",
                "RandomForestClassificationModel",
                "NaiveBayesModel",
                "MultilayerPerceptronClassificationModel",
                "FMClassificationModel",
                "OneVsRestModel",
            )
        ),
        *(f"pyspark.ml.clustering.{c}" for c in ("BisectingKMeansModel", "KMeansModel", "GaussianMixtureModel")),
        *(
            f"pyspark.ml.regression.{c}"
            for c in (
                "AFTSurvivalRegressionModel",
                "DecisionTreeRegressionModel",
                "GBTRegressionModel",
                "GeneralizedLinearRegressionModel",
                "LinearRegressionModel",
                "RandomForestRegressionModel",
                "FMRegressionModel",
                "IsotonicRegressionModel",
            )
        ),
        *(
            f"pyspark.ml.feature.{c}"
            for c in (
                "BucketedRandomProjectionLSHModel",
                "ChiSqSelectorModel",
                "CountVectorizerModel",
                "IDFModel",
                "ImputerModel",
                "MaxAbsScalerModel",
                "MinHashLSHModel",
                "MinMaxScalerModel",
                "OneHotEncoderModel",
                "PCAModel",
                "RobustScalerModel",
                "RFormulaModel",
                "StandardScalerModel",
                "StringIndexerModel",
                "VarianceThresholdSelectorModel",
                "VectorIndexerModel",
                "UnivariateFeatureSelectorModel",
                "Word2VecModel",
            )
        ),
        # transformers a PipelineModel commonly holds (no fitted state, always serializable)
        *(
            f"pyspark.ml.feature.{c}"
            for c in ("VectorAssembler", "SQLTransformer", "Tokenizer", "HashingTF", "Binarizer", "Bucketizer")
        ),
        "pyspark.ml.pipeline.PipelineModel",
        "pyspark.ml.tuning.CrossValidatorModel",
        "pyspark.ml.tuning.TrainValidationSplitModel",
        "xgboost.spark.*",
        "synapse.ml.*",
    }
)


def class_name(obj) -> str:
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


def allowed(name: str, allowlist) -> bool:
    """Whether class ``name`` is on ``allowlist`` (exact names, or ``prefix.*`` for a module tree)."""
    if name in allowlist:
        return True
    return any(entry.endswith(".*") and name.startswith(entry[:-1]) for entry in allowlist)


def jsonable(obj):
    """``obj`` with every value JSON can't hold turned into text (param values can be numpy or Spark objects)."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return str(obj)
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    item = getattr(obj, "item", None)  # numpy scalars
    if callable(item) and type(obj).__module__ == "numpy":
        return jsonable(item())
    return str(obj)
