"""Spark ML autologging: read a CSV, tune Pipeline(VectorAssembler, LogisticRegression) with a CrossValidator,
evaluate it, see which file the run read (local Spark: ``pip install -e ".[spark]"``, Java 17).

python examples/pyspark_autolog.py       # then: tracklet runs list
"""

import os
import tempfile

from pyspark.ml import Pipeline
from pyspark.ml.classification import LogisticRegression
from pyspark.ml.evaluation import BinaryClassificationEvaluator
from pyspark.ml.feature import VectorAssembler
from pyspark.ml.tuning import CrossValidator, ParamGridBuilder
from pyspark.sql import SparkSession

import tracklet

spark = SparkSession.builder.master("local[2]").config("spark.ui.showConsoleProgress", "false").getOrCreate()
tracklet.set_experiment("pyspark-autolog")
tracklet.autolog()  # Spark ML fits (like tracklet.pyspark.ml.autolog())
tracklet.spark.autolog()  # the files and tables Spark reads, as the run tag sparkDatasourceInfo

csv = os.path.join(tempfile.mkdtemp(), "points.csv")
with open(csv, "w") as f:
    f.write("x,y,label\n" + "".join(f"{i % 7},{(3 * i) % 5},{float(i % 7 + (3 * i) % 5 > 5)}\n" for i in range(60)))
train, test_df = spark.read.csv(csv, header=True, inferSchema=True).randomSplit([0.7, 0.3], seed=1)

lr = LogisticRegression(maxIter=20)
pipeline = Pipeline(stages=[VectorAssembler(inputCols=["x", "y"], outputCol="features"), lr])
grid, evaluator = ParamGridBuilder().addGrid(lr.regParam, [0.0, 0.1, 1.0]).build(), BinaryClassificationEvaluator()
cv = CrossValidator(estimator=pipeline, estimatorParamMaps=grid, evaluator=evaluator, numFolds=2, seed=1)
model = cv.fit(train)  # one run, a child run per grid point, best_model/ and model/
evaluator.evaluate(model.transform(test_df))  # logged as areaUnderROC_test_df

run = tracklet.get_run(tracklet.last_active_run().info.run_id)
print("best:", {k: v for k, v in run.data.params.items() if k.startswith("best_")}, run.data.metrics)
print("read:", run.data.tags["sparkDatasourceInfo"])
reloaded = tracklet.pyfunc.load_model(f"runs:/{run.info.run_id}/model")
print("reloaded model predicts:", reloaded.predict(test_df.toPandas()[["x", "y"]]))
print(f"stored in {tracklet.get_tracking_uri()}; see it: tracklet runs describe {run.info.run_id}")
