"""Spark datasource autologging on a real local Spark: what the analyzed plan reads, the sparkDatasourceInfo
tag on the active run, reads before a run attached to the next run (once), the tag limit, disable, failures."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import pytest

pytest.importorskip("pyspark")
pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")  # pyspark on pandas 3

import tracklet  # noqa: E402
import tracklet.spark  # noqa: E402
from tracklet.autolog import AutologWarning, spark_datasource, spark_plan  # noqa: E402
from tracklet.tracking import system_tags as ctx  # noqa: E402

from .spark_session import get_spark  # noqa: E402

TAG = "sparkDatasourceInfo"


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Tiny files in every format, a catalog table and a temp view over a parquet path."""
    spark = get_spark()
    root = tmp_path_factory.mktemp("spark-data")
    df = spark.createDataFrame([(1.0, 2.0, 0), (2.0, 1.0, 1)], ["a", "b", "label"])
    paths = {}
    for fmt in ("parquet", "csv", "json", "orc"):
        paths[fmt] = str(root / fmt)
        df.write.format(fmt).option("header", True).save(paths[fmt])
    paths["text"] = str(root / "text")
    df.selectExpr("cast(a as string) as value").write.text(paths["text"])
    spark.sql("drop table if exists tracklet_t")
    df.write.saveAsTable("tracklet_t")
    spark.sql(f"create or replace temp view tracklet_v as select * from parquet.`{paths['parquet']}`")
    return paths


def _line(path, fmt):
    return f"path=file:{path},format={fmt}"


def _tag(run_id):
    tracklet.flush_async_logging()
    return tracklet.get_run(run_id).data.tags.get(TAG)


def test_the_analyzed_plan_gives_paths_formats_and_tables_without_a_spark_job(data):
    spark = get_spark()
    cases = {
        "csv": (spark.read.option("header", True).csv(data["csv"]), [_line(data["csv"], "csv")]),
        "json": (spark.read.json(data["json"]), [_line(data["json"], "json")]),
        "orc": (spark.read.orc(data["orc"]), [_line(data["orc"], "orc")]),
        "text": (spark.read.text(data["text"]), [_line(data["text"], "text")]),
        "load": (spark.read.format("parquet").load(data["parquet"]), [_line(data["parquet"], "parquet")]),
        "table": (spark.table("tracklet_t"), ["path=spark_catalog.default.tracklet_t,format=parquet"]),
        "sql path": (spark.sql(f"select * from parquet.`{data['parquet']}`"), [_line(data["parquet"], "parquet")]),
        "view": (spark.sql("select a from tracklet_v"), [_line(data["parquet"], "parquet")]),
        "join + subquery": (
            spark.sql(
                f"select t.a from tracklet_t t join json.`{data['json']}` j on t.a = j.a "
                f"where t.b in (select b from orc.`{data['orc']}`)"
            ),
            [
                "path=spark_catalog.default.tracklet_t,format=parquet",
                _line(data["json"], "json"),
                _line(data["orc"], "orc"),
            ],
        ),
        "union, cached": (
            spark.read.parquet(data["parquet"]).union(spark.read.parquet(data["parquet"])).cache(),
            [_line(data["parquet"], "parquet")],
        ),
        "in memory": (spark.range(3), []),
    }
    jobs_before = spark.sparkContext.statusTracker().getJobIdsForGroup()  # reading a CSV header/JSON schema runs jobs
    for name, (df, expected) in cases.items():
        assert sorted(s.line() for s in spark_plan.sources(df)) == sorted(expected), name
        assert len(spark_plan.plan_digest(df)) == 8
    assert spark.sparkContext.statusTracker().getJobIdsForGroup() == jobs_before  # tracing ran no Spark job


def test_a_read_inside_a_run_tags_it_once_per_source(data):
    spark = get_spark()
    tracklet.spark.autolog()
    with tracklet.start_run() as run:
        spark.read.parquet(data["parquet"])
        spark.read.parquet(data["parquet"])  # the same source again: no new line
        spark.sql(f"select * from json.`{data['json']}`")
    assert _tag(run.info.run_id).split("\n") == [_line(data["parquet"], "parquet"), _line(data["json"], "json")]


def test_reads_before_a_run_are_attached_to_the_next_run_only(data):
    spark = get_spark()
    tracklet.spark.autolog()
    spark.read.option("header", True).csv(data["csv"])
    spark.read.table("tracklet_t")
    assert len(spark_datasource.pending_lines()) == 2
    with tracklet.start_run() as first:
        spark.read.orc(data["orc"])
    with tracklet.start_run() as second:
        pass
    assert _tag(first.info.run_id).split("\n") == [
        _line(data["csv"], "csv"),
        "path=spark_catalog.default.tracklet_t,format=parquet",
        _line(data["orc"], "orc"),
    ]
    assert _tag(second.info.run_id) is None
    assert spark_datasource.pending_lines() == []


