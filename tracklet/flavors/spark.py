"""The ``spark`` flavor: save, log and load Spark ML models (``PipelineModel`` and other MLWritable models).

The layout is MLflow's, so either library loads what the other saved::

    MLmodel           spark:           {pyspark_version, model_data: sparkml, model_class, code}
                      python_function: {loader_module: mlflow.spark, data: sparkml, env, python_version}
    sparkml/          the model written by Spark ML persistence (``model.write().save``)

Like MLflow, a model that is not a ``PipelineModel`` is saved as a one-stage ``PipelineModel``, and
:func:`load_model` returns a ``PipelineModel`` (its ``stages[0]`` is the model you saved).

With a local master (or a ``file:`` default filesystem) Spark writes straight into the model directory. On a
cluster Spark's executors write the model data, so it is written to a DFS temporary directory
(``dfs_tmpdir``, default ``TRACKLET_DFS_TMP`` / ``MLFLOW_DFS_TMP`` / ``/tmp/mlflow``) and copied to the local
model directory through Hadoop's FileSystem API; loading goes the other way.

``tracklet.pyfunc.load_model(...).predict(pandas_df)`` scores through the active SparkSession, or a
``local[1]`` one it creates: array columns the signature (or the model's ``featuresCol``) marks as Spark ML
vectors become vectors, and the result is the list of ``prediction`` values, as MLflow returns it.
"""

from __future__ import annotations

import logging
import os
import posixpath
import shutil
import uuid
from typing import Any

from tracklet.exceptions import InvalidParameterValue
from tracklet.flavors import class_path
from tracklet.flavors import env as _env
from tracklet.flavors import log_model as _log_model
from tracklet.flavors import pyfunc as _pyfunc
from tracklet.flavors.mlmodel import (
    MLMODEL_FILE,
    Model,
    ModelInfo,
    add_code_to_sys_path,
    copy_code_paths,
    download_model,
    finish_model_dir,
    flavor_config,
    prepare_model_dir,
    resolve_signature,
    save_input_example,
)
from tracklet.flavors.signature import ColSpec, ModelSignature, Schema

_logger = logging.getLogger(__name__)

FLAVOR_NAME = "spark"
LOADER_MODULE = "mlflow.spark"
MODEL_DATA = "sparkml"
PREDICTION_COL = "prediction"
VECTOR_TYPE = "sparkml_vector"  # MLflow's signature type for a Spark ML vector column
_DFS_TMP_VARS = ("TRACKLET_DFS_TMP", "MLFLOW_DFS_TMP")


def get_default_pip_requirements() -> list[str]:
    """Pinned requirements of a saved Spark model (installed versions)."""
    return _env.default_requirements(["pyspark", "pandas"])


# ---------------------------------------------------------------------------------------- spark plumbing
def _session(create: bool = False):
    """The active SparkSession; with ``create``, a ``local[1]`` one when none exists (for scoring)."""
    from pyspark.sql import SparkSession

    spark = SparkSession.getActiveSession()
    if spark is None and create:
        spark = (
            SparkSession.builder.master("local[1]")
            .appName("tracklet-model-scoring")
            .config("spark.ui.enabled", "false")
            .config("spark.sql.shuffle.partitions", "1")
            .getOrCreate()
        )
    return spark


def _writes_locally(spark) -> bool:
    """True when Spark's writes land on this machine's filesystem (local master or a ``file:`` default FS)."""
    sc = spark.sparkContext
    if sc.master.startswith("local"):
        return True
    default_fs = sc._jsc.hadoopConfiguration().get("fs.defaultFS") or "file:///"
    return default_fs.startswith("file:")


def _dfs_tmp_path(dfs_tmpdir: str | None) -> str:
    base = dfs_tmpdir or next((os.environ[v] for v in _DFS_TMP_VARS if os.environ.get(v)), "/tmp/mlflow")
    return posixpath.join(base, uuid.uuid4().hex)


