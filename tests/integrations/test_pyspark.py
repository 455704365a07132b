"""Spark ML autologging on a real local Spark (one shared session, tiny data): params and stage names, the
model, datasets, CrossValidator/TrainValidationSplit child runs, post-training metrics, what is not a run."""

from __future__ import annotations

import json
import os

import pytest

pytest.importorskip("pyspark")
pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")  # pyspark on pandas 3

import tracklet  # noqa: E402
import tracklet.pyfunc  # noqa: E402
import tracklet.pyspark.ml  # noqa: E402
import tracklet.spark  # noqa: E402
from tracklet.autolog import AutologWarning  # noqa: E402

from .spark_session import get_spark  # noqa: E402


@pytest.fixture(scope="module")
def csv_path(tmp_path_factory):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 2))
    path = str(tmp_path_factory.mktemp("spark-ml") / "train.csv")
    pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "label": (x[:, 0] + x[:, 1] > 0).astype(float)}).to_csv(path, index=False)
    return path


@pytest.fixture
def train(csv_path):
    """The training DataFrame, read from CSV (in a test, read it after enabling autolog to trace the read)."""
    return _read(csv_path)


def _read(csv_path):
    from pyspark.sql import types as T

    schema = T.StructType([T.StructField(c, T.DoubleType()) for c in ("a", "b", "label")])
    return get_spark().read.csv(csv_path, header=True, schema=schema)  # no schema inference job


def _pipeline(**lr_params):
    from pyspark.ml import Pipeline
    from pyspark.ml.classification import LogisticRegression
    from pyspark.ml.feature import VectorAssembler

    lr = LogisticRegression(maxIter=5, **lr_params)
    return Pipeline(stages=[VectorAssembler(inputCols=["a", "b"], outputCol="features"), lr]), lr


def _runs():
    tracklet.flush_async_logging()
    return tracklet.search_runs(output_format="list", order_by=["attributes.start_time ASC"])


def _artifacts(run_id, path=None):
    return {os.path.basename(f.path) for f in tracklet.MlflowClient().list_artifacts(run_id, path)}


def _json(run_id, name):
    return json.loads(open(tracklet.MlflowClient().download_artifacts(run_id, name)).read())


def test_pipeline_fit_logs_params_tags_hierarchy_model_and_dataset(csv_path):
    tracklet.autolog()  # covers Spark ML
    tracklet.spark.autolog()  # the files Spark reads
    train = _read(csv_path)
    pipeline, _ = _pipeline(regParam=0.01)
    model = pipeline.fit(train)
    (run,) = _runs()
    assert run.info.status == "FINISHED" and run.data.tags["mlflow.autologging"] == "pyspark.ml"
    params = run.data.params
    assert params["stages"] == "['VectorAssembler', 'LogisticRegression']"
    assert params["LogisticRegression.regParam"] == "0.01" and params["LogisticRegression.maxIter"] == "5"
    assert params["VectorAssembler.inputCols"] == "['a', 'b']"
    assert run.data.tags["estimator_name"] == "Pipeline"
    assert run.data.tags["estimator_class"] == "pyspark.ml.pipeline.Pipeline"
    assert run.data.tags["sparkDatasourceInfo"] == f"path=file:{csv_path},format=csv"  # read before the run
    info = _json(run.info.run_id, "estimator_info.json")
    assert info["hierarchy"] == {
        "name": "Pipeline",
        "stages": [{"name": "VectorAssembler"}, {"name": "LogisticRegression"}],
    }
    (dataset,) = run.inputs.dataset_inputs
    assert dataset.dataset.source_type == "spark"
    assert json.loads(dataset.dataset.source)["path"] == f"file:{csv_path}"
    assert [c["name"] for c in json.loads(dataset.dataset.schema)["mlflow_colspec"]] == ["a", "b", "label"]
    assert {t.key: t.value for t in dataset.tags}["mlflow.data.context"] == "train"

    meta = tracklet.models.Model.load(tracklet.MlflowClient().download_artifacts(run.info.run_id, "model"))
    assert json.loads(meta.signature.to_dict()["inputs"]) == [
        {"type": "double", "name": "a", "required": True},
        {"type": "double", "name": "b", "required": True},
    ]
    assert "input_example.json" not in _artifacts(run.info.run_id, "model")  # log_input_examples=False
    frame = train.toPandas()[["a", "b"]]
    expected = [r.prediction for r in model.transform(train).collect()]
    assert tracklet.pyfunc.load_model(f"runs:/{run.info.run_id}/model").predict(frame) == expected


