"""The spark flavor on a real local Spark: save/log/load of PipelineModels and single models, pyfunc predict on
pandas, MLflow's layout both ways (MLflow loads what tracklet saved and the reverse)."""

from __future__ import annotations

import json
import os
import warnings

import pytest

pytest.importorskip("pyspark")
pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")  # pyspark on pandas 3

import pandas as pd  # noqa: E402
import yaml  # noqa: E402
from integrations.spark_session import get_spark  # noqa: E402  (tests/ is on sys.path)

import tracklet  # noqa: E402
import tracklet.pyfunc  # noqa: E402
import tracklet.spark  # noqa: E402
from tracklet.exceptions import TrackletException  # noqa: E402

FRAME = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0, 4.0, 5.0], "b": [1.0, 0.0, 1.0, 0.0, 1.0, 0.0]})
LABELS = [0.0, 0.0, 0.0, 1.0, 1.0, 1.0]


@pytest.fixture(scope="module")
def models():
    """(PipelineModel(VectorAssembler, LogisticRegression), the LogisticRegressionModel alone, features frame)."""
    from pyspark.ml import Pipeline
    from pyspark.ml.classification import LogisticRegression
    from pyspark.ml.feature import VectorAssembler

    spark = get_spark()
    df = spark.createDataFrame(FRAME.assign(label=LABELS))
    assembler = VectorAssembler(inputCols=["a", "b"], outputCol="features")
    pipeline_model = Pipeline(stages=[assembler, LogisticRegression(maxIter=10)]).fit(df)
    vectors = assembler.transform(df)
    return pipeline_model, pipeline_model.stages[-1], vectors


def _mlmodel(path) -> dict:
    with open(os.path.join(path, "MLmodel")) as f:
        return yaml.safe_load(f)


def test_pipeline_model_saves_in_mlflows_layout_and_predicts_through_pyfunc(tmp_path, models):
    pipeline_model, _, _ = models
    path = str(tmp_path / "m")
    tracklet.spark.save_model(pipeline_model, path, input_example=FRAME.head(3))
    meta = _mlmodel(path)
    assert meta["flavors"]["spark"]["model_data"] == "sparkml"
    assert meta["flavors"]["spark"]["model_class"] == "pyspark.ml.pipeline.PipelineModel"
    assert meta["flavors"]["python_function"]["loader_module"] == "mlflow.spark"
    assert meta["flavors"]["python_function"]["data"] == "sparkml"
    assert json.loads(meta["signature"]["inputs"]) == [
        {"type": "double", "name": "a", "required": True},
        {"type": "double", "name": "b", "required": True},
    ]
    assert json.loads(meta["signature"]["outputs"]) == [{"type": "double", "required": True}]
    assert os.path.isdir(os.path.join(path, "sparkml", "stages"))
    assert any(line.startswith("pyspark==") for line in open(os.path.join(path, "requirements.txt")))

    expected = [r.prediction for r in pipeline_model.transform(get_spark().createDataFrame(FRAME)).collect()]
    assert tracklet.pyfunc.load_model(path).predict(FRAME) == expected
    loaded = tracklet.spark.load_model(path)
    assert [type(s).__name__ for s in loaded.stages] == ["VectorAssembler", "LogisticRegressionModel"]


def test_a_single_model_is_saved_as_a_one_stage_pipeline_and_takes_vector_columns_as_lists(tmp_path, models):
    _, lr_model, vectors = models
    path = str(tmp_path / "lr")
    example = pd.DataFrame({"features": [[0.0, 1.0], [5.0, 0.0]]})
    tracklet.spark.save_model(lr_model, path, input_example=example)
    meta = _mlmodel(path)
    assert json.loads(meta["signature"]["inputs"]) == [{"type": "sparkml_vector", "name": "features", "required": True}]
    loaded = tracklet.spark.load_model(path)
    assert type(loaded).__name__ == "PipelineModel" and type(loaded.stages[0]).__name__ == "LogisticRegressionModel"
    expected = [r.prediction for r in lr_model.transform(vectors).collect()]
    rows = pd.DataFrame({"features": [list(r.features) for r in vectors.select("features").collect()]})
    assert tracklet.pyfunc.load_model(path).predict(rows) == expected


def test_log_model_writes_the_run_artifacts_and_history(models):
    pipeline_model, _, _ = models
    with tracklet.start_run() as run:
        info = tracklet.spark.log_model(pipeline_model, name="spark-model")
    assert info.model_uri == f"models:/{info.model_id}" and info.artifact_path == "spark-model"
    history = json.loads(tracklet.get_run(run.info.run_id).data.tags["mlflow.log-model.history"])
    assert history[0]["artifact_path"] == "spark-model" and "spark" in history[0]["flavors"]
    assert tracklet.pyfunc.load_model(info.model_uri).predict(FRAME) == [0.0, 0.0, 0.0, 1.0, 1.0, 1.0]


def test_bad_input_is_rejected_naming_the_argument_and_leaves_no_directory(tmp_path):
    from pyspark.ml.classification import LogisticRegression

    get_spark()
    path = tmp_path / "bad"
    with pytest.raises(TrackletException, match="spark_model must be a fitted Spark ML model"):
        tracklet.spark.save_model(LogisticRegression(), str(path))
    assert not path.exists()
    with pytest.raises(TrackletException, match="pandas DataFrame"):
        tracklet.pyfunc.load_model(_saved(tmp_path)).predict([[1.0, 2.0]])


def _saved(tmp_path):
    from pyspark.ml.feature import VectorAssembler
    from pyspark.ml.pipeline import PipelineModel

    path = str(tmp_path / "va")
    tracklet.spark.save_model(PipelineModel([VectorAssembler(inputCols=["a", "b"], outputCol="v")]), path)
    return path


def test_a_pipeline_ending_in_a_transformer_predicts_its_output_column(tmp_path):
    get_spark()
    assert tracklet.pyfunc.load_model(_saved(tmp_path)).predict(FRAME.head(2)) == [[0.0, 1.0], [1.0, 0.0]]


# ---------------------------------------------------------------------- MLflow, both ways
@pytest.fixture
def mlflow_quiet():
    mlflow = pytest.importorskip("mlflow")
    pytest.importorskip("mlflow.spark")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield mlflow


def test_mlflow_loads_what_tracklet_saved(tmp_path, models, mlflow_quiet):
    import mlflow.pyfunc
    import mlflow.spark

    pipeline_model, _, _ = models
    path = str(tmp_path / "m")
    tracklet.spark.save_model(pipeline_model, path, input_example=FRAME.head(2))
    assert mlflow.pyfunc.load_model(path).predict(FRAME) == tracklet.pyfunc.load_model(path).predict(FRAME)
    assert type(mlflow.spark.load_model(path)).__name__ == "PipelineModel"


def test_tracklet_loads_what_mlflow_saved(tmp_path, models, mlflow_quiet):
    import mlflow.spark

    pipeline_model, _, _ = models
    path = str(tmp_path / "m")
    mlflow.spark.save_model(pipeline_model, path, pip_requirements=["pyspark"], input_example=FRAME.head(2))
    loaded = tracklet.spark.load_model(path)
    assert [type(s).__name__ for s in loaded.stages] == ["VectorAssembler", "LogisticRegressionModel"]
    assert tracklet.pyfunc.load_model(path).predict(FRAME) == [0.0, 0.0, 0.0, 1.0, 1.0, 1.0]
