"""CrossValidator / TrainValidationSplit: child runs, search results and the best parameters.

One child run per param map (tag ``mlflow.parentRunId``; started at the parent's start time, since Spark does
not say when each point was tried) with the full params of ``estimator.copy(param_map)`` and the metrics
``avg_<metric>`` / ``std_<metric>`` (CrossValidator) or ``<metric>`` (TrainValidationSplit), where
``<metric>`` is the evaluator's ``getMetricName()``. The parent run gets ``search_results.csv`` (columns
``params`` as JSON, the metrics, ``param.<Stage.param>``), ``best_parameters.json`` and the params
``best_<Stage.param>``. The best point is the arg-max of the metric, or the arg-min when the evaluator says
smaller is better.
"""

from __future__ import annotations

import json
import math
import time

from tracklet.autolog import session
from tracklet.autolog.pyspark import params as P
from tracklet.autolog.pyspark.common import INTEGRATION, jsonable
from tracklet.tracking import system_tags as ctx
from tracklet.tracking.entities import RunStatus


def search_metrics(search, model) -> tuple[dict[str, list[float]], int]:
    """``({metric key: value per param map}, best index)``."""
    from pyspark.ml.tuning import CrossValidatorModel

    evaluator = search.getEvaluator()
    name = evaluator.getMetricName()
    if isinstance(model, CrossValidatorModel):
        values = [float(v) for v in model.avgMetrics]
        metrics = {f"avg_{name}": values}
        std = getattr(model, "stdMetrics", None)
        if std:
            metrics[f"std_{name}"] = [float(v) for v in std]
    else:
        values = [float(v) for v in model.validationMetrics]
        metrics = {name: values}
    order = range(len(values))
    finite = [i for i in order if math.isfinite(values[i])] or list(order)
    pick = max if evaluator.isLargerBetter() else min
    return metrics, pick(finite, key=lambda i: values[i])


def log_search(call, search, model, names: dict[str, str]) -> None:
    """Log the parent's search results and best params, then the child runs."""
    maps = P.tuning_param_maps(search, names)
    metrics, best = search_metrics(search, model)
    logger = call.logger
    logger.log_text(_results_csv(maps, metrics), "search_results.csv")
    logger.log_dict(jsonable(maps[best]), "best_parameters.json")
    logger.log_params({f"best_{k}": v for k, v in maps[best].items()})
    _child_runs(call, search, metrics, names)


def _results_csv(maps: list[dict], metrics: dict[str, list[float]]) -> str:
    import pandas as pd

    columns: dict[str, list] = {"params": [json.dumps(jsonable(m)) for m in maps], **metrics}
    for i, row in enumerate(maps):
        for key, value in row.items():
            columns.setdefault(f"param.{key}", [None] * len(maps))[i] = value
    return pd.DataFrame(columns).to_csv(index=False)


def _child_runs(call, search, metrics: dict[str, list[float]], names: dict[str, str]) -> None:
    client = call.logger.client
    parent = client.get_run(call.run_id)
    source_name, source_type = ctx.source_name_and_type()
    base_tags = {
        **(call.config.extra_tags or {}),
        ctx.PARENT_RUN_ID: call.run_id,
        ctx.AUTOLOGGING: INTEGRATION,
        ctx.USER: ctx.current_user(),
        ctx.SOURCE_NAME: source_name,
        ctx.SOURCE_TYPE: source_type,
    }
    tuned = search.getEstimator()
    end = int(time.time() * 1000)
    children = []
    for i, param_map in enumerate(search.getEstimatorParamMaps()):
        child_estimator = tuned.copy(param_map)
        tags = {**base_tags, **P.estimator_tags(child_estimator)}
        run = client.create_run(parent.info.experiment_id, start_time=parent.info.start_time, tags=tags)
        child = session.RunLogger(INTEGRATION, run.info.run_id, call.config)
        child.log_params(P.flat_params(child_estimator, names))
        child.log_metrics({k: v[i] for k, v in metrics.items() if math.isfinite(v[i])})
        children.append(child)
    error = None
    for child in children:
        try:
            child.flush()
        except Exception as exc:  # still end every child run; report the first failure
            error = error or exc
        finally:
            client.set_terminated(child.run_id, RunStatus.FINISHED, end_time=end)
    if error is not None:
        raise error
