"""A Spark DataFrame as a run's dataset input, without a Spark job over its data.

The source is what the DataFrame's analyzed plan reads (:mod:`tracklet.autolog.spark_plan`): source type
``spark`` with ``{"path": ..., "format": ...}`` (or ``{"table_name": ...}``) for the first source -- the keys
MLflow's ``SparkDatasetSource`` reads -- plus ``"sources"``, every source as a ``sparkDatasourceInfo``
line. A DataFrame built in memory has a ``code`` source (the script), as in MLflow. The schema is MLflow's
column schema (vectors as ``sparkml_vector``); the digest is :func:`~tracklet.autolog.spark_plan.plan_digest`.
No profile: counting rows would be a Spark job (MLflow runs one, with a 5-second timeout).
"""

from __future__ import annotations

import json

from tracklet.autolog import spark_plan
from tracklet.tracking import system_tags as ctx
from tracklet.tracking.entities import Dataset, DatasetInput, RunTag

DATASET_CONTEXT_TAG = "mlflow.data.context"


def dataset_input(df, context: str, name: str = "dataset") -> DatasetInput | None:
    """The DatasetInput describing ``df`` (None for a Spark Connect DataFrame: its plan is not here)."""
    from tracklet.flavors.spark import spark_schema

    if spark_plan.is_connect(df):
        return None
    found = spark_plan.sources(df)
    if found:
        first = found[0]
        source = {"table_name": first.path} if first.table else {"path": first.path}
        source.update(format=first.format, sources=[s.line() for s in found])
        source_type, source_json = "spark", json.dumps(source)
    else:
        source_type = "code"
        source_json = json.dumps({"tags": {ctx.SOURCE_NAME: ctx.source_name_and_type()[0]}})
    try:
        schema = json.dumps({"mlflow_colspec": spark_schema(df.schema).to_dict()})
    except Exception:  # noqa: BLE001 - a column type MLflow's schema cannot name (e.g. a map)
        schema = None
    dataset = Dataset(
        name=name,
        digest=spark_plan.plan_digest(df, found),
        source_type=source_type,
        source=source_json,
        schema=schema,
        profile=None,
    )
    return DatasetInput(dataset, (RunTag(DATASET_CONTEXT_TAG, context),))


def log_dataframe(run_id: str, df, context: str) -> None:
    """Record ``df`` as a dataset input of ``run_id``."""
    from tracklet.tracking import current

    entry = dataset_input(df, context)
    if entry is not None:
        current.get_client().log_inputs(run_id, [entry])
