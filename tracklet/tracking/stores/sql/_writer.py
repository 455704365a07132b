"""The hot write path of log_batch: the logic once, over two executors.

``CoreWriter`` runs SQLAlchemy Core statements on a Connection (every database). ``SqliteWriter`` runs the
same statements as fixed SQL strings straight on the sqlite3 cursor: a single ``log_metric`` is a handful
of tiny statements, and SQLAlchemy's per-statement overhead would otherwise dominate its cost.

Rows are tuples in column order: metrics/latest ``(run_uuid, key, value, special, timestamp, step)``,
params/tags ``(run_uuid, key, value)``.
"""

from __future__ import annotations

import sqlalchemy as sa

from tracklet.exceptions import InvalidParameterValue, InvalidState, ResourceDoesNotExist
from tracklet.tracking import system_tags
from tracklet.tracking.entities import LifecycleStage, latest_order
from tracklet.tracking.stores import downsample
from tracklet.tracking.stores.sql import _rows, schema
from tracklet.tracking.stores.sql.schema import latest_metrics, metric_buckets, metrics, params, runs, tags

RUN_NAME_TAG = system_tags.RUN_NAME
_METRIC_COLS = ("run_uuid", "key", "value", "special", "timestamp", "step")
_KV_COLS = ("run_uuid", "key", "value")
_WITH_EXPERIMENT = ("latest_metrics", "params")  # tables that carry the run's experiment id (search indexes)

_b = sa.bindparam
_q_latest = sa.select(
    latest_metrics.c.key,
    latest_metrics.c.value,
    latest_metrics.c.special,
    latest_metrics.c.timestamp,
    latest_metrics.c.step,
).where(latest_metrics.c.run_uuid == _b("r"), latest_metrics.c.key.in_(_b("keys", expanding=True)))
_upd_latest = (
    sa.update(latest_metrics)
    .where(latest_metrics.c.run_uuid == _b("b_run"), latest_metrics.c.key == _b("b_key"))
    .values(value=_b("b_value"), special=_b("b_special"), timestamp=_b("b_ts"), step=_b("b_step"))
)
_q_params = sa.select(params.c.key, params.c.value).where(
    params.c.run_uuid == _b("r"), params.c.key.in_(_b("keys", expanding=True))
)
_q_tags = sa.select(tags.c.key).where(tags.c.run_uuid == _b("r"), tags.c.key.in_(_b("keys", expanding=True)))
_upd_tag = sa.update(tags).where(tags.c.run_uuid == _b("b_run"), tags.c.key == _b("b_key")).values(value=_b("b_value"))


_BUCKET_COLS = tuple(c.name for c in metric_buckets.c)  # run_uuid, key, bucket, min_*, max_*
_q_buckets = sa.select(*list(metric_buckets.c)[1:]).where(
    metric_buckets.c.run_uuid == _b("r"),
    metric_buckets.c.key.in_(_b("keys", expanding=True)),
    metric_buckets.c.bucket.in_(_b("buckets", expanding=True)),
)
_upd_bucket = (
    sa.update(metric_buckets)
    .where(
        metric_buckets.c.run_uuid == _b("b_run_uuid"),
        metric_buckets.c.key == _b("b_key"),
        metric_buckets.c.bucket == _b("b_bucket"),
    )
    .values({c: _b(f"b_{c}") for c in _BUCKET_COLS[3:]})
)


