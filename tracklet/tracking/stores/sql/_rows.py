"""Rows <-> entities, metric value encoding, and the bulk loaders shared by get_run and search_runs."""

from __future__ import annotations

import json
import math
import operator
import sqlite3

import sqlalchemy as sa

from tracklet.tracking import wire
from tracklet.tracking.entities import (
    Dataset,
    DatasetInput,
    Experiment,
    Metric,
    Run,
    RunData,
    RunInfo,
    RunInputs,
    RunTag,
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
_by_key = operator.attrgetter("key")
_CHUNK = 500  # ids per IN (...) list, well under every database's bound-parameter limit


def _run_queries(in_ids) -> tuple:
    """The four bulk loaders (latest metrics, params, tags, dataset inputs) with ``in_ids(column)`` picking
    the runs."""
    lm, ds = latest_metrics.c, datasets.c
    latest = sa.select(lm.run_uuid, lm.key, lm.value, lm.special, lm.timestamp, lm.step).where(in_ids(lm.run_uuid))
    param_rows = sa.select(params.c.run_uuid, params.c.key, params.c.value).where(in_ids(params.c.run_uuid))
    tag_rows = sa.select(tags.c.run_uuid, tags.c.key, tags.c.value).where(in_ids(tags.c.run_uuid))
    input_rows = (
        sa.select(
            inputs.c.run_uuid, inputs.c.tags, ds.name, ds.digest, ds.source_type, ds.source, ds.schema, ds.profile
        )
        .select_from(inputs.join(datasets, ds.dataset_uuid == inputs.c.dataset_uuid))
        .where(in_ids(inputs.c.run_uuid))
        .order_by(inputs.c.run_uuid, inputs.c.position)
    )
    return latest, param_rows, tag_rows, input_rows


def _sqlite_has_json_each() -> bool:
    # built into SQLite since 3.38 (Python's own builds had it earlier); a build without it falls back
    try:
        sqlite3.connect(":memory:").execute("SELECT value FROM json_each('[]')").close()
        return True
    except sqlite3.Error:
        return False


# How a bulk loader names its runs. An expanding IN (...) list is re-rendered by SQLAlchemy on every call (a
# bound parameter per id: about a third of a 400-run search's time), so SQLite gets the ids as one JSON array
# and PostgreSQL as one array parameter; other databases keep the IN list, in chunks.
_IDS_AS_ONE_PARAM = {
    "sqlite": (
        lambda col: col.in_(sa.select(sa.column("value")).select_from(sa.func.json_each(sa.bindparam("ids")))),
        json.dumps,
    ),
    "postgresql": (lambda col: col == sa.any_(sa.bindparam("ids", type_=sa.ARRAY(sa.String))), list),
}
_QUERIES = {"": _run_queries(lambda col: col.in_(sa.bindparam("ids", expanding=True)))}

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


def _bulk_queries(dialect: str) -> tuple:
    """(queries, how the id list is bound, chunk size) for ``dialect``."""
    one_param = _IDS_AS_ONE_PARAM.get(dialect)
    if dialect == "sqlite":
        if "json_each" not in _QUERIES:  # asked once: a connection per call costs 0.1 ms
            _QUERIES["json_each"] = _sqlite_has_json_each()
        if not _QUERIES["json_each"]:
            one_param = None
    if one_param is None:
        return _QUERIES[""], list, _CHUNK
    if dialect not in _QUERIES:
        _QUERIES[dialect] = _run_queries(one_param[0])
    return _QUERIES[dialect], one_param[1], None


def _bulk_rows(conn, ids: list):
    """(latest metric rows, param rows, tag rows, dataset input rows) of the runs ``ids``, per chunk of ids
    where the database takes them as a list of parameters, as the driver's own tuples."""
    (q_latest, q_params, q_tags, q_inputs), bind_ids, chunk_size = _bulk_queries(conn.dialect.name)
    for chunk in _chunks(ids, chunk_size or len(ids) or 1):
        bind = {"ids": bind_ids(chunk)}
        yield tuple(conn.execute(q, bind).cursor.fetchall() for q in (q_latest, q_params, q_tags, q_inputs))


def load_runs(conn, run_rows) -> list[Run]:
    """Build Run entities for ``run_rows`` (rows of schema.runs) with four bulk queries."""
    ids = [row[0] for row in run_rows]
    metrics: dict[str, list[Metric]] = {rid: [] for rid in ids}
    param_maps: dict[str, dict[str, str]] = {rid: {} for rid in ids}
    tag_maps: dict[str, dict[str, str]] = {rid: {} for rid in ids}
    input_lists: dict[str, list[DatasetInput]] = {rid: [] for rid in ids}
    for latest_rows, param_rows, tag_rows, input_rows in _bulk_rows(conn, ids):
        for rid, key, value, special, timestamp, step in latest_rows:
            metrics[rid].append(Metric(key, decode_value(value, special) if special else value, timestamp, step))
        for rid, key, value in param_rows:
            param_maps[rid][key] = value
        for rid, key, value in tag_rows:
            tag_maps[rid][key] = value
        for rid, input_tags, *fields in input_rows:
            input_lists[rid].append(_dataset_input(input_tags, *fields))
    out = []
    no_inputs = RunInputs()
    for row in run_rows:
        rid = row[0]
        ms = metrics[rid]
        if len(ms) > 1:
            ms.sort(key=_by_key)
        # RunData built directly: the dicts are this call's own, no copies (make_run_data copies)
        data = RunData({m.key: m.value for m in ms}, param_maps[rid], tag_maps[rid], tuple(ms))
        found = input_lists[rid]
        out.append(Run(run_info_from_row(row), data, RunInputs(tuple(found)) if found else no_inputs))
    return out


# wire.run_info_to_json's fields after run_id/run_uuid, by their column in schema.runs (run_uuid, name,
# experiment_id, user_id, status, start_time, end_time, lifecycle_stage, artifact_uri, deleted_time)
_INFO_COLUMNS = (
    ("run_name", 1),
    ("experiment_id", 2),
    ("user_id", 3),
    ("status", 4),
    ("start_time", 5),
    ("end_time", 6),
    ("artifact_uri", 8),
    ("lifecycle_stage", 7),
)
_by_json_key = operator.itemgetter("key")


def load_runs_json(conn, run_rows) -> list[dict]:
    """What ``[wire.run_to_json(run) for run in load_runs(conn, run_rows)]`` gives, built from the rows
    without the entities: a server's search answer costs about a third less."""
    ids = [row[0] for row in run_rows]
    metrics: dict[str, list[dict]] = {rid: [] for rid in ids}
    params_of: dict[str, list[dict]] = {rid: [] for rid in ids}
    tags_of: dict[str, list[dict]] = {rid: [] for rid in ids}
    inputs_of: dict[str, list[dict]] = {rid: [] for rid in ids}
    to_json = wire.float_to_json
    for latest_rows, param_rows, tag_rows, input_rows in _bulk_rows(conn, ids):
        for rid, key, value, special, timestamp, step in latest_rows:
            value = to_json(decode_value(value, special)) if special else value
            metrics[rid].append({"key": key, "value": value, "timestamp": timestamp, "step": step})
        # one row per key (the primary key), in the order load_runs's dicts keep
        for rid, key, value in param_rows:
            params_of[rid].append({"key": key, "value": value})
        for rid, key, value in tag_rows:
            tags_of[rid].append({"key": key, "value": value})
        for rid, input_tags, *fields in input_rows:
            inputs_of[rid].append(wire.dataset_input_to_json(_dataset_input(input_tags, *fields)))
    out = []
    for row in run_rows:
        rid = row[0]
        info = {"run_id": rid, "run_uuid": rid}
        for field, column in _INFO_COLUMNS:
            if (value := row[column]) is not None:
                info[field] = value
        info["experiment_id"] = str(row[2])  # an integer column; the wire has a string
        data = {}
        if ms := metrics[rid]:
            if len(ms) > 1:
                ms.sort(key=_by_json_key)
            data["metrics"] = ms
        if ps := params_of[rid]:
            data["params"] = ps
        if ts := tags_of[rid]:
            data["tags"] = ts
        found = inputs_of[rid]
        out.append({"info": info, "data": data, "inputs": {"dataset_inputs": found} if found else {}})
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