def test_repeated_classes_get_indexed_stage_names_and_fit_params_override(train):
    from pyspark.ml import Pipeline
    from pyspark.ml.feature import VectorAssembler

    tracklet.pyspark.ml.autolog(log_models=False, log_input_examples=True)
    _, lr = _pipeline()
    pipeline = Pipeline(
        stages=[
            VectorAssembler(inputCols=["a"], outputCol="va"),
            VectorAssembler(inputCols=["va", "b"], outputCol="features"),
            lr,
        ]
    )
    pipeline.fit(train, params={lr.maxIter: 3})
    (run,) = _runs()
    assert run.data.params["stages"] == "['VectorAssembler_1', 'VectorAssembler_2', 'LogisticRegression']"
    assert run.data.params["VectorAssembler_1.outputCol"] == "va"
    assert run.data.params["VectorAssembler_2.inputCols"] == "['va', 'b']"
    assert run.data.params["LogisticRegression.maxIter"] == "3"
    assert "model" not in _artifacts(run.info.run_id)


def test_single_estimator_with_input_example_and_allowlist(train):
    from pyspark.ml.classification import LogisticRegression
    from pyspark.ml.feature import VectorAssembler

    vectors = VectorAssembler(inputCols=["a", "b"], outputCol="features").transform(train)
    tracklet.pyspark.ml.autolog(log_input_examples=True)
    LogisticRegression(maxIter=3).fit(vectors)
    tracklet.pyspark.ml.autolog(log_model_allowlist=["pyspark.ml.regression.*"])
    with pytest.warns(AutologWarning, match="not on the pyspark.ml log_model_allowlist"):
        LogisticRegression(maxIter=3).fit(vectors)
    logged, skipped = _runs()
    assert "estimator_info.json" not in _artifacts(logged.info.run_id)  # nothing nested
    path = tracklet.MlflowClient().download_artifacts(logged.info.run_id, "model")
    example = json.load(open(os.path.join(path, "input_example.json")))
    assert example["columns"] == ["features"] and len(example["data"]) == 5
    assert len(example["data"][0][0]) == 2  # the vector as a list of floats
    meta = tracklet.models.Model.load(path)
    assert json.loads(meta.signature.to_dict()["inputs"])[0]["type"] == "sparkml_vector"
    assert "model" not in _artifacts(skipped.info.run_id)


def test_cross_validator_child_runs_best_params_and_models(train):
    from pyspark.ml.evaluation import BinaryClassificationEvaluator
    from pyspark.ml.tuning import CrossValidator, ParamGridBuilder

    tracklet.pyspark.ml.autolog()
    pipeline, lr = _pipeline()
    grid = ParamGridBuilder().addGrid(lr.regParam, [0.0, 10.0]).build()
    cv = CrossValidator(
        estimator=pipeline, estimatorParamMaps=grid, evaluator=BinaryClassificationEvaluator(), numFolds=2, seed=1
    )
    cv_model = cv.fit(train)
    runs = _runs()
    parent = next(r for r in runs if "mlflow.parentRunId" not in r.data.tags)
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert len(runs) == 3 and len(children) == 2  # the internal fits are not runs of their own
    by_reg = {c.data.params["LogisticRegression.regParam"]: c for c in children}
    assert set(by_reg) == {"0.0", "10.0"}
    for i, reg in enumerate(["0.0", "10.0"]):
        child = by_reg[reg]
        assert child.data.metrics["avg_areaUnderROC"] == pytest.approx(cv_model.avgMetrics[i])
        assert child.data.metrics["std_areaUnderROC"] == pytest.approx(cv_model.stdMetrics[i])
        assert child.data.tags["estimator_name"] == "Pipeline" and child.info.status == "FINISHED"
        assert child.data.params["stages"] == "['VectorAssembler', 'LogisticRegression']"
    best = "0.0" if cv_model.avgMetrics[0] >= cv_model.avgMetrics[1] else "10.0"
    assert parent.data.params["best_LogisticRegression.regParam"] == best
    assert parent.data.params["estimator"] == "Pipeline" and parent.data.params["numFolds"] == "2"
    assert parent.data.params["BinaryClassificationEvaluator.metricName"] == "areaUnderROC"
    assert "estimatorParamMaps" not in parent.data.params
    assert _json(parent.info.run_id, "best_parameters.json") == {"LogisticRegression.regParam": float(best)}
    info = _json(parent.info.run_id, "estimator_info.json")
    assert info["hierarchy"]["tuned_estimator"]["name"] == "Pipeline"
    assert info["CrossValidator"]["tuning_parameter_map_list"] == [
        {"LogisticRegression.regParam": 0.0},
        {"LogisticRegression.regParam": 10.0},
    ]
    csv = tracklet.MlflowClient().download_artifacts(parent.info.run_id, "search_results.csv")
    header = open(csv).readline().strip().split(",")
    assert header == ["params", "avg_areaUnderROC", "std_areaUnderROC", "param.LogisticRegression.regParam"]
    assert {"model", "best_model"} <= _artifacts(parent.info.run_id)