class CoreWriter:
    """Executes the write path's statements with SQLAlchemy Core on ``conn``."""

    def __init__(self, conn, lock_run_stmt):
        self.conn = conn
        self.lock_stmt = lock_run_stmt
        self.experiment_id = None  # set by check_active

    def run_stage(self, run_id: str) -> tuple | None:
        """(lifecycle_stage, experiment_id) of the run, locking it; None if unknown."""
        return self.conn.execute(self.lock_stmt, {"r": run_id}).first()

    def existing_params(self, run_id: str, keys: list[str]) -> dict[str, str]:
        return dict(self.conn.execute(_q_params, {"r": run_id, "keys": keys}).all())

    def existing_tag_keys(self, run_id: str, keys: list[str]) -> set[str]:
        return set(self.conn.execute(_q_tags, {"r": run_id, "keys": keys}).scalars())

    def latest(self, run_id: str, keys: list[str]) -> list[tuple]:
        return self.conn.execute(_q_latest, {"r": run_id, "keys": keys}).all()

    def insert(self, table: str, rows: list[tuple]) -> None:
        cols = _METRIC_COLS if table in ("metrics", "latest_metrics") else _KV_COLS
        target = {"metrics": metrics, "latest_metrics": latest_metrics, "params": params, "tags": tags}[table]
        extra = {"experiment_id": self.experiment_id} if table in _WITH_EXPERIMENT else {}
        self.conn.execute(sa.insert(target), [{**dict(zip(cols, row, strict=True)), **extra} for row in rows])

    def update_tags(self, rows: list[tuple]) -> None:
        self.conn.execute(_upd_tag, [{"b_run": r, "b_key": k, "b_value": v} for r, k, v in rows])

    def update_latest(self, rows: list[tuple]) -> None:
        self.conn.execute(
            _upd_latest,
            [
                {"b_run": r, "b_key": k, "b_value": v, "b_special": s, "b_ts": t, "b_step": st}
                for r, k, v, s, t, st in rows
            ],
        )

    def rename_run(self, run_id: str, name: str) -> None:
        self.conn.execute(sa.update(runs).where(runs.c.run_uuid == run_id).values(name=name))

    def buckets(self, run_id: str, keys: list[str], numbers: list[int]) -> list[tuple]:
        return self.conn.execute(_q_buckets, {"r": run_id, "keys": keys, "buckets": numbers}).all()

    def write_buckets(self, inserts: list[dict], updates: list[dict]) -> None:
        if inserts:
            self.conn.execute(sa.insert(metric_buckets), inserts)
        if updates:
            self.conn.execute(_upd_bucket, [{f"b_{k}": v for k, v in row.items()} for row in updates])


def _quoted(columns) -> str:
    return ", ".join(f'"{c}"' for c in columns)


def _in(n: int) -> str:
    return ", ".join("?" * n)


