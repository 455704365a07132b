"""What a Spark DataFrame reads, from its analyzed logical plan -- in Python, with no JVM jar and no Spark job.

The leaves of ``df._jdf.queryExecution().analyzed()`` (and of its subqueries) are the relations the query
reads: file relations give their root paths and format, catalog tables their name, DSv2 tables their paths or
name. The *analyzed* plan is used because the optimized one hides sources behind caching, pruning and
constant folding. Reading it is a few py4j calls (milliseconds) and never runs a Spark job.

Shared by the datasource autolog (:mod:`tracklet.autolog.spark_datasource`) and the dataset inputs of the
Spark ML autolog. Spark Connect DataFrames have no JVM plan in this process: :func:`is_connect` tells them
apart by module name (importing ``pyspark.sql.connect`` to test ``isinstance`` would pull in grpc).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

_EXPR_ID = re.compile(r"#\d+L?")


@dataclass(frozen=True)
class Source:
    """One thing a DataFrame reads: a file path (or a catalog table's name) and its format."""

    path: str
    format: str
    version: str | None = None  # Delta table version, when known
    table: bool = False  # ``path`` is a catalog table name

    def line(self) -> str:
        """The ``sparkDatasourceInfo`` line: ``path=<path>,format=<fmt>`` (Delta: ``path=..,version=..,format=..``)."""
        if self.version is not None:
            return f"path={self.path},version={self.version},format={self.format}"
        return f"path={self.path},format={self.format}"


def is_connect(df) -> bool:
    """True for a Spark Connect DataFrame (no ``_jdf``), judged by its class's module."""
    return ".connect." in type(df).__module__ + "."


def _iterate(seq):
    it = seq.iterator()
    while it.hasNext():
        yield it.next()


def _option(opt):
    return opt.get() if opt is not None and opt.isDefined() else None


def _plans(df) -> list:
    plan = df._jdf.queryExecution().analyzed()
    return [plan, *_iterate(plan.subqueriesAll())]


def sources(df) -> list[Source]:
    """The files and tables ``df``'s analyzed plan reads, de-duplicated, in plan order."""
    out: list[Source] = []
    for plan in _plans(df):
        for leaf in _iterate(plan.collectLeaves()):
            for source in _leaf_sources(leaf):
                if source not in out:
                    out.append(source)
    return out


def _leaf_sources(leaf) -> list[Source]:
    kind = leaf.getClass().getSimpleName()
    if kind == "LogicalRelation":
        return _logical_relation(leaf)
    if kind == "DataSourceV2Relation":
        return _v2_relation(leaf)
    if kind == "HiveTableRelation":
        return [Source(leaf.tableMeta().identifier().unquotedString(), "hive", table=True)]
    return []  # in-memory data (LogicalRDD, LocalRelation), range(), streaming sources


def _logical_relation(leaf) -> list[Source]:
    relation = leaf.relation()
    table = _option(leaf.catalogTable())
    if relation.getClass().getSimpleName() != "HadoopFsRelation":
        if table is not None:
            return [Source(table.identifier().unquotedString(), _provider(table) or "unknown", table=True)]
        return []
    location = relation.location()
    fmt = _short_name(relation.fileFormat())
    version = None
    if "Tahoe" in location.getClass().getSimpleName():  # a Delta table read through its log
        fmt, version = "delta", _delta_version(location)
    if table is not None:
        return [Source(table.identifier().unquotedString(), fmt, version, table=True)]
    return [Source(path.toString(), fmt, version) for path in _iterate(location.rootPaths())]


def _v2_relation(leaf) -> list[Source]:
    table = leaf.table()
    cls = table.getClass().getSimpleName()
    if cls == "DeltaTableV2":
        version = None
        try:
            version = str(table.initialSnapshot().version())
        except Exception:  # noqa: BLE001 - Delta's internals differ between versions
            pass
        return [Source(table.path().toString(), "delta", version)]
    try:
        paths = list(_iterate(table.paths()))  # a FileTable (parquet/csv/... through DSv2)
        return [Source(str(p), table.formatName().lower()) for p in paths]
    except Exception:  # noqa: BLE001 - not a FileTable
        pass
    provider = None
    try:
        provider = table.properties().get("provider")
    except Exception:  # noqa: BLE001
        pass
    return [Source(table.name(), provider or cls.removesuffix("Table").lower() or "unknown", table=True)]


def _short_name(file_format) -> str:
    try:
        return file_format.shortName()
    except Exception:  # noqa: BLE001 - a format without a registered short name
        return file_format.getClass().getSimpleName().removesuffix("FileFormat").lower()


def _provider(table) -> str | None:
    return _option(table.provider())


def _delta_version(location) -> str | None:
    for getter in ("tableVersion", "version"):
        try:
            return str(getattr(location, getter)())
        except Exception:  # noqa: BLE001 - Delta's internals differ between versions
            continue
    return None


def plan_digest(df, found: list[Source] | None = None) -> str:
    """An 8-character digest of what ``df`` is, without a Spark job over its data: its schema, its sources
    (and, for file relations, their size and file count as Spark already listed them) and its canonicalized
    plan (the transformations, with expression ids normalized). Data created in memory is represented by its
    schema and plan only."""
    h = hashlib.md5(usedforsecurity=False)
    h.update(df._jdf.schema().json().encode())
    for source in found if found is not None else sources(df):
        h.update(source.line().encode())
    for plan in _plans(df):
        h.update(_EXPR_ID.sub("", plan.canonicalized().toString()).encode())
        for leaf in _iterate(plan.collectLeaves()):
            if leaf.getClass().getSimpleName() == "LogicalRelation":
                relation = leaf.relation()
                if relation.getClass().getSimpleName() == "HadoopFsRelation":
                    location = relation.location()
                    h.update(f"{location.sizeInBytes()}:{len(location.inputFiles())}".encode())
    return h.hexdigest()[:8]
