"""The offline spool's journal format and the batching logger's memory bound (no server needed; the end-to-end
tests with real servers are tests/server/test_offline*.py)."""

from __future__ import annotations

import threading

from tracklet.tracking.batching import BatchingLogger
from tracklet.tracking.entities import Metric
from tracklet.tracking.spool_journal import Journal, list_journals


def _journal(tmp_path, n=3) -> Journal:
    journal = Journal.create("http://127.0.0.1:1", str(tmp_path))
    for seq in range(1, n + 1):
        journal.append({"seq": seq, "op": "call", "endpoint": "runs/log-batch", "run": "r", "body": {"n": seq}})
    return journal


def test_journal_round_trip_and_state(tmp_path):
    journal = _journal(tmp_path, 5)
    journal.mark("begin", 1, 3)
    journal.mark("ack", 1, 2)
    journal.mark("fail", 4, "refused: bad key")
    journal.mark("map", "local", "remote")
    state = journal.read()
    assert [r["body"]["n"] for r in state.records] == [1, 2, 3, 4, 5]
    assert state.acked == {1, 2} and state.begun == {3} and state.failed == {4: "refused: bad key"}
    assert state.mapping == {"local": "remote"} and state.corrupt == []
    assert [r["seq"] for r in state.pending()] == [3, 5]
    assert state.meta["tracking_uri"] == "http://127.0.0.1:1"
    journal.close()


def test_truncated_and_corrupt_lines_stop_the_reading_and_are_reported(tmp_path):
    journal = _journal(tmp_path, 3)
    journal.close()
    path = f"{journal.path}/journal.log"
    data = open(path, "rb").read()
    open(path, "wb").write(data[:-10])  # a torn last write
    state = journal.read()
    assert len(state.records) == 2 and "line 3: truncated" in state.corrupt[0]
    flipped = bytearray(data)
    flipped[12] ^= 0x20  # inside the first record's JSON
    open(path, "wb").write(bytes(flipped))
    state = journal.read()
    assert state.records == [] and "line 1: checksum mismatch" in state.corrupt[0]


def test_a_corrupt_state_log_makes_every_unacknowledged_record_uncertain(tmp_path):
    """Acks after a bad state line are unknown: those records must be reconciled with the server, not resent."""
    journal = _journal(tmp_path, 4)
    journal.mark("ack", 1, 1)
    journal.close()
    with open(f"{journal.path}/state.log", "ab") as f:
        f.write(b"deadbeef garbage\n")
    state = journal.read()
    assert state.corrupt and state.acked == {1}
    assert state.begun == {2, 3, 4}


def test_a_locked_journal_is_not_taken_by_a_second_uploader(tmp_path):
    owner = _journal(tmp_path)
    (other,) = list_journals(str(tmp_path))
    assert other.try_lock() is False  # the owning process holds it
    owner.close()
    assert other.try_lock() is True
    other.remove()
    assert list_journals(str(tmp_path)) == []


def test_batching_queue_is_bounded_and_spills_in_order_of_arrival():
    """The writer is held inside its first store call; submissions past the cap go to ``spill`` at once,
    the rest are written when the writer is released: every entry exactly once."""
    release, entered = threading.Event(), threading.Event()
    written, spilled = [], []

    def log_batch(run_id, metrics, params, tags):
        entered.set()
        release.wait(30)
        written.extend(m.step for m in metrics)

    def spill(run_id, metrics, params, tags):
        spilled.extend(m.step for m in metrics)

    logger = BatchingLogger(log_batch, spill=spill, max_queued=20)
    logger.submit("r", [Metric("m", 0.0, 0, 0)])
    assert entered.wait(30)
    ops = [logger.submit("r", [Metric("m", 0.0, 0, s)]) for s in range(1, 500)]
    assert logger.peak_queued <= 20
    assert spilled == list(range(21, 500))  # the queue held 1..20
    assert all(op.done() for op in ops[20:])
    release.set()
    logger.flush()
    assert sorted(written + spilled) == list(range(500))
    logger.shutdown()