class SqliteWriter:
    """The same statements as :class:`CoreWriter`, as fixed SQL on a sqlite3 cursor."""

    def __init__(self, cursor):
        self.cur = cursor
        self.experiment_id = None  # set by check_active

    def run_stage(self, run_id: str) -> tuple | None:
        return self.cur.execute(
            "SELECT lifecycle_stage, experiment_id FROM runs WHERE run_uuid = ?", (run_id,)
        ).fetchone()

    def existing_params(self, run_id: str, keys: list[str]) -> dict[str, str]:
        sql = f'SELECT "key", value FROM params WHERE run_uuid = ? AND "key" IN ({_in(len(keys))})'
        return dict(self.cur.execute(sql, (run_id, *keys)).fetchall())

    def existing_tag_keys(self, run_id: str, keys: list[str]) -> set[str]:
        sql = f'SELECT "key" FROM tags WHERE run_uuid = ? AND "key" IN ({_in(len(keys))})'
        return {row[0] for row in self.cur.execute(sql, (run_id, *keys)).fetchall()}

    def latest(self, run_id: str, keys: list[str]) -> list[tuple]:
        sql = (
            'SELECT "key", value, special, timestamp, step FROM latest_metrics '
            f'WHERE run_uuid = ? AND "key" IN ({_in(len(keys))})'
        )
        return self.cur.execute(sql, (run_id, *keys)).fetchall()

    def insert(self, table: str, rows: list[tuple]) -> None:
        if table == "metrics":
            sql = 'INSERT INTO metrics (run_uuid, "key", value, special, timestamp, step) VALUES (?, ?, ?, ?, ?, ?)'
        elif table == "latest_metrics":
            sql = (
                'INSERT INTO latest_metrics (run_uuid, "key", value, special, timestamp, step, experiment_id) '
                "VALUES (?, ?, ?, ?, ?, ?, ?)"
            )
            rows = [(*row, self.experiment_id) for row in rows]
        elif table == "params":
            sql = 'INSERT INTO params (run_uuid, "key", value, experiment_id) VALUES (?, ?, ?, ?)'
            rows = [(*row, self.experiment_id) for row in rows]
        else:
            sql = f'INSERT INTO {table} (run_uuid, "key", value) VALUES (?, ?, ?)'
        if len(rows) == 1:
            self.cur.execute(sql, rows[0])
        else:
            self.cur.executemany(sql, rows)

    def update_tags(self, rows: list[tuple]) -> None:
        self.cur.executemany(
            'UPDATE tags SET value = ? WHERE run_uuid = ? AND "key" = ?', [(v, r, k) for r, k, v in rows]
        )

    def update_latest(self, rows: list[tuple]) -> None:
        self.cur.executemany(
            "UPDATE latest_metrics SET value = ?, special = ?, timestamp = ?, step = ? "
            'WHERE run_uuid = ? AND "key" = ?',
            [(v, s, t, st, r, k) for r, k, v, s, t, st in rows],
        )

    def rename_run(self, run_id: str, name: str) -> None:
        self.cur.execute("UPDATE runs SET name = ? WHERE run_uuid = ?", (name, run_id))

    def buckets(self, run_id: str, keys: list[str], numbers: list[int]) -> list[tuple]:
        sql = (
            f"SELECT {_quoted(_BUCKET_COLS[1:])} FROM metric_buckets WHERE run_uuid = ? "
            f'AND "key" IN ({_in(len(keys))}) AND bucket IN ({_in(len(numbers))})'
        )
        return self.cur.execute(sql, (run_id, *keys, *numbers)).fetchall()

    def write_buckets(self, inserts: list[dict], updates: list[dict]) -> None:
        if inserts:
            self.cur.executemany(
                f"INSERT INTO metric_buckets ({_quoted(_BUCKET_COLS)}) VALUES ({_in(len(_BUCKET_COLS))})",
                [tuple(row[c] for c in _BUCKET_COLS) for row in inserts],
            )
        if updates:
            values = ", ".join(f"{c} = ?" for c in _BUCKET_COLS[3:])
            self.cur.executemany(
                f'UPDATE metric_buckets SET {values} WHERE run_uuid = ? AND "key" = ? AND bucket = ?',
                [tuple(row[c] for c in (*_BUCKET_COLS[3:], *_BUCKET_COLS[:3])) for row in updates],
            )


# ---------------------------------------------------------------------------- the logic


def check_active(writer, run_id: str) -> None:
    """Lock the run (the caller's transaction already holds the database/row lock) and check it is active."""
    found = writer.run_stage(run_id)
    if found is None:
        raise ResourceDoesNotExist(f"Run with id={run_id} not found")
    stage, writer.experiment_id = found
    if stage != LifecycleStage.ACTIVE:
        raise InvalidState(f"The run {run_id} must be in the 'active' state. Current state is {stage}.")


def write_batch(writer, run_id: str, metrics: list, params: list, tags: list, inf_stand_in: float) -> None:
    """Write an already validated batch; raises (and the caller rolls back) on a param conflict."""
    check_active(writer, run_id)
    if params:
        write_params(writer, run_id, params)
    if tags:
        tag_map = {t.key: "" if t.value is None else str(t.value) for t in tags}
        write_tags(writer, run_id, tag_map)
    if metrics:
        write_metrics(writer, run_id, metrics, inf_stand_in)


