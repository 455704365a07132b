"""Spark datasource autologging: ``tracklet.spark.autolog()`` (or ``tracklet.autolog()``).

Records which files and tables a run reads through Spark as the run tag ``sparkDatasourceInfo``: one line
per source, ``path=<path>,format=<fmt>`` (Delta: ``path=<path>,version=<v>,format=delta`` when the version is
known; a catalog table: ``path=<catalog.db.table>``), de-duplicated, cut at a line boundary to fit the tag
limit (a last line ``...`` says lines were left out).

Done in Python, with no JVM jar, callback server or thread setting: the ``DataFrameReader`` entry points
(``load``, ``csv``, ``parquet``, ``json``, ``orc``, ``text``, ``table``) and ``SparkSession.table`` / ``sql``
are patched, and each DataFrame they return is traced through its analyzed plan
(:mod:`tracklet.autolog.spark_plan`), so ``spark.sql("select * from parquet.`/path`")``, views, joins,
unions and subqueries are captured. No Spark job runs; a read costs a few milliseconds.

Enabled by ``tracklet.spark.autolog()`` and by ``tracklet.autolog()`` (as MLflow's ``autolog()`` does; it creates
no runs, so it is not in the autolog registry -- ``tracklet.autolog.core`` turns it on once pyspark.sql is
imported). A read while a run is active (in this
thread) is tagged on that run at once (queued, non-blocking). A read
with no active run is kept and attached to the next run started in this process, then forgotten. Spark
Connect DataFrames have no plan in this process; they are skipped with one warning.
"""

from __future__ import annotations

import contextvars
import sys
import threading
from collections import OrderedDict

from tracklet.autolog import session
from tracklet.autolog.config import AutologConfig, get_config
from tracklet.autolog.patching import LightHooks, wrap_light, wrap_raw
from tracklet.exceptions import InvalidParameterValue
from tracklet.tracking import system_tags as ctx
from tracklet.tracking import validation as V

INTEGRATION = "spark"
TAG = "sparkDatasourceInfo"
READER_METHODS = ("load", "csv", "parquet", "json", "orc", "text", "table")
SESSION_METHODS = ("table", "sql")
_KEPT_RUNS = 32  # runs whose lines are remembered (to merge later reads without re-reading the tag)

_lock = threading.Lock()
_pending: list[str] = []  # lines read outside any run, for the next run started
_run_lines: OrderedDict[str, list[str]] = OrderedDict()
_hook_registered = False
_in_read: contextvars.ContextVar[bool] = contextvars.ContextVar("tracklet_spark_read", default=False)


def autolog(disable: bool = False, silent: bool = False, *, _explicit: bool = True) -> None:
    """Enable (or with ``disable=True`` revert) Spark datasource autologging: the files and tables read through
    Spark are recorded in the run tag ``sparkDatasourceInfo``. Works with any SparkSession (local or cluster),
    with no extra jar; reads made with no active run are attached to the next run started.

    ``tracklet.autolog()`` turns it on as well (``exclude_flavors=["spark"]`` leaves it off); a call of this
    function wins over ``tracklet.autolog()``'s settings, as per-framework calls do."""
    import wrapt

    from tracklet.autolog import config as _config
    from tracklet.autolog.patching import revert_patches

    global _hook_registered
    for name, value in (("disable", disable), ("silent", silent)):
        if not isinstance(value, bool):
            raise InvalidParameterValue(f"spark autolog: {name} must be True or False, got {value!r}")
    with _config.lock:
        if not _explicit and _config.is_explicit(INTEGRATION):
            return  # the user's own tracklet.spark.autolog(...) wins over tracklet.autolog()
        revert_patches(INTEGRATION)
        reset_for_tests()  # reads kept under an earlier configuration are not attached later
        _config.set_config(INTEGRATION, AutologConfig(disable=disable, silent=silent), explicit=_explicit)
        session.reset_warnings(INTEGRATION)
        if disable:
            return
        if "pyspark.sql" in sys.modules:
            _install()
        elif not _hook_registered:
            wrapt.register_post_import_hook(_on_import, "pyspark.sql")
            _hook_registered = True


