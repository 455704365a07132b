"""The file store after a crash: a batch is all or nothing whatever instant the writer is killed at, and a
batch that fails in-process leaves nothing behind (so a retry cannot duplicate points)."""

from __future__ import annotations

import errno
import os
import random
import subprocess
import sys
import time
import warnings

import pytest

from tracklet.exceptions import InvalidParameterValue
from tracklet.tracking.entities import Metric, Param, RunTag
from tracklet.tracking.stores import file_io, file_journal
from tracklet.tracking.stores.file import FileStore

T0 = 1_700_000_000_000
N_METRICS, N_PARAMS, N_TAGS = 40, 10, 5

# The writer: log batches i = start, start+1, ... until killed. Batch i logs step i of every metric key,
# params p<i>_<j> and the tags t<j> = i (the tags overwrite the previous batch's values).
WRITER = f"""
import sys
from tracklet.tracking.entities import Metric, Param, RunTag
from tracklet.tracking.stores.file import FileStore
store = FileStore(sys.argv[1])
run_id, i = sys.argv[2], int(sys.argv[3])
while True:
    store.log_batch(
        run_id,
        [Metric(f"m{{j}}", float(i), {T0} + i, i) for j in range({N_METRICS})],
        [Param(f"p{{i}}_{{j}}", "v" * (j * 500)) for j in range({N_PARAMS})],
        [RunTag(f"t{{j}}", str(i)) for j in range({N_TAGS})],
    )
    if i % 10_000 == 0:
        print("ready", flush=True)  # one batch is in: the kill comes later, at a random instant
    i += 1
"""


def _applied_batches(store: FileStore, run_id: str) -> list[int]:
    """The batches that are in the run, asserting each is there whole (or not at all)."""
    run = store.get_run(run_id)
    params = run.data.params
    batches = sorted({int(key[1:].split("_")[0]) for key in params})
    for i in batches:
        for j in range(N_PARAMS):
            assert params.get(f"p{i}_{j}") == "v" * (j * 500), f"batch {i}: param {j} missing or partial"
    for j in range(N_METRICS):
        steps = [m.step for m in store.get_metric_history(run_id, f"m{j}")]
        assert steps == batches, f"metric m{j} has steps {steps[-5:]}, the params say batches {batches[-5:]}"
    if batches:
        assert {run.data.tags[f"t{j}"] for j in range(N_TAGS)} == {str(batches[-1])}
        assert run.data.metrics == {f"m{j}": float(batches[-1]) for j in range(N_METRICS)}
    return batches


def test_kill_9_at_random_instants_leaves_every_batch_whole_or_absent(tmp_path):
    root = str(tmp_path / "mlruns")
    store = FileStore(root)
    run_id = store.create_run("0", "u", T0, [], "crash").info.run_id
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in [os.getcwd(), *sys.path] if p))
    batches: list[int] = []
    for attempt in range(6):
        start = attempt * 10_000
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, root, run_id, str(start)], stdout=subprocess.PIPE, env=env
        )
        try:
            assert proc.stdout.readline() == b"ready\n"
            time.sleep(rng.uniform(0.02, 0.3))
        finally:
            proc.kill()  # SIGKILL: no cleanup, no atexit, wherever the writer is
            proc.wait()
            proc.stdout.close()
        # a new store (a new process would be the same): it completes what the writer left
        now = _applied_batches(FileStore(root), run_id)
        assert now[: len(batches)] == batches, f"seed {seed}: earlier batches changed"
        assert all(b >= start for b in now[len(batches) :]), f"seed {seed}"
        batches = now
    assert len(batches) >= 6, f"seed {seed}: the writer hardly wrote anything"
    for j in range(N_METRICS):  # what MLflow reads: whole lines, one per batch
        text = (tmp_path / "mlruns" / "0" / run_id / "metrics" / f"m{j}").read_text()
        assert text.endswith("\n") and len(text.splitlines()) == len(batches)
    assert not [n for n in os.listdir(os.path.join(root, "0")) if n.startswith(file_journal.PREFIX)]


def test_journal_left_by_a_crash_is_completed_by_the_next_reader(tmp_path):
    """Deterministic: the state a kill between 'journal written' and 'batch applied' leaves behind."""
    root = tmp_path / "mlruns"
    store = FileStore(str(root))
    run_id = store.create_run("0", "u", T0, [], "r").info.run_id
    store.log_batch(run_id, [Metric("m", 1.0, T0, 0)], [], [RunTag("t", "old")])
    run_dir = root / "0" / run_id
    batch = file_journal.Batch(
        params={"p": "v"},
        tags={"t": "new"},
        metrics={"m": ((run_dir / "metrics" / "m").stat().st_size, f"{T0} 2.0 1\n")},
    )
    (root / "0" / (file_journal.PREFIX + run_id)).write_bytes(batch.encode())
    with open(run_dir / "metrics" / "m", "a") as f:
        f.write(f"{T0} 2.0 1\n{T0} 2.")  # the batch had been half applied: one line and a half
    for read in (
        lambda s: s.get_run(run_id),
        lambda s: s.get_metric_history(run_id, "m"),
        lambda s: s.search_runs(["0"], None, 1, 10, None, None),
        lambda s: s.log_batch(run_id, [], [], [RunTag("other", "x")]),
    ):
        (root / "0" / (file_journal.PREFIX + run_id)).write_bytes(batch.encode())
        fresh = FileStore(str(root))
        read(fresh)
        assert not (root / "0" / (file_journal.PREFIX + run_id)).exists()
        assert (run_dir / "metrics" / "m").read_text() == f"{T0} 1.0 0\n{T0} 2.0 1\n"
        run = fresh.get_run(run_id)
        assert run.data.params == {"p": "v"} and run.data.tags["t"] == "new"