def test_tracklet_autolog_records_lineage_unless_excluded_or_disabled_explicitly(data):
    """Like MLflow's ``autolog()``, ``tracklet.autolog()`` turns the datasource lineage on; ``exclude_flavors``
    and an explicit ``tracklet.spark.autolog(disable=True)`` keep it off."""
    spark = get_spark()
    tracklet.autolog()
    with tracklet.start_run() as on:
        spark.read.json(data["json"])
    tracklet.autolog(disable=True)
    tracklet.autolog(exclude_flavors=["spark"])
    with tracklet.start_run() as excluded:
        spark.read.json(data["json"])
    tracklet.spark.autolog(disable=True)
    tracklet.autolog()  # the explicit call wins
    with tracklet.start_run() as explicit_off:
        spark.read.json(data["json"])
    assert _tag(on.info.run_id) == _line(data["json"], "json")
    assert _tag(excluded.info.run_id) is None and _tag(explicit_off.info.run_id) is None


def test_tracklet_autolog_before_importing_pyspark_enables_lineage_on_import(tmp_path):
    """The hook path: ``tracklet.autolog()`` in a fresh process before pyspark is imported loads no pyspark, and
    the first read after ``import pyspark`` is recorded."""
    import subprocess
    import sys

    csv = tmp_path / "d.csv"
    csv.write_text("a,b\n1,2\n")
    code = f"""
import sys, tracklet
tracklet.set_tracking_uri({("sqlite:///" + str(tmp_path / "t.db"))!r})
tracklet.autolog()
assert "pyspark" not in sys.modules and "tracklet.autolog.spark_datasource" not in sys.modules
from tests.integrations.spark_session import get_spark
spark = get_spark()
with tracklet.start_run() as run:
    spark.read.option("header", True).csv({str(csv)!r})
tracklet.flush_async_logging()
print(tracklet.get_run(run.info.run_id).data.tags.get("sparkDatasourceInfo"))
"""
    root = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600, cwd=root, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().splitlines()[-1] == _line(str(csv), "csv")


def test_the_tag_keeps_whole_lines_within_the_tag_limit():
    lines = [f"path=file:/data/part-{i:05d}.parquet,format=parquet" for i in range(400)]
    value = spark_datasource.format_tag(lines)
    assert len(value) <= 8000
    kept = value.split("\n")
    assert kept[-1] == "..." and kept[:-1] == lines[: len(kept) - 1] and len(kept) > 100


def test_disable_restores_everything_and_stops_recording(data):
    spark = get_spark()
    from pyspark.sql.readwriter import DataFrameReader

    original_csv, original_tags = vars(DataFrameReader)["csv"], ctx.context_tags
    tracklet.spark.autolog()
    assert vars(DataFrameReader)["csv"] is not original_csv and ctx.context_tags is not original_tags
    tracklet.spark.autolog(disable=True)
    assert vars(DataFrameReader)["csv"] is original_csv and ctx.context_tags is original_tags
    with tracklet.start_run() as run:
        spark.read.option("header", True).csv(data["csv"])
    assert _tag(run.info.run_id) is None


def test_a_failing_read_propagates_unchanged(tmp_path):
    from pyspark.errors import AnalysisException

    tracklet.spark.autolog()
    with pytest.raises(AnalysisException, match="PATH_NOT_FOUND"):
        get_spark().read.parquet(str(tmp_path / "missing"))


def test_our_failures_never_fail_a_read(data, monkeypatch):
    from tracklet.tracking.current import get_client

    spark = get_spark()
    tracklet.spark.autolog()
    monkeypatch.delenv("TRACKLET_AUTOLOG_STRICT")

    def broken(*args, **kwargs):
        raise OSError("broken")

    with tracklet.start_run() as run, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        monkeypatch.setattr(get_client().store, "log_batch", broken)  # the tag write fails (in the background)
        assert spark.read.parquet(data["parquet"]).columns == ["a", "b", "label"]
        monkeypatch.setattr(spark_plan, "sources", broken)  # tracing itself fails
        assert spark.read.json(data["json"]).columns == ["a", "b", "label"]
        tracklet.flush_async_logging()
    monkeypatch.undo()
    assert [w for w in caught if issubclass(w.category, AutologWarning)]
    assert tracklet.get_run(run.info.run_id).info.status == "FINISHED"


def test_spark_connect_dataframes_are_recognised_by_module_name():
    connect = type("DataFrame", (), {"__module__": "pyspark.sql.connect.dataframe"})
    assert spark_plan.is_connect(connect())
    assert not spark_plan.is_connect(get_spark().range(1))
