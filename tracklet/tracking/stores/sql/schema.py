"""Tables of the SQL tracking store (SQLAlchemy Core) and the numbered migrations that build them.

Migration ``n`` (1-based) moves a database from schema version ``n - 1`` to ``n``; a fresh database runs
every migration from version 0, so a new database and an upgraded one end with the same schema.

To change the schema: append a migration function to :data:`MIGRATIONS` that alters the existing tables,
update the table definitions below to match, and first copy today's definitions into
``_create_v1`` so that migration 1 keeps creating exactly the version 1 tables.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Connection

from tracklet.exceptions import TrackletException
from tracklet.tracking.stores import downsample

metadata = sa.MetaData()

# BIGINT ids are not SQLite's rowid alias; INTEGER PRIMARY KEY is, and is much faster there
_BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

schema_version = sa.Table(
    "schema_version",
    metadata,
    sa.Column("version", sa.Integer, nullable=False),
)

experiments = sa.Table(
    "experiments",
    metadata,
    sa.Column("experiment_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(500), nullable=False, unique=True),
    sa.Column("artifact_location", sa.Text, nullable=False),
    sa.Column("lifecycle_stage", sa.String(32), nullable=False),
    sa.Column("creation_time", sa.BigInteger),
    sa.Column("last_update_time", sa.BigInteger),
    sqlite_autoincrement=True,  # never reuse the id of a hard-deleted experiment
)

experiment_tags = sa.Table(
    "experiment_tags",
    metadata,
    sa.Column("experiment_id", sa.Integer, sa.ForeignKey("experiments.experiment_id"), primary_key=True),
    sa.Column("key", sa.String(250), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

runs = sa.Table(
    "runs",
    metadata,
    sa.Column("run_uuid", sa.String(32), primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("experiment_id", sa.Integer, sa.ForeignKey("experiments.experiment_id"), nullable=False),
    sa.Column("user_id", sa.Text, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("start_time", sa.BigInteger, nullable=False),
    sa.Column("end_time", sa.BigInteger),
    sa.Column("lifecycle_stage", sa.String(20), nullable=False),
    sa.Column("artifact_uri", sa.Text, nullable=False),
    sa.Column("deleted_time", sa.BigInteger),
    sa.Index("ix_runs_experiment_start", "experiment_id", "start_time"),
)

# Full metric history. ``special`` encodes values some databases cannot store:
# 0 finite (``value`` holds it), 1 NaN, 2 +inf, 3 -inf (``value`` holds 0.0 / a stand-in).
metrics = sa.Table(
    "metrics",
    metadata,
    sa.Column("id", _BigId, primary_key=True, autoincrement=True),
    sa.Column("run_uuid", sa.String(32), sa.ForeignKey("runs.run_uuid"), nullable=False),
    sa.Column("key", sa.String(250), nullable=False),
    sa.Column("value", sa.Double, nullable=False),
    sa.Column("special", sa.SmallInteger, nullable=False),
    sa.Column("timestamp", sa.BigInteger, nullable=False),
    sa.Column("step", sa.BigInteger, nullable=False),
    sa.Index("ix_metrics_run_key_step", "run_uuid", "key", "step", "timestamp"),
)

# One row per (run, key): the value get_run and search_runs use, max by (step, timestamp, value).
# ``experiment_id`` (the run's, since version 3) lets a search find the runs of an experiment whose
# metric/param passes a filter from one index range, without visiting every run of the experiment.
latest_metrics = sa.Table(
    "latest_metrics",
    metadata,
    sa.Column("run_uuid", sa.String(32), sa.ForeignKey("runs.run_uuid"), primary_key=True),
    sa.Column("key", sa.String(250), primary_key=True),
    sa.Column("value", sa.Double, nullable=False),
    sa.Column("special", sa.SmallInteger, nullable=False),
    sa.Column("timestamp", sa.BigInteger, nullable=False),
    sa.Column("step", sa.BigInteger, nullable=False),
    sa.Column("experiment_id", sa.Integer),
)

params = sa.Table(
    "params",
    metadata,
    sa.Column("run_uuid", sa.String(32), sa.ForeignKey("runs.run_uuid"), primary_key=True),
    sa.Column("key", sa.String(250), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("experiment_id", sa.Integer),
)

tags = sa.Table(
    "tags",
    metadata,
    sa.Column("run_uuid", sa.String(32), sa.ForeignKey("runs.run_uuid"), primary_key=True),
    sa.Column("key", sa.String(250), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

# MySQL's TEXT holds 64 KB; dataset sources, schemas and profiles may be larger
_LongText = sa.Text().with_variant(mysql.LONGTEXT(), "mysql")

# Datasets are per experiment, identified by (name, digest); runs link to them through ``inputs``.
datasets = sa.Table(
    "datasets",
    metadata,
    sa.Column("dataset_uuid", sa.String(32), primary_key=True),
    sa.Column("experiment_id", sa.Integer, sa.ForeignKey("experiments.experiment_id"), nullable=False),
    sa.Column("name", sa.String(500), nullable=False),
    sa.Column("digest", sa.String(36), nullable=False),
    sa.Column("source_type", sa.String(36), nullable=False),
    sa.Column("source", _LongText, nullable=False),
    sa.Column("schema", _LongText),
    sa.Column("profile", _LongText),
    sa.UniqueConstraint("experiment_id", "name", "digest", name="uq_datasets_experiment_name_digest"),
)

# One row per (run, dataset, context); ``tags`` is the input's tags as a JSON object.
inputs = sa.Table(
    "inputs",
    metadata,
    sa.Column("run_uuid", sa.String(32), sa.ForeignKey("runs.run_uuid"), primary_key=True),
    sa.Column("dataset_uuid", sa.String(32), sa.ForeignKey("datasets.dataset_uuid"), primary_key=True),
    sa.Column("context", sa.String(500), primary_key=True),
    sa.Column("tags", sa.Text, nullable=False),
    sa.Column("position", sa.Integer, nullable=False),  # logging order, for a stable get_run order
)

# Since version 4: per (run, key, step // BUCKET_STEPS) the smallest and the largest value of the history
# with their steps and timestamps (NaN never counts), kept up to date by log_batch, so a downsampled
# history (get_metric_history_bulk_interval) reads one row per 64 steps instead of every point.
BUCKET_STEPS = 64
metric_buckets = sa.Table(
    "metric_buckets",
    metadata,
    sa.Column("run_uuid", sa.String(32), sa.ForeignKey("runs.run_uuid"), primary_key=True),
    sa.Column("key", sa.String(250), primary_key=True),
    sa.Column("bucket", sa.BigInteger, primary_key=True),
    sa.Column("min_value", sa.Double, nullable=False),
    sa.Column("min_special", sa.SmallInteger, nullable=False),
    sa.Column("min_step", sa.BigInteger, nullable=False),
    sa.Column("min_timestamp", sa.BigInteger, nullable=False),
    sa.Column("max_value", sa.Double, nullable=False),
    sa.Column("max_special", sa.SmallInteger, nullable=False),
    sa.Column("max_step", sa.BigInteger, nullable=False),
    sa.Column("max_timestamp", sa.BigInteger, nullable=False),
)

V1_TABLES = (experiments, experiment_tags, runs, metrics, latest_metrics, params, tags)
DATA_TABLES = (*V1_TABLES, datasets, inputs, metric_buckets)


# --------------------------------------------------------------------------- migrations


def _v1_tables() -> list[sa.Table]:
    """The version 1 tables: today's definitions, except the tables later versions changed, as they were."""
    v1 = sa.MetaData()
    tables = {t.name: t.to_metadata(v1) for t in V1_TABLES if t.name not in ("latest_metrics", "params")}
    latest = sa.Table(
        "latest_metrics",
        v1,
        sa.Column("run_uuid", sa.String(32), sa.ForeignKey("runs.run_uuid"), primary_key=True),
        sa.Column("key", sa.String(250), primary_key=True),
        sa.Column("value", sa.Double, nullable=False),
        sa.Column("special", sa.SmallInteger, nullable=False),
        sa.Column("timestamp", sa.BigInteger, nullable=False),
        sa.Column("step", sa.BigInteger, nullable=False),
    )
    v1_params = sa.Table(
        "params",
        v1,
        sa.Column("run_uuid", sa.String(32), sa.ForeignKey("runs.run_uuid"), primary_key=True),
        sa.Column("key", sa.String(250), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    return [*tables.values(), latest, v1_params]


def _create_v1(conn: Connection) -> None:
    """Version 1: the initial schema."""
    tables = _v1_tables()
    tables[0].metadata.create_all(conn, tables=tables, checkfirst=True)


def _create_v2(conn: Connection) -> None:
    """Version 2: dataset inputs (tables ``datasets`` and ``inputs``)."""
    metadata.create_all(conn, tables=[datasets, inputs], checkfirst=True)


def _search_indexes_v3(conn: Connection) -> None:
    """Version 3: the run's experiment id on latest_metrics and params, and indexes on
    (experiment, key, value) that let a search read only the runs passing a metric or param filter."""
    for table in (latest_metrics, params):
        conn.exec_driver_sql(f"ALTER TABLE {table.name} ADD COLUMN experiment_id INTEGER")
        conn.execute(
            sa.update(table).values(
                experiment_id=sa.select(runs.c.experiment_id)
                .where(runs.c.run_uuid == table.c.run_uuid)
                .scalar_subquery()
            )
        )
    m = latest_metrics.c
    sa.Index("ix_latest_metrics_experiment_key_value", m.experiment_id, m.key, m.value, m.special, m.run_uuid).create(
        conn
    )
    p = params.c
    # a B-tree entry has a size limit on PostgreSQL/MySQL (a 6,000-character value exceeds it): there the
    # index stops at the key and the value is checked on the row
    value = (p.value,) if conn.dialect.name == "sqlite" else ()
    sa.Index("ix_params_experiment_key_value", p.experiment_id, p.key, *value, p.run_uuid).create(conn)


def _decode(value: float, special: int) -> float:
    # the special codes of metrics.special: 1 NaN, 2 +inf, 3 -inf
    return {1: math.nan, 2: math.inf, 3: -math.inf}.get(special, value) if special else value


def bucket_rows(run_id: str, key: str, pairs: dict) -> list[dict]:
    """metric_buckets rows for ``{bucket: [min point, max point]}``, points (value, step, timestamp, stored
    value, special)."""
    return [
        {
            "run_uuid": run_id,
            "key": key,
            "bucket": bucket,
            "min_value": low[3],
            "min_special": low[4],
            "min_step": low[1],
            "min_timestamp": low[2],
            "max_value": high[3],
            "max_special": high[4],
            "max_step": high[1],
            "max_timestamp": high[2],
        }
        for bucket, (low, high) in pairs.items()
    ]


def _metric_buckets_v4(conn: Connection) -> None:
    """Version 4: the metric_buckets summaries, computed for the histories already stored."""
    metadata.create_all(conn, tables=[metric_buckets], checkfirst=True)
    m = metrics.c
    rows = conn.execute(
        sa.select(m.run_uuid, m.key, m.value, m.special, m.step, m.timestamp).order_by(m.run_uuid, m.key)
    )
    for (run_id, key), group in itertools.groupby(rows, key=lambda r: (r[0], r[1])):
        points = [(_decode(value, special), step, ts, value, special) for _, _, value, special, step, ts in group]
        pairs = downsample.extremes(points, BUCKET_STEPS)
        if pairs:
            conn.execute(sa.insert(metric_buckets), bucket_rows(run_id, key, pairs))


def _param_value_hash_index_v5(conn: Connection) -> None:
    """Version 5, PostgreSQL: an index on (experiment, key, md5(value)), so an equality filter on a param finds
    its runs from an index range there too (version 3's index stops at the key on PostgreSQL, as a long value
    exceeds a B-tree entry: every run with the key was read); compile.py adds the matching md5 condition.
    Other databases: nothing (SQLite's index holds the value; MySQL keeps reading by key)."""
    if conn.dialect.name == "postgresql":
        p = params.c
        sa.Index(PARAM_VALUE_HASH_INDEX, p.experiment_id, p.key, sa.func.md5(p.value), p.run_uuid).create(conn)


PARAM_VALUE_HASH_INDEX = "ix_params_experiment_key_value_md5"


def _logged_models_v6(conn: Connection) -> None:
    """Version 6: the MLflow 3 logged-model tables (``sql/logged_models.py``). Before, they were created on
    first use outside the migrations; ``checkfirst`` keeps such a database's tables and rows as they are."""
    from tracklet.tracking.stores.sql import logged_models

    logged_models.metadata.create_all(conn, checkfirst=True)


MIGRATIONS: list[Callable[[Connection], None]] = [
    _create_v1,
    _create_v2,
    _search_indexes_v3,
    _metric_buckets_v4,
    _param_value_hash_index_v5,
    _logged_models_v6,
]
LATEST_VERSION = len(MIGRATIONS)


def current_version(conn: Connection) -> int:
    """The schema version recorded in the database (0 for an empty database)."""
    if not sa.inspect(conn).has_table("schema_version"):
        return 0
    version = conn.execute(sa.select(sa.func.max(schema_version.c.version))).scalar()
    return int(version or 0)


def upgrade(conn: Connection, migrations: list[Callable[[Connection], None]] | None = None) -> int:
    """Apply the migrations the database lacks, in order, inside the caller's transaction.

    Returns the new version. A database newer than this code raises rather than being touched.
    """
    migrations = MIGRATIONS if migrations is None else migrations
    schema_version.create(conn, checkfirst=True)
    version = current_version(conn)
    if version > len(migrations):
        raise TrackletException(
            f"The tracking database has schema version {version}, newer than the version {len(migrations)} "
            "this tracklet knows; upgrade tracklet to use it"
        )
    if version == len(migrations):
        return version
    for number in range(version + 1, len(migrations) + 1):
        migrations[number - 1](conn)
    conn.execute(sa.delete(schema_version))
    conn.execute(sa.insert(schema_version).values(version=len(migrations)))
    return len(migrations)