def test_incomplete_journal_is_dropped(tmp_path):
    """A writer killed while writing its journal had not touched the run yet: the journal is discarded."""
    root = tmp_path / "mlruns"
    store = FileStore(str(root))
    run_id = store.create_run("0", "u", T0, [], "r").info.run_id
    data = file_journal.Batch(params={"p": "v"}).encode()
    (root / "0" / (file_journal.PREFIX + run_id)).write_bytes(data[:-5])
    assert store.get_run(run_id).data.params == {}
    assert not (root / "0" / (file_journal.PREFIX + run_id)).exists()
    store.log_param(run_id, Param("p", "other"))  # the run is writable as usual
    assert store.get_run(run_id).data.params == {"p": "other"}


def test_a_batch_failing_half_way_is_rolled_back_and_a_retry_logs_once(tmp_path, monkeypatch):
    """Disk full on the Nth write: nothing of the batch stays, so the async logger's retry of its entries
    cannot log a point twice."""
    root = tmp_path / "mlruns"
    store = FileStore(str(root))
    run_id = store.create_run("0", "u", T0, [], "r").info.run_id
    store.log_batch(run_id, [Metric("a", 1.0, T0, 0)], [Param("old", "1")], [RunTag("t", "old")])
    run_dir = root / "0" / run_id
    before = {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()}
    batch = (
        [Metric("a", 2.0, T0, 1), Metric("b", 2.0, T0, 1), Metric("c/d", 2.0, T0, 1)],
        [Param("new", "x"), Param("n/ested", "y")],
        [RunTag("t", "new"), RunTag("t2", "z")],
    )
    real_write_all = file_io.write_all
    for fail_at in range(1, 9):  # journal, params, tags, metrics: fail at each in turn
        calls = []

        def failing_write_all(fd, data, fail_at=fail_at, calls=calls):
            calls.append(1)
            if len(calls) == fail_at:
                raise OSError(errno.ENOSPC, "No space left on device")
            real_write_all(fd, data)

        monkeypatch.setattr(file_io, "write_all", failing_write_all)
        with pytest.raises(OSError, match="No space"):
            store.log_batch(run_id, *batch)
        monkeypatch.setattr(file_io, "write_all", real_write_all)
        after = {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file()}
        assert after == before, f"failing at write {fail_at} left {set(after.items()) ^ set(before.items())}"
        assert not (root / "0" / (file_journal.PREFIX + run_id)).exists()
    store.log_batch(run_id, *batch)
    assert [m.value for m in store.get_metric_history(run_id, "a")] == [1.0, 2.0]
    assert store.get_run(run_id).data.params == {"old": "1", "new": "x", "n/ested": "y"}


def test_a_batch_rejected_for_a_file_name_appends_nothing(tmp_path):
    store = FileStore(str(tmp_path / "mlruns"))
    run_id = store.create_run("0", "u", T0, [], "r").info.run_id
    with pytest.raises(InvalidParameterValue, match="255 bytes"):
        store.log_batch(run_id, [Metric("ok", 1.0, T0, 0), Metric("é" * 250, 1.0, T0, 0)], [], [])
    assert store.get_metric_history(run_id, "ok") == []
    store.log_batch(run_id, [Metric("ok", 1.0, T0, 0)], [], [])  # the retry of the valid entry
    assert len(store.get_metric_history(run_id, "ok")) == 1


def test_mlflow_reads_a_store_with_a_pending_journal(tmp_path, monkeypatch):
    """The journal is a file beside the run folders: MLflow's reader, which lists folders, never sees it."""
    pytest.importorskip("mlflow")
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    from mlflow.tracking import MlflowClient

    root = tmp_path / "mlruns"
    store = FileStore(str(root))
    run_id = store.create_run("0", "u", T0, [], "r").info.run_id
    store.log_batch(run_id, [Metric("m", 1.0, T0, 0)], [Param("p", "v")], [])
    (root / "0" / (file_journal.PREFIX + run_id)).write_bytes(file_journal.Batch(params={"q": "w"}).encode())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # MLflow's own deprecation warnings
        client = MlflowClient(tracking_uri=root.as_uri())
        assert [r.info.run_id for r in client.search_runs(["0"])] == [run_id]
        assert client.get_run(run_id).data.params == {"p": "v"}
    assert store.get_run(run_id).data.params == {"p": "v", "q": "w"}  # tracklet completes the batch
