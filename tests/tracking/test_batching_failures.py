"""The batching logger when things go wrong: a failing store, bad settings, a dead writer, many stores."""

import logging
import math
import threading

import pytest

import tracklet
from tracklet.entities import Metric, Param
from tracklet.exceptions import InvalidParameterValue
from tracklet.tracking import batching
from tracklet.tracking.batching import BatchingLogger
from tracklet.tracking.stores import registry


@pytest.fixture
def store_and_run():
    client = tracklet.MlflowClient()
    run = client.create_run("0")
    return client.store, run.info.run_id


@pytest.fixture
def batching_records():
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    log = logging.getLogger("tracklet.batching")
    log.addHandler(handler)
    yield records
    log.removeHandler(handler)


def test_a_partially_applied_batch_is_not_retried(store_and_run, batching_records):
    """A store that wrote part of a merged batch and then failed (I/O) must not get the batch again entry by
    entry: that would append the written points twice."""
    store, run_id = store_and_run
    entered, gate = threading.Event(), threading.Event()

    def half_then_fail(rid, metrics, params, tags):
        if metrics[0].key == "hold":  # keeps the writer busy while the next two entries are queued
            entered.set()
            gate.wait(30)
        if len(metrics) > 1:
            store.log_batch(rid, metrics[:1], [], [])
            raise OSError("disk full")
        store.log_batch(rid, metrics, params, tags)

    lg = BatchingLogger(half_then_fail)
    lg.submit(run_id, metrics=[Metric("hold", 1.0, 0, 0)])
    assert entered.wait(30)
    ops = [lg.submit(run_id, metrics=[Metric(k, 1.0, 0, 0)]) for k in ("ok", "other")]
    gate.set()
    lg.flush()
    assert all(isinstance(op.exception(), OSError) for op in ops)
    assert len(store.get_metric_history(run_id, "ok")) == 1
    lg.shutdown()


def test_a_failing_store_is_warned_about_once_per_run_with_a_count(store_and_run, batching_records):
    _, run_id = store_and_run

    def down(*a):
        raise OSError("database is unreachable")

    lg = BatchingLogger(down)
    ops = []
    for i in range(300):  # one entry per training round, each written on its own
        ops.append(lg.submit(run_id, metrics=[Metric("loss", 1.0, 0, i)]))
        ops[-1].exception(30)
    lg.flush()
    assert all(isinstance(op.exception(), OSError) for op in ops)
    messages = [r.getMessage() for r in batching_records]
    assert len(messages) == 2, messages
    assert "database is unreachable" in messages[0]
    assert "299 more" in messages[1] and run_id in messages[1]
    lg.shutdown()


@pytest.mark.parametrize("setting", ["-1", "nan", "inf", "-inf", "soon", "1e9"])
def test_a_bad_flush_interval_is_warned_and_bounded(store_and_run, monkeypatch, setting, batching_records):
    store, run_id = store_and_run
    monkeypatch.setenv("TRACKLET_ASYNC_FLUSH_INTERVAL", setting)
    lg = BatchingLogger(store.log_batch)
    assert 0 <= lg._interval <= batching.MAX_FLUSH_INTERVAL
    assert any("TRACKLET_ASYNC_FLUSH_INTERVAL" in r.getMessage() for r in batching_records)
    op = lg.submit(run_id, metrics=[Metric("m", 1.0, 0, 0)])
    lg.flush(timeout=60)  # a flush never waits for the interval
    assert op.done() and op.exception() is None
    assert [m.value for m in store.get_metric_history(run_id, "m")] == [1.0]
    lg.shutdown()


@pytest.mark.parametrize("interval", [-1, math.nan, math.inf, 1e9, "1"])
def test_an_explicit_bad_flush_interval_is_an_error(interval):
    with pytest.raises(InvalidParameterValue, match="flush_interval"):
        BatchingLogger(lambda *a: None, flush_interval=interval)


