"""Runs as a pandas DataFrame, the shape ``search_runs(output_format="pandas")`` returns (MLflow's columns).

Its own module so that pandas is imported only when a DataFrame is asked for.
"""

from __future__ import annotations

from tracklet.tracking.entities import Run


def runs_to_pandas(runs: list[Run]):
    """One row per run: info columns, then ``metrics.<key>``, ``params.<key>``, ``tags.<key>`` in first-seen order
    (times as UTC datetimes, metrics as float64, missing values as NaN/None)."""
    import pandas as pd

    info_cols = ["run_id", "experiment_id", "status", "artifact_uri", "start_time", "end_time"]
    rows = []
    metric_keys, param_keys, tag_keys = {}, {}, {}
    for r in runs:
        for k in r.data.metrics:
            metric_keys.setdefault(k, None)
        for k in r.data.params:
            param_keys.setdefault(k, None)
        for k in r.data.tags:
            tag_keys.setdefault(k, None)
    for r in runs:
        row = {
            "run_id": r.info.run_id,
            "experiment_id": r.info.experiment_id,
            "status": r.info.status,
            "artifact_uri": r.info.artifact_uri,
            "start_time": r.info.start_time,
            "end_time": r.info.end_time,
        }
        for k in metric_keys:
            row["metrics." + k] = r.data.metrics.get(k)
        for k in param_keys:
            row["params." + k] = r.data.params.get(k)
        for k in tag_keys:
            row["tags." + k] = r.data.tags.get(k)
        rows.append(row)
    columns = (
        info_cols
        + ["metrics." + k for k in metric_keys]
        + ["params." + k for k in param_keys]
        + ["tags." + k for k in tag_keys]
    )
    df = pd.DataFrame(rows, columns=columns)
    for col in ("start_time", "end_time"):
        df[col] = pd.to_datetime(df[col], unit="ms", utc=True)
    for k in metric_keys:
        df["metrics." + k] = df["metrics." + k].astype("float64")
    return df