def write_params(writer, run_id: str, batch: list) -> None:
    wanted = {p.key: "" if p.value is None else str(p.value) for p in batch}
    existing = writer.existing_params(run_id, list(wanted))
    for key, old in existing.items():
        if old != wanted[key]:
            raise InvalidParameterValue(
                f"Changing param values is not allowed. Param with key='{key}' was already logged with "
                f"value='{old}' for run ID='{run_id}'. Attempted logging new value '{wanted[key]}'."
            )
    new = [(run_id, k, v) for k, v in wanted.items() if k not in existing]
    if new:
        writer.insert("params", new)


def write_tags(writer, run_id: str, tag_map: dict[str, str]) -> None:
    """Insert or overwrite tags; the ``mlflow.runName`` tag also renames the run."""
    existing = writer.existing_tag_keys(run_id, list(tag_map))
    updates = [(run_id, k, v) for k, v in tag_map.items() if k in existing]
    inserts = [(run_id, k, v) for k, v in tag_map.items() if k not in existing]
    if updates:
        writer.update_tags(updates)
    if inserts:
        writer.insert("tags", inserts)
    if RUN_NAME_TAG in tag_map:
        writer.rename_run(run_id, tag_map[RUN_NAME_TAG])


def write_metrics(writer, run_id: str, batch: list, inf_stand_in: float) -> None:
    """Append every point to the history and move each key's latest row forward where needed."""
    encode = _rows.encode_value
    order = latest_order
    rows = []
    best: dict[str, tuple] = {}  # key -> (rank, row) of this batch's latest point
    for m in batch:
        value = float(m.value)
        stored, special = encode(value, inf_stand_in)
        step = int(m.step or 0)
        ts = int(m.timestamp)
        row = (run_id, m.key, stored, special, ts, step)
        rows.append(row)
        rank = order(step, ts, value)
        prev = best.get(m.key)
        if prev is None or rank > prev[0]:
            best[m.key] = (rank, row)
    writer.insert("metrics", rows)
    current = {
        key: order(step, ts, _rows.decode_value(value, special))
        for key, value, special, ts, step in writer.latest(run_id, list(best))
    }
    updates, inserts = [], []
    for key, (rank, row) in best.items():
        old = current.get(key)
        if old is None:
            inserts.append(row)
        elif rank > old:
            updates.append(row)
    if inserts:
        writer.insert("latest_metrics", inserts)
    if updates:
        writer.update_latest(updates)
    write_buckets(writer, run_id, rows)


def write_buckets(writer, run_id: str, rows: list[tuple]) -> None:
    """Fold the batch's points into the metric_buckets summaries (min and max per key and 64 steps)."""
    width = schema.BUCKET_STEPS
    by_key: dict[str, list] = {}
    for _, key, stored, special, ts, step in rows:
        by_key.setdefault(key, []).append((_rows.decode_value(stored, special), step, ts, stored, special))
    batch = {key: downsample.extremes(points, width) for key, points in by_key.items()}
    batch = {key: pairs for key, pairs in batch.items() if pairs}  # NaN-only keys summarise nothing
    if not batch:
        return
    numbers = sorted({b for pairs in batch.values() for b in pairs})
    stored_pairs = {
        (key, bucket): [
            (_rows.decode_value(v1, s1), st1, ts1, v1, s1),
            (_rows.decode_value(v2, s2), st2, ts2, v2, s2),
        ]
        for key, bucket, v1, s1, st1, ts1, v2, s2, st2, ts2 in writer.buckets(run_id, list(batch), numbers)
    }
    inserts, updates = {}, {}
    for key, pairs in batch.items():
        for bucket, (low, high) in pairs.items():
            current = stored_pairs.get((key, bucket))
            if current is None:
                inserts[key, bucket] = [low, high]
                continue
            merged = [
                low if downsample.better_min(low, current[0]) else current[0],
                high if downsample.better_max(high, current[1]) else current[1],
            ]
            if merged != current:
                updates[key, bucket] = merged
    writer.write_buckets(
        [row for (key, b), pair in inserts.items() for row in schema.bucket_rows(run_id, key, {b: pair})],
        [row for (key, b), pair in updates.items() for row in schema.bucket_rows(run_id, key, {b: pair})],
    )
