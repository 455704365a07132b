"""What the parts of the Spark ML integration share (a leaf: imports no other part)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from tracklet.autolog import kit
from tracklet.exceptions import InvalidParameterValue

INTEGRATION = "pyspark.ml"

# Fitted model classes logged by default: Spark ML's serializable models (MLflow's allowlist plus a few it
# lacks), the Spark estimators of XGBoost, and SynapseML's. ``<module>.*`` allows a whole module tree. Only
# models are checked: a PipelineModel's plain transformers (VectorAssembler...) always save.
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
        "pyspark.ml.pipeline.PipelineModel",
        "pyspark.ml.tuning.CrossValidatorModel",
        "pyspark.ml.tuning.TrainValidationSplitModel",
        "xgboost.spark.*",
        "synapse.ml.*",
    }
)


@dataclass(frozen=True)
class PySparkOptions(kit.Options):
    """``tracklet.pyspark.ml.autolog`` options beyond the shared ones."""

    log_post_training_metrics: bool = True
    log_model_allowlist: tuple[str, ...] | list[str] | None = None
    registered_model_name: str | None = None

    def validate(self) -> None:
        if not isinstance(self.log_post_training_metrics, bool):
            raise InvalidParameterValue(
                f"log_post_training_metrics must be True or False, got {self.log_post_training_metrics!r}"
            )
        names = self.log_model_allowlist
        if names is not None and (isinstance(names, str) or not all(isinstance(n, str) for n in names)):
            raise InvalidParameterValue(f"log_model_allowlist must be a list of class names, got {names!r}")

    def allowlist(self) -> frozenset[str]:
        """The model classes to log: the user's list, else :data:`DEFAULT_ALLOWLIST`."""
        if self.log_model_allowlist is None:
            return DEFAULT_ALLOWLIST
        return frozenset(n.strip() for n in self.log_model_allowlist)


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