def test_end_run_with_a_long_flush_interval_writes_at_once(monkeypatch):
    monkeypatch.setenv("TRACKLET_ASYNC_FLUSH_INTERVAL", "5")
    tracklet.flush_async_logging()
    registry.clear_cache()  # the next logger reads the setting
    with tracklet.start_run() as run:
        tracklet.log_metric("m", 2.0, synchronous=False)
    assert tracklet.get_run(run.info.run_id).data.metrics == {"m": 2.0}


def test_a_dead_writer_fails_queued_entries_and_later_calls_write_synchronously(store_and_run, monkeypatch):
    store, run_id = store_and_run
    entered, gate = threading.Event(), threading.Event()

    def held(*a):
        entered.set()
        gate.wait(30)
        store.log_batch(*a)

    lg = BatchingLogger(held)
    first = lg.submit(run_id, metrics=[Metric("a", 1.0, 0, 0)])
    assert entered.wait(30)
    queued = [lg.submit(run_id, metrics=[Metric("a", 1.0, 0, i)]) for i in range(1, 4)]

    def bug(entries):
        raise RuntimeError("a bug in the writer")

    monkeypatch.setattr(batching, "_merge", bug)
    gate.set()
    assert first.exception(30) is None  # it was being written when the bug struck
    for op in queued:
        assert isinstance(op.exception(30), RuntimeError)
    monkeypatch.undo()
    later = lg.submit(run_id, metrics=[Metric("b", 3.0, 0, 0)])
    assert later.done() and later.exception() is None  # written in the caller's thread
    assert store.get_run(run_id).data.metrics["b"] == 3.0
    lg.flush(timeout=30)
    lg.shutdown()


def test_switching_tracking_uris_leaves_at_most_one_logger_thread_per_live_store(tmp_path):
    before = {t for t in threading.enumerate() if t.name == "tracklet-logger"}
    for i in range(6):
        tracklet.set_tracking_uri(f"sqlite:///{tmp_path}/s{i}.db")
        with tracklet.start_run():
            tracklet.log_metric("m", float(i), synchronous=False)
    live = list(registry._stores.values())
    threads = [t for t in threading.enumerate() if t.name == "tracklet-logger" and t not in before]
    assert len(threads) <= len(live)
    registry.clear_cache()  # closing the stores stops their loggers
    for t in threads:
        t.join(timeout=30)
        assert not t.is_alive()
    assert all(batching.logger_for(s, create=False) is None for s in live)


def test_params_conflicting_with_the_run_fail_alone_and_are_warned_once(store_and_run, batching_records):
    store, run_id = store_and_run
    store.log_batch(run_id, [], [Param("lr", "0.1")], [])
    lg = BatchingLogger(store.log_batch)
    bad = [lg.submit(run_id, params=[Param("lr", str(i))]) for i in range(5)]
    good = lg.submit(run_id, params=[Param("depth", "3")])
    lg.flush()
    assert all(isinstance(op.exception(), InvalidParameterValue) for op in bad)
    assert good.exception() is None
    assert sum(r.getMessage().startswith("Asynchronous logging") for r in batching_records) == 1
    lg.shutdown()


def test_when_no_thread_can_start_entries_are_written_in_the_callers_thread(store_and_run, monkeypatch):
    """Python 3.12+ refuses new threads at interpreter shutdown, where atexit flushes the loggers."""
    store, run_id = store_and_run
    lg = BatchingLogger(store.log_batch)

    def refuse(self):
        raise RuntimeError("can't create new thread at interpreter shutdown")

    monkeypatch.setattr(threading.Thread, "start", refuse)
    op = lg.submit(run_id, metrics=[Metric("m", 1.0, 0, 0)])
    lg.flush()
    monkeypatch.undo()
    assert op.done() and op.exception() is None
    assert [m.value for m in store.get_metric_history(run_id, "m")] == [1.0]
