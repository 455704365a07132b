"""Logging the fitted Spark model: the allowlist, its input columns, signature and input example.

The signature costs no Spark job: the input schema is the training DataFrame's schema restricted to the
columns the model reads, the output schema that of ``model.transform(...)``'s prediction column (Spark
analyzes a transform eagerly but runs nothing). Only the input example (``log_input_examples=True``) runs a
small job: 5 rows, vector columns as arrays, as a pandas DataFrame.
"""

from __future__ import annotations

from tracklet.autolog import kit
from tracklet.autolog.pyspark.common import allowed, class_name

EXAMPLE_ROWS = 5
_INPUT_PARAMS = ("inputCol", "inputCols", "featuresCol")
_OUTPUT_PARAMS = ("outputCol", "outputCols", "predictionCol", "rawPredictionCol", "probabilityCol")


def should_log_model(model, allowlist) -> bool:
    """Whether ``model`` and every model nested in it are on ``allowlist`` (known to save and load)."""
    from pyspark.ml.base import Model
    from pyspark.ml.classification import OneVsRestModel
    from pyspark.ml.pipeline import PipelineModel
    from pyspark.ml.tuning import CrossValidatorModel, TrainValidationSplitModel

    if not allowed(class_name(model), allowlist):
        return False
    if isinstance(model, OneVsRestModel):
        return all(should_log_model(m, allowlist) for m in model.models)
    if isinstance(model, PipelineModel):
        return all(should_log_model(s, allowlist) for s in model.stages if isinstance(s, Model))
    if isinstance(model, (CrossValidatorModel, TrainValidationSplitModel)):
        return should_log_model(model.bestModel, allowlist)
    nested = [model.getOrDefault(p) for p in model.params if model.isDefined(p)]
    return all(should_log_model(v, allowlist) for v in nested if isinstance(v, Model))


def _flat_stages(model) -> list:
    from pyspark.ml.pipeline import PipelineModel
    from pyspark.ml.tuning import CrossValidatorModel, TrainValidationSplitModel

    if isinstance(model, (CrossValidatorModel, TrainValidationSplitModel)):
        return _flat_stages(model.bestModel)
    if isinstance(model, PipelineModel):
        return [s for stage in model.stages for s in _flat_stages(stage)]
    return [model]


def _param_values(stage, names) -> list[str]:
    out = []
    for name in names:
        if stage.hasParam(name) and stage.isDefined(stage.getParam(name)):
            value = stage.getOrDefault(stage.getParam(name))
            out.extend(value if isinstance(value, (list, tuple)) else [value])
    return [v for v in out if isinstance(v, str)]


def feature_columns(df, model) -> list[str] | None:
    """The columns of ``df`` the model reads (in ``df``'s order), from the stages' input/output column
    params; None when a stage names its inputs some other way (``RFormula``, ``SQLTransformer``...)."""
    needed: set[str] = set()
    produced: set[str] = set()
    for stage in _flat_stages(model):
        inputs = _param_values(stage, _INPUT_PARAMS)
        if not inputs:
            return None
        needed.update(c for c in inputs if c not in produced)
        produced.update(_param_values(stage, _OUTPUT_PARAMS))
    return [c for c in df.columns if c in needed] or None


def prediction_frame(model, df):
    """``model.transform(df)`` reduced to its prediction column (analysis only: no Spark job)."""
    from tracklet.flavors.spark import PREDICTION_COL

    out = model.transform(df)
    if PREDICTION_COL in out.columns:
        return out.select(PREDICTION_COL)
    last = _flat_stages(model)[-1]
    cols = _param_values(last, ("outputCol",))
    return out.select(cols[0]) if cols and cols[0] in out.columns else None


def signature(model, inputs):
    """The model's signature from the schemas of ``inputs`` and of its prediction column, or None."""
    from tracklet.flavors.signature import ModelSignature
    from tracklet.flavors.spark import spark_schema

    predictions = prediction_frame(model, inputs)
    outputs = spark_schema(predictions.schema, named=False) if predictions is not None else None
    return ModelSignature(spark_schema(inputs.schema), outputs)


def input_example(inputs):
    """The first rows of ``inputs`` as pandas, vector columns as lists of floats (a small Spark job)."""
    from pyspark.ml.functions import vector_to_array
    from pyspark.ml.linalg import VectorUDT

    head = inputs.limit(EXAMPLE_ROWS)
    for field in head.schema.fields:
        if isinstance(field.dataType, VectorUDT):
            head = head.withColumn(field.name, vector_to_array(field.name))
    return head.toPandas()


def log_model(call, model, df, allowlist, artifact_path: str = "model", **flavor_kwargs) -> bool:
    """Log ``model`` with the Spark flavor through the kit if it is on the allowlist (else warn once), with the
    signature and input example the options ask for. Returns whether it was logged."""
    import functools

    from tracklet.flavors import spark as flavor

    config = call.config
    if not should_log_model(model, allowlist):
        kit.warn(
            call,
            f"allowlist:{class_name(model)}",
            f"tracklet: {class_name(model)} (or a model in it) is not on the pyspark.ml log_model_allowlist; "
            "the model was not logged",
        )
        return False
    sig, example = False, None
    wants = artifact_path == "model" and (config.log_model_signatures or config.log_input_examples)
    cols = feature_columns(df, model) if wants else None
    if cols:
        inputs = df.select(cols)
        if config.log_model_signatures:
            try:
                sig = signature(model, inputs)
            except Exception as exc:  # noqa: BLE001 - e.g. a column type MLflow's schema has no name for
                kit.warn(call, f"signature:{class_name(model)}", f"tracklet: no signature for the model: {exc}")
        if config.log_input_examples:
            example = input_example(inputs)
    # the kit honours log_models / log_input_examples; the signature comes from Spark schemas (no job), not
    # from predicting on the example as the kit would, so it is passed to the flavor here
    kit.log_model(
        call,
        functools.partial(_with_signature, flavor.log_model, sig),
        model,
        artifact_path=artifact_path,
        example=example,
        **flavor_kwargs,
    )
    return True


def _with_signature(flavor_log_model, sig, model, signature=None, **kwargs):
    return flavor_log_model(model, signature=sig, **kwargs)
