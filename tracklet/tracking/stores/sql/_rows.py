"""Rows <-> entities, metric value encoding, and the bulk loaders shared by get_run and search_runs."""

from __future__ import annotations

import json
import math

import sqlalchemy as sa

from tracklet.tracking.entities import (
    Dataset,
    DatasetInput,
    Experiment,
    Metric,
    Run,
    RunInfo,
    RunInputs,
    RunTag,
    make_run_data,
)
from tracklet.tracking.stores.sql.compile import NAN, NEG_INF, POS_INF
from tracklet.tracking.stores.sql.schema import (
    datasets,
    experiment_tags,
    inputs,
    latest_metrics,
    params,
    tags,
)

_INF = math.inf
_CHUNK = 500  # ids per IN (...) list, well under every database's bound-parameter limit

_q_latest = sa.select(
    latest_metrics.c.run_uuid,
    latest_metrics.c.key,
    latest_metrics.c.value,
    latest_metrics.c.special,
    latest_metrics.c.timestamp,
    latest_metrics.c.step,
).where(latest_metrics.c.run_uuid.in_(sa.bindparam("ids", expanding=True)))
_q_params = sa.select(params.c.run_uuid, params.c.key, params.c.value).where(
    params.c.run_uuid.in_(sa.bindparam("ids", expanding=True))
)
_q_tags = sa.select(tags.c.run_uuid, tags.c.key, tags.c.value).where(
    tags.c.run_uuid.in_(sa.bindparam("ids", expanding=True))
)
_q_inputs = (
    sa.select(
        inputs.c.run_uuid,
        inputs.c.tags,
        datasets.c.name,
        datasets.c.digest,
        datasets.c.source_type,
        datasets.c.source,
        datasets.c.schema,
        datasets.c.profile,
    )
    .select_from(inputs.join(datasets, datasets.c.dataset_uuid == inputs.c.dataset_uuid))
    .where(inputs.c.run_uuid.in_(sa.bindparam("ids", expanding=True)))
    .order_by(inputs.c.run_uuid, inputs.c.position)
)
_q_exp_tags = sa.select(experiment_tags.c.experiment_id, experiment_tags.c.key, experiment_tags.c.value).where(
    experiment_tags.c.experiment_id.in_(sa.bindparam("ids", expanding=True))
)


def encode_value(value: float, inf_stand_in: float) -> tuple[float, int]:
    """(stored value, special code): NaN and +/-inf get a code so every database can hold them."""
    if value != value:
        return 0.0, NAN
    if value == _INF:
        return inf_stand_in, POS_INF
    if value == -_INF:
        return -inf_stand_in, NEG_INF
    return value, 0


def decode_value(value: float, special: int) -> float:
    if not special:
        return value
    if special == NAN:
        return math.nan
    return _INF if special == POS_INF else -_INF


def _chunks(items: list, size: int = _CHUNK):
    for i in range(0, len(items), size):
        yield items[i : i + size]


def run_info_from_row(row) -> RunInfo:
    # column order of schema.runs: run_uuid, name, experiment_id, user_id, status, start_time, end_time,
    # lifecycle_stage, artifact_uri, deleted_time
    return RunInfo(
        run_id=row[0],
        experiment_id=str(row[2]),
        user_id=row[3],
        status=row[4],
        start_time=row[5],
        end_time=row[6],
        artifact_uri=row[8],
        lifecycle_stage=row[7],
        run_name=row[1],
    )


def load_runs(conn, run_rows) -> list[Run]:
    """Build Run entities for ``run_rows`` (rows of schema.runs) with four bulk queries per chunk."""
    ids = [row[0] for row in run_rows]
    metrics: dict[str, list[Metric]] = {rid: [] for rid in ids}
    param_maps: dict[str, dict[str, str]] = {rid: {} for rid in ids}
    tag_maps: dict[str, dict[str, str]] = {rid: {} for rid in ids}
    input_lists: dict[str, list[DatasetInput]] = {rid: [] for rid in ids}
    for chunk in _chunks(ids):
        bind = {"ids": chunk}
        for rid, key, value, special, timestamp, step in conn.execute(_q_latest, bind).all():
            metrics[rid].append(Metric(key, decode_value(value, special), timestamp, step))
        for rid, key, value in conn.execute(_q_params, bind).all():
            param_maps[rid][key] = value
        for rid, key, value in conn.execute(_q_tags, bind).all():
            tag_maps[rid][key] = value
        for rid, input_tags, *fields in conn.execute(_q_inputs, bind).all():
            input_lists[rid].append(_dataset_input(input_tags, *fields))
    out = []
    for row in run_rows:
        rid = row[0]
        ms = sorted(metrics[rid], key=lambda m: m.key)
        out.append(
            Run(
                info=run_info_from_row(row),
                data=make_run_data(ms, param_maps[rid], tag_maps[rid]),
                inputs=RunInputs(tuple(input_lists[rid])),
            )
        )
    return out


def _dataset_input(input_tags: str, name, digest, source_type, source, schema, profile) -> DatasetInput:
    try:
        tag_map = json.loads(input_tags) if input_tags else {}
    except ValueError:
        tag_map = {}
    return DatasetInput(
        Dataset(name=name, digest=digest, source_type=source_type, source=source, schema=schema, profile=profile),
        tuple(RunTag(k, v) for k, v in tag_map.items()),
    )


def load_experiments(conn, exp_rows) -> list[Experiment]:
    """Build Experiment entities for rows of schema.experiments, loading their tags in bulk."""
    ids = [row[0] for row in exp_rows]
    tag_maps: dict[int, dict[str, str]] = {eid: {} for eid in ids}
    for chunk in _chunks(ids):
        for eid, key, value in conn.execute(_q_exp_tags, {"ids": chunk}):
            tag_maps[eid][key] = value
    # column order of schema.experiments: experiment_id, name, artifact_location, lifecycle_stage,
    # creation_time, last_update_time
    return [
        Experiment(
            experiment_id=str(row[0]),
            name=row[1],
            artifact_location=row[2],
            lifecycle_stage=row[3],
            tags=tag_maps[row[0]],
            creation_time=row[4],
            last_update_time=row[5],
        )
        for row in exp_rows
    ]