def _hadoop_fs(spark, path: str):
    jvm = spark.sparkContext._jvm
    jpath = jvm.org.apache.hadoop.fs.Path(path)
    return jpath, jpath.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())


def _file_uri(path: str) -> str:
    return "file://" + os.path.abspath(path)


def _as_pipeline_model(spark_model):
    from pyspark.ml import PipelineModel, Transformer
    from pyspark.ml.util import MLWritable

    if isinstance(spark_model, PipelineModel):
        return spark_model
    if not isinstance(spark_model, Transformer) or not isinstance(spark_model, MLWritable):
        raise InvalidParameterValue(
            "spark_model must be a fitted Spark ML model (a pyspark.ml Transformer that is MLWritable, e.g. a "
            f"PipelineModel or LogisticRegressionModel), got {type(spark_model).__name__}"
        )
    return PipelineModel([spark_model])


def _write_model(pipeline_model, local_dir: str, dfs_tmpdir: str | None) -> None:
    spark = _session(create=True)
    if _writes_locally(spark):
        pipeline_model.write().save(_file_uri(local_dir))
        return
    tmp = _dfs_tmp_path(dfs_tmpdir)
    pipeline_model.write().save(tmp)
    src, fs = _hadoop_fs(spark, tmp)
    fs.copyToLocalFile(True, src, spark.sparkContext._jvm.org.apache.hadoop.fs.Path(_file_uri(local_dir)))


def _read_model(local_dir: str, dfs_tmpdir: str | None):
    from pyspark.ml import PipelineModel

    spark = _session(create=True)
    if _writes_locally(spark):
        return PipelineModel.load(_file_uri(local_dir))
    tmp = _dfs_tmp_path(dfs_tmpdir)
    dst, fs = _hadoop_fs(spark, tmp)
    fs.copyFromLocalFile(spark.sparkContext._jvm.org.apache.hadoop.fs.Path(_file_uri(local_dir)), dst)
    return PipelineModel.load(tmp)  # Spark may read lazily from it: the copy is not deleted


# ------------------------------------------------------------------------------------------- signatures
def spark_schema(struct, named: bool = True) -> Schema:
    """MLflow's column schema of a Spark ``StructType``: vectors are ``sparkml_vector``, arrays ``array``.
    Every column is required (Spark marks nearly every column nullable, so MLflow ignores nullability too)."""
    return Schema([_col_spec(f.dataType, f.name if named else None) for f in struct.fields])


def _col_spec(dtype, name: str | None) -> ColSpec:
    items = _spark_type(dtype)
    if isinstance(items, str):
        return ColSpec(items, name)
    raw = dict(items, name=name, required=True) if name is not None else dict(items, required=True)
    return ColSpec(raw["type"], name, raw=raw)


def _spark_type(dtype):
    from pyspark.ml.linalg import VectorUDT
    from pyspark.sql import types as T

    simple = {
        T.LongType: "long",
        T.IntegerType: "integer",
        T.ShortType: "integer",
        T.ByteType: "integer",
        T.DoubleType: "double",
        T.FloatType: "float",
        T.BooleanType: "boolean",
        T.StringType: "string",
        T.BinaryType: "binary",
        T.DateType: "datetime",
        T.TimestampType: "datetime",
    }
    for cls, name in simple.items():
        if isinstance(dtype, cls):
            return name
    if isinstance(dtype, VectorUDT):
        return {"type": VECTOR_TYPE}
    if isinstance(dtype, T.ArrayType):
        inner = _spark_type(dtype.elementType)
        return {"type": "array", "items": {"type": inner} if isinstance(inner, str) else inner}
    raise InvalidParameterValue(f"signature: Spark type {dtype.simpleString()} has no MLflow schema type")


def _vector_columns(schema: Schema | None) -> list[str]:
    if schema is None:
        return []
    return [s.name for s in schema.inputs if isinstance(s, ColSpec) and s.type == VECTOR_TYPE and s.name]


