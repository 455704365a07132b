"""The batching logger over a real SQLite store."""

import threading

import pytest

import tracklet
from tracklet.entities import Metric, Param, RunTag
from tracklet.exceptions import InvalidParameterValue
from tracklet.tracking.batching import BatchingLogger


@pytest.fixture
def store_and_run():
    client = tracklet.MlflowClient()
    run = client.create_run("0")
    return client.store, run.info.run_id


def test_merges_consecutive_entries_into_few_batches(store_and_run):
    store, run_id = store_and_run
    calls = []
    gate = threading.Event()

    def log_batch(rid, metrics, params, tags):
        gate.wait(10)  # hold the writer so entries pile up and get merged
        calls.append((len(metrics), len(params), len(tags)))
        store.log_batch(rid, metrics, params, tags)

    lg = BatchingLogger(log_batch)
    futures = [lg.submit(run_id, metrics=[Metric("m", float(i), 0, i)]) for i in range(3000)]
    futures.append(lg.submit(run_id, params=[Param("p", "1")], tags=[RunTag("t", "1")]))
    gate.set()
    lg.flush()
    assert all(f.done() and f.exception() is None for f in futures)
    assert len(calls) <= 6, calls  # 3000 single-metric calls -> a handful of log_batch calls
    assert all(m <= 1000 and p <= 100 and t <= 100 and m + p + t <= 1000 for m, p, t in calls)
    assert [m.step for m in store.get_metric_history(run_id, "m")] == list(range(3000))
    lg.shutdown()


def test_an_entry_over_the_limits_is_split_in_order(store_and_run):
    store, run_id = store_and_run
    lg = BatchingLogger(store.log_batch)
    fut = lg.submit(
        run_id,
        metrics=[Metric("m", float(i), 0, i) for i in range(2500)],
        params=[Param(f"p{i}", "v") for i in range(250)],
    )
    fut.wait(30)
    run = store.get_run(run_id)
    assert len(run.data.params) == 250
    assert len(store.get_metric_history(run_id, "m")) == 2500
    lg.shutdown()


def test_a_bad_entry_fails_alone(store_and_run):
    import logging

    store, run_id = store_and_run
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logging.getLogger("tracklet.batching").addHandler(handler)
    store.log_batch(run_id, [], [Param("fixed", "1")], [])
    gate = threading.Event()

    def log_batch(*a):
        gate.wait(10)
        store.log_batch(*a)

    lg = BatchingLogger(log_batch)
    ok1 = lg.submit(run_id, metrics=[Metric("a", 1.0, 0, 0)])
    bad = lg.submit(run_id, params=[Param("fixed", "2")])
    ok2 = lg.submit(run_id, metrics=[Metric("b", 1.0, 0, 0)])
    gate.set()
    lg.flush()
    assert ok1.exception() is None and ok2.exception() is None
    assert isinstance(bad.exception(), InvalidParameterValue)
    assert set(store.get_run(run_id).data.metrics) == {"a", "b"}
    logging.getLogger("tracklet.batching").removeHandler(handler)
    assert len(records) == 1 and "failed" in records[0].getMessage()
    lg.shutdown()


def test_submit_does_not_wait_for_a_blocked_store(store_and_run):
    store, run_id = store_and_run
    entered, release = threading.Event(), threading.Event()

    def blocked(*a):
        entered.set()
        release.wait(30)  # the store hangs until every submit below has returned
        store.log_batch(*a)

    lg = BatchingLogger(blocked)
    first = lg.submit(run_id, metrics=[Metric("m", 1.0, 0, 0)])
    assert entered.wait(30)
    futs = [lg.submit(run_id, metrics=[Metric("m", 1.0, 0, i)]) for i in range(1, 50)]
    assert not first.done() and not any(f.done() for f in futs)  # all returned while the store was blocked
    release.set()
    lg.flush()
    assert all(f.done() and f.exception() is None for f in [first, *futs])
    lg.shutdown()


def test_pending_entries_are_written_at_interpreter_exit(tmp_path):
    import subprocess
    import sys

    db = tmp_path / "exit.db"
    uri = f"sqlite:///{db}"
    code = (
        f"import tracklet; tracklet.set_tracking_uri({uri!r});"
        "r = tracklet.start_run();"
        "[tracklet.log_metric('m', float(i), step=i, synchronous=False) for i in range(500)];"
        "print(r.info.run_id)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    run_id = out.stdout.strip()
    hist = tracklet.MlflowClient(f"sqlite:///{db}").get_metric_history(run_id, "m")
    assert len(hist) == 500