def _on_import(module) -> None:
    """The post-import hook: never lets an exception break the user's ``import`` (except in strict mode)."""
    config = get_config(INTEGRATION)
    if config.disable:
        return
    try:
        _install()
    except Exception as exc:
        from tracklet.autolog.patching import revert_patches

        revert_patches(INTEGRATION)
        session.report_error(INTEGRATION, exc, config.silent)


def _install() -> None:
    from pyspark.sql import readwriter
    from pyspark.sql import session as spark_session

    hooks = _ReadHooks()
    for name in READER_METHODS:
        if name in vars(readwriter.DataFrameReader):
            wrap_light(INTEGRATION, readwriter.DataFrameReader, name, hooks)
    for name in SESSION_METHODS:
        if name in vars(spark_session.SparkSession):
            wrap_light(INTEGRATION, spark_session.SparkSession, name, hooks)
    wrap_raw(INTEGRATION, ctx, "context_tags", _context_tags)


class _ReadHooks(LightHooks):
    """Around a read: only the outermost patched read in a call chain traces the DataFrame it returns."""

    def before(self, instance, args, kwargs):
        if _in_read.get():
            return None
        return _in_read.set(True)

    def after(self, token, instance, args, kwargs, result) -> None:
        if hasattr(result, "schema") and hasattr(result, "columns"):  # a DataFrame (sql() of DDL too)
            record(result)

    def cleanup(self, token) -> None:
        _in_read.reset(token)


def record(df) -> None:
    """Trace ``df``'s sources and tag them on the active run (or keep them for the next run)."""
    from tracklet.autolog import spark_plan

    if spark_plan.is_connect(df):
        session.warn_once(
            (INTEGRATION, "connect"),
            "tracklet: Spark Connect DataFrames are not traced by datasource autologging (their plan lives on "
            "the server)",
            get_config(INTEGRATION).silent,
        )
        return
    lines = [s.line() for s in spark_plan.sources(df)]
    if lines:
        add_lines(lines)


def add_lines(lines: list[str]) -> None:
    """Merge ``lines`` into the active run's tag, or into the lines pending for the next run."""
    from tracklet.tracking import current, fluent

    active = fluent.active_run()
    with _lock:
        if active is None:
            _pending.extend(line for line in lines if line not in _pending)
            return
        run_id = active.info.run_id
        known = _run_lines.get(run_id)
        if known is None:
            known = _parse(active.data.tags.get(TAG))
        new = [line for line in lines if line not in known]
        _run_lines[run_id] = known + new
        _run_lines.move_to_end(run_id)
        while len(_run_lines) > _KEPT_RUNS:
            _run_lines.popitem(last=False)
        if not new:
            return
        value = format_tag(_run_lines[run_id])
    current.get_client().set_tag(run_id, TAG, value, synchronous=False)


def _context_tags(wrapped, instance, args, kwargs):
    """``context_tags()`` of a new run, plus the lines read before it started (then forgotten)."""
    tags = wrapped(*args, **kwargs)
    config = get_config(INTEGRATION)
    if config.disable:
        return tags
    try:
        with _lock:
            pending = list(_pending)
            _pending.clear()
        if pending:
            tags = {**tags, TAG: format_tag(pending)}
    except Exception as exc:  # starting the user's run must never fail because of us
        session.report_error(INTEGRATION, exc, config.silent)
    return tags


def _parse(value: str | None) -> list[str]:
    return [line for line in (value or "").split("\n") if line and line != "..."]


def format_tag(lines: list[str]) -> str:
    """The tag value: the lines joined by newlines, whole lines only, within the tag length limit."""
    out, size = [], 0
    for line in lines:
        extra = len(line) + (1 if out else 0)
        if size + extra > V.MAX_TAG_VALUE_LENGTH - 4:
            out.append("...")
            break
        out.append(line)
        size += extra
    return "\n".join(out)


def pending_lines() -> list[str]:
    """The lines read outside any run, waiting for the next run (a copy)."""
    with _lock:
        return list(_pending)


def reset_for_tests() -> None:
    with _lock:
        _pending.clear()
        _run_lines.clear()