# ------------------------------------------------------------------------------------------------- save
def save_model(
    spark_model: Any,
    path: str,
    mlflow_model: Model | None = None,
    conda_env=None,
    code_paths: list | None = None,
    dfs_tmpdir: str | None = None,
    signature: ModelSignature | None = None,
    input_example: Any = None,
    pip_requirements=None,
    extra_pip_requirements=None,
    metadata: dict | None = None,
) -> None:
    """Save a fitted Spark ML model (``PipelineModel`` or another MLWritable model) to a new directory ``path``.

    ``input_example``: a pandas DataFrame (vector columns as lists of floats); with no ``signature`` one is
    inferred by scoring it (``signature=False``: none).
    """
    pipeline_model = _as_pipeline_model(spark_model)
    path = prepare_model_dir(path)
    model = mlflow_model if mlflow_model is not None else Model()
    try:
        _write_model(pipeline_model, os.path.join(path, MODEL_DATA), dfs_tmpdir)
        code = copy_code_paths(code_paths, path)
        example = save_input_example(model, input_example, path)
        sig = resolve_signature(signature, None)
        if sig is None and signature is not False and example is not None:
            sig = infer_signature(pipeline_model, example)
        model.add_flavor(
            FLAVOR_NAME,
            pyspark_version=_pyspark_version(),
            model_data=MODEL_DATA,
            code=code,
            model_class=class_path(pipeline_model),
        )
        _pyfunc.add_to_model(model, LOADER_MODULE, data=MODEL_DATA, code=code)
        _env.write_env_files(path, get_default_pip_requirements(), pip_requirements, extra_pip_requirements, conda_env)
        finish_model_dir(model, path, sig, metadata)
    except BaseException:
        shutil.rmtree(path, ignore_errors=True)  # never leave half a model directory behind
        raise


def _pyspark_version() -> str:
    import pyspark

    return pyspark.__version__


def log_model(
    spark_model: Any,
    artifact_path: str | None = None,
    conda_env=None,
    code_paths: list | None = None,
    dfs_tmpdir: str | None = None,
    registered_model_name: str | None = None,
    signature: ModelSignature | None = None,
    input_example: Any = None,
    *,
    pip_requirements=None,
    extra_pip_requirements=None,
    metadata: dict | None = None,
    name: str | None = None,
    run_id: str | None = None,
    **kwargs: Any,
) -> ModelInfo:
    """Save a Spark ML model and log it as artifacts of the active run (or ``run_id``).

    ``artifact_path`` (or MLflow 3's ``name``) defaults to ``"model"``; returns a ModelInfo with
    ``model_uri`` ``runs:/<run_id>/<artifact_path>``.
    """
    return _log_model(
        save_model,
        spark_model,
        artifact_path,
        name,
        run_id,
        registered_model_name,
        ignored=kwargs,
        conda_env=conda_env,
        code_paths=code_paths,
        dfs_tmpdir=dfs_tmpdir,
        signature=signature,
        input_example=input_example,
        pip_requirements=pip_requirements,
        extra_pip_requirements=extra_pip_requirements,
        metadata=metadata,
    )


# ------------------------------------------------------------------------------------------------- load
def load_model(model_uri: str, dfs_tmpdir: str | None = None, dst_path: str | None = None):
    """Load the Spark model at ``model_uri`` as a ``PipelineModel`` (``runs:/``, ``file://`` or a path)."""
    model_dir = download_model(model_uri, dst_path)
    conf = flavor_config(model_dir, FLAVOR_NAME)
    add_code_to_sys_path(model_dir, conf)
    return _read_model(os.path.join(model_dir, conf.get("model_data", MODEL_DATA)), dfs_tmpdir)