def test_train_validation_split_and_one_vs_rest_in_parallel_make_one_run_each(train):
    from pyspark.ml.classification import LogisticRegression, OneVsRest
    from pyspark.ml.evaluation import MulticlassClassificationEvaluator
    from pyspark.ml.feature import VectorAssembler
    from pyspark.ml.tuning import ParamGridBuilder, TrainValidationSplit

    vectors = VectorAssembler(inputCols=["a", "b"], outputCol="features").transform(train)
    tracklet.pyspark.ml.autolog(log_models=False)
    lr = LogisticRegression(maxIter=3)
    ovr = OneVsRest(classifier=lr, parallelism=2)  # fits its classifiers in a thread pool
    grid = ParamGridBuilder().addGrid(lr.maxIter, [2, 3]).build()
    tvs = TrainValidationSplit(
        estimator=ovr, estimatorParamMaps=grid, evaluator=MulticlassClassificationEvaluator(), parallelism=2
    )
    tvs_model = tvs.fit(vectors)
    runs = _runs()
    assert len(runs) == 3
    parent = next(r for r in runs if "mlflow.parentRunId" not in r.data.tags)
    assert parent.data.params["estimator"] == "OneVsRest"
    assert parent.data.params["best_LogisticRegression.maxIter"] in ("2", "3")
    children = sorted((r for r in runs if r is not parent), key=lambda r: r.data.params["LogisticRegression.maxIter"])
    assert [c.data.metrics["f1"] for c in children] == pytest.approx(tvs_model.validationMetrics)
    assert children[0].data.params["classifier"] == "LogisticRegression"


def test_post_training_metrics_are_logged_under_the_dataset_variable(train):
    from pyspark.ml.evaluation import BinaryClassificationEvaluator

    tracklet.pyspark.ml.autolog(log_models=False)
    pipeline, _ = _pipeline()
    model = pipeline.fit(train)
    test_df = train.limit(20)
    evaluator = BinaryClassificationEvaluator()
    auc = evaluator.evaluate(model.transform(test_df))
    pr = evaluator.evaluate(model.transform(test_df), {evaluator.metricName: "areaUnderPR"})
    again = evaluator.evaluate(model.transform(test_df))
    evaluator.evaluate(model.transform(test_df).select("rawPrediction", "label"))  # not the tracked frame
    (run,) = _runs()
    metrics = run.data.metrics
    assert metrics["areaUnderROC_test_df"] == pytest.approx(auc)
    assert metrics["areaUnderPR_test_df"] == pytest.approx(pr)
    assert metrics["areaUnderROC-2_test_df"] == pytest.approx(again)
    assert len(metrics) == 3
    info = _json(run.info.run_id, "metric_info.json")
    assert info["areaUnderPR_test_df"]["evaluator_class"] == ("pyspark.ml.evaluation.BinaryClassificationEvaluator")
    assert info["areaUnderPR_test_df"]["params"]["metricName"] == "areaUnderPR"
    contexts = sorted({t.value for i in run.inputs.dataset_inputs for t in i.tags})
    assert contexts == ["eval", "train"]


def test_featurizers_and_param_lists_are_not_runs_and_user_errors_propagate(train):
    from pyspark.errors import IllegalArgumentException
    from pyspark.ml.classification import LogisticRegression
    from pyspark.ml.feature import StringIndexer, VectorAssembler

    tracklet.pyspark.ml.autolog()
    StringIndexer(inputCol="label", outputCol="idx").fit(train)
    vectors = VectorAssembler(inputCols=["a", "b"], outputCol="features").transform(train)
    many = LogisticRegression()
    with pytest.warns(AutologWarning, match="list of param maps"):
        models = many.fit(vectors, params=[{many.maxIter: 1}, {many.maxIter: 2}])
    assert len(models) == 2
    lr = LogisticRegression(featuresCol="a")
    with pytest.raises(IllegalArgumentException):  # Spark's own error, from a run-logged fit
        lr.fit(train)
    (run,) = _runs()
    assert run.info.status == "FAILED" and run.data.tags["estimator_name"] == "LogisticRegression"


def test_xgboost_spark_estimator_autologs_once_through_the_spark_ml_path(train):
    """xgboost's Spark estimators are plain ``pyspark.ml`` estimators: one run with their params and a model that
    loads back, and xgboost's own autolog (on through ``tracklet.autolog()``) makes no second run."""
    xgb_spark = pytest.importorskip("xgboost.spark")
    from pyspark.ml.feature import VectorAssembler

    vectors = VectorAssembler(inputCols=["a", "b"], outputCol="features").transform(train)
    tracklet.autolog()
    model = xgb_spark.SparkXGBClassifier(n_estimators=4, max_depth=2, num_workers=1).fit(vectors)
    (run,) = _runs()
    assert run.data.tags["estimator_class"] == "xgboost.spark.estimator.SparkXGBClassifier"
    assert run.data.params["n_estimators"] == "4" and run.data.params["max_depth"] == "2"
    assert "model" in _artifacts(run.info.run_id)
    loaded = tracklet.spark.load_model(f"runs:/{run.info.run_id}/model")
    expected = [r.prediction for r in model.transform(vectors).select("prediction").collect()]
    assert [r.prediction for r in loaded.transform(vectors).select("prediction").collect()] == expected