def _load_pyfunc(path: str) -> _SparkModelWrapper:
    """Called by ``pyfunc.load_model`` with ``<model dir>/sparkml``."""
    model_dir = os.path.dirname(os.path.abspath(path).rstrip(os.sep))
    meta = Model.load(os.path.join(model_dir, MLMODEL_FILE))
    spark = _session(create=True)
    return _SparkModelWrapper(spark, _read_model(path, None), meta.signature)


class _SparkModelWrapper:
    """The pyfunc object: scores a pandas DataFrame with the Spark model through a SparkSession."""

    def __init__(self, spark, spark_model, signature: ModelSignature | None):
        self.spark = spark
        self.spark_model = spark_model
        self.signature = signature

    def get_raw_model(self):
        return self.spark_model

    def _to_spark(self, pandas_df):
        from pyspark.ml.functions import array_to_vector

        spark = self.spark or _session(create=True)
        vectors = set(_vector_columns(self.signature.inputs if self.signature else None))
        vectors.update(_features_cols(self.spark_model))
        pandas_df = pandas_df.copy(deep=False)
        for c in vectors & set(pandas_df.columns):  # numpy arrays/np.float64 break Spark's type inference
            pandas_df[c] = pandas_df[c].map(lambda v: None if v is None else [float(x) for x in v])
        df = spark.createDataFrame(pandas_df)
        for f in df.schema.fields:
            if f.name in vectors and f.dataType.typeName() == "array":
                df = df.withColumn(f.name, array_to_vector(f.name))
        return df

    def _predict_column(self, pandas_df):
        """The transformed DataFrame's ``prediction`` column (the last stage's ``outputCol`` if it has none)."""
        from pyspark.ml.functions import vector_to_array
        from pyspark.ml.linalg import VectorUDT

        out = self.spark_model.transform(self._to_spark(pandas_df))
        col = PREDICTION_COL
        if col not in out.columns:
            col = _output_col(self.spark_model)
            if col is None or col not in out.columns:
                raise InvalidParameterValue(
                    f"The Spark model's output has no {PREDICTION_COL!r} column (columns: {out.columns})"
                )
        selected = out.select(col)
        if isinstance(selected.schema.fields[0].dataType, VectorUDT):
            selected = selected.select(vector_to_array(col).alias(col))
        return selected, col

    def predict(self, data, params: dict | None = None) -> list:
        """Predictions for the rows of a pandas DataFrame, as a list (MLflow's ``spark`` flavor does the same)."""
        import pandas as pd

        if not isinstance(data, pd.DataFrame):
            raise InvalidParameterValue(f"A Spark model predicts on a pandas DataFrame, got {type(data).__name__}")
        selected, col = self._predict_column(data)
        return [row[col] for row in selected.collect()]


def infer_signature(spark_model, example) -> ModelSignature | None:
    """The signature of ``spark_model`` from a pandas ``example``: the Spark schema of the example (vector
    columns as ``sparkml_vector``) and of the prediction column. None, with a warning, if it cannot score it."""
    try:
        scorer = _SparkModelWrapper(None, _as_pipeline_model(spark_model), None)
        inputs = scorer._to_spark(example)
        selected, _ = scorer._predict_column(example)
        return ModelSignature(spark_schema(inputs.schema), spark_schema(selected.schema, named=False))
    except Exception as exc:  # noqa: BLE001 - a model that can't score its example is still saved
        _logger.warning("Could not infer the Spark model's signature from the input example: %s", exc)
        return None


def _stages(spark_model) -> list:
    return list(getattr(spark_model, "stages", None) or [spark_model])


def _features_cols(spark_model) -> set[str]:
    cols = set()
    for stage in _stages(spark_model):
        if stage.hasParam("featuresCol") and stage.isDefined(stage.getParam("featuresCol")):
            cols.add(stage.getOrDefault(stage.getParam("featuresCol")))
    return cols


def _output_col(spark_model) -> str | None:
    last = _stages(spark_model)[-1]
    if last.hasParam("outputCol") and last.isDefined(last.getParam("outputCol")):
        return last.getOrDefault(last.getParam("outputCol"))
    return None
