"""Training against a tracking server that goes away: the offline spool and ``tracklet sync``, end to end.

Real processes and sockets only: ``python -m tracklet server`` on 127.0.0.1 (SIGKILLed and restarted on the
same port and database), training scripts in their own processes, ``tracklet sync`` as a command.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from collections import Counter

import pytest

pytest.importorskip("uvicorn")

from tracklet.tracking.client import TrackletClient  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def base_env(tmp_path, url: str, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRACKLET_", "MLFLOW_"))}
    env.update(
        PYTHONPATH=os.pathsep.join(p for p in (REPO, os.environ.get("PYTHONPATH")) if p),
        TRACKLET_TRACKING_URI=url,
        TRACKLET_SPOOL_DIR=str(tmp_path / "spool"),
        TRACKLET_AUTOLOG_STRICT="1",
    )
    env.update({k: str(v) for k, v in extra.items()})
    return env


class Server:
    """``python -m tracklet server`` in a subprocess on a fixed port and SQLite file (restartable)."""

    def __init__(self, tmp_path, port: int | None = None):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.db = f"sqlite:///{tmp_path / 'server.db'}"
        self.artifacts = str(tmp_path / "mlartifacts")
        self.log = open(tmp_path / "server.log", "ab")  # noqa: SIM115 - closed in stop()
        self.proc: subprocess.Popen | None = None

    def start(self) -> Server:
        args = [sys.executable, "-m", "tracklet", "server", "--backend-store-uri", self.db]
        args += ["--artifacts-destination", self.artifacts, "--port", str(self.port)]
        env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKLET_")}
        env["PYTHONPATH"] = os.pathsep.join(p for p in (REPO, os.environ.get("PYTHONPATH")) if p)
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=self.log, env=env)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}")
            try:
                urllib.request.urlopen(self.url + "/health", timeout=2).read()
                return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("server did not become healthy")

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(30)
        self.log.close()


@pytest.fixture
def server(tmp_path):
    srv = Server(tmp_path)
    yield srv
    srv.stop()


def run_script(tmp_path, code: str, env: dict, **kw) -> subprocess.CompletedProcess:
    path = tmp_path / "train.py"
    path.write_text(textwrap.dedent(code))
    return subprocess.run([sys.executable, str(path)], env=env, capture_output=True, text=True, timeout=600, **kw)


def sync(tmp_path, *args, url: str | None = None) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "tracklet", "sync", "--spool-dir", str(tmp_path / "spool"), *args]
    if url:
        cmd += ["--tracking-uri", url]
    env = base_env(tmp_path, url or "http://127.0.0.1:1")
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)


def step_counts(url: str, run_id: str, key: str) -> Counter:
    return Counter(m.step for m in TrackletClient(url).get_metric_history(run_id, key))


def the_run(url: str):
    runs = TrackletClient(url).search_runs(["0"])
    assert len(runs) == 1, [r.info.run_id for r in runs]
    return runs[0]


def journals(tmp_path) -> list[str]:
    spool = tmp_path / "spool"
    return sorted(os.listdir(spool)) if spool.exists() else []


HANDSHAKE = """
import os, time
def handshake(name):
    open(os.path.join(os.environ["MARKERS"], name), "w").close()
    while not os.path.exists(os.path.join(os.environ["MARKERS"], name + ".go")):
        time.sleep(0.01)
"""


def serve_handshakes(tmp_path, proc: subprocess.Popen, actions: dict) -> None:
    """Run ``actions[name]()`` when the training script reaches ``handshake(name)``, then let it go on."""
    markers = tmp_path / "markers"
    for name, action in actions.items():
        while not (markers / name).exists():
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.02)
        action()
        (markers / (name + ".go")).touch()


MANUAL_LOOP = (
    HANDSHAKE
    + """
import tracklet
with tracklet.start_run() as run:
    tracklet.log_params({"lr": 0.1, "layers": 3})
    for step in range(300):
        if step in (100, 200):
            handshake(f"at{step}")
        tracklet.log_metric("loss", 1 / (step + 1), step=step, synchronous=False)
        tracklet.log_metrics({"acc": step / 300, "aux": 0.5}, step=step, synchronous=False)
        if step % 50 == 0:
            tracklet.log_metric("sync_metric", step, step=step)  # synchronous calls are spooled too
    tracklet.log_dict({"a": 1}, "config/params.json")
print(run.info.run_id)
"""
)


def test_server_killed_and_restarted_mid_training_every_point_exactly_once(tmp_path, server):
    server.start()
    (tmp_path / "markers").mkdir()
    env = base_env(tmp_path, server.url, MARKERS=tmp_path / "markers", TRACKLET_SPOOL_EXIT_TIMEOUT=120)
    (tmp_path / "train.py").write_text(MANUAL_LOOP)
    proc = subprocess.Popen(
        [sys.executable, str(tmp_path / "train.py")], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    serve_handshakes(tmp_path, proc, {"at100": server.kill, "at200": server.start})
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    assert "spooling to" in err  # the server was unreachable for a while...
    assert "tracklet sync" not in err  # ...and the spool drained before exit: nothing left behind
    run = the_run(server.url)
    assert run.info.run_id == out.strip()  # created while the server was up: same id
    assert run.info.status == "FINISHED"
    assert run.data.params == {"lr": "0.1", "layers": "3"}
    for key in ("loss", "acc", "aux"):
        assert step_counts(server.url, run.info.run_id, key) == Counter(range(300)), key
    assert step_counts(server.url, run.info.run_id, "sync_metric") == Counter(range(0, 300, 50))
    assert [f.path for f in TrackletClient(server.url).list_artifacts(run.info.run_id, "config")] == [
        "config/params.json"
    ]
    assert journals(tmp_path) == []


DOWN_RUN = """
import tracklet
with tracklet.start_run(run_name="offline-run") as run:
    tracklet.log_params({"lr": 0.1})
    for step in range(500):
        tracklet.log_metric("loss", 1 / (step + 1), step=step, synchronous=False)
    tracklet.set_tag("phase", "done")
    tracklet.log_text("hello", "notes/a.txt")
print(run.info.run_id)
"""


def test_server_down_for_the_whole_run_then_sync_uploads_exactly_once(tmp_path, server):
    env = base_env(tmp_path, server.url)
    result = run_script(tmp_path, DOWN_RUN, env)
    assert result.returncode == 0, result.stderr
    local_id = result.stdout.strip()
    lines = [line for line in result.stderr.splitlines() if line.startswith("tracklet:")]
    assert len(lines) == 1, result.stderr
    assert "for 1 run" in lines[0] and local_id in lines[0] and "tracklet sync" in lines[0]
    assert len(journals(tmp_path)) == 1

    dry = sync(tmp_path, "--dry-run")
    assert dry.returncode == 0 and "entries to upload" in dry.stdout and local_id in dry.stdout
    down = sync(tmp_path)  # still unreachable: reported, nothing lost
    assert down.returncode == 1 and "unreachable" in down.stdout and "Traceback" not in down.stderr

    server.start()
    first = sync(tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    run = the_run(server.url)
    assert f"run {local_id} (created offline) is run {run.info.run_id}" in first.stdout
    assert run.info.run_name == "offline-run" and run.info.status == "FINISHED"
    assert run.data.params == {"lr": "0.1"} and run.data.tags["phase"] == "done"
    assert run.data.tags["tracklet.offline.runId"] == local_id
    assert step_counts(server.url, run.info.run_id, "loss") == Counter(range(500))
    assert [f.path for f in TrackletClient(server.url).list_artifacts(run.info.run_id, "notes")] == ["notes/a.txt"]
    assert journals(tmp_path) == []
    second = sync(tmp_path)  # idempotent: nothing left to send
    assert second.returncode == 0 and "nothing to sync" in second.stdout
    assert step_counts(server.url, run.info.run_id, "loss") == Counter(range(500))


def _spool_offline(tmp_path, server) -> str:
    result = run_script(tmp_path, DOWN_RUN, base_env(tmp_path, server.url))
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_replay_after_a_crash_between_send_and_ack_sends_nothing_twice(tmp_path, server):
    """A sync that died after the server applied its requests but before it wrote the acks: the journal says
    'begin' with no 'ack' for every entry. The next sync finds the run by its offline id and the points on
    the server, and sends only what is missing."""
    import shutil

    _spool_offline(tmp_path, server)
    (name,) = journals(tmp_path)
    backup = tmp_path / "backup"
    shutil.copytree(tmp_path / "spool" / name, backup)
    server.start()
    assert sync(tmp_path).returncode == 0
    run = the_run(server.url)
    # put back the journal as the crashed sync left it: every record begun, none acknowledged
    shutil.copytree(backup, tmp_path / "spool" / name)
    from tracklet.tracking.spool_journal import Journal

    journal = Journal(str(tmp_path / "spool" / name))
    records = journal.read().records
    journal.mark("begin", records[0]["seq"], records[-1]["seq"])
    journal.close()
    again = sync(tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr
    assert the_run(server.url).info.run_id == run.info.run_id  # not created a second time
    assert step_counts(server.url, run.info.run_id, "loss") == Counter(range(500))


def test_training_process_killed_mid_spool_then_sync(tmp_path, server):
    """SIGKILL of the training process while it spools: every entry written to the journal before the kill
    is uploaded once; nothing is duplicated."""
    code = (
        HANDSHAKE
        + """
import tracklet
with tracklet.start_run() as run:
    for step in range(1_000_000):
        tracklet.log_metric("loss", float(step), step=step, synchronous=False)
        if step == 2000:
            tracklet.flush_async_logging()  # steps 0..2000 are in the journal now
            handshake("journaled")
"""
    )
    (tmp_path / "markers").mkdir()
    (tmp_path / "train.py").write_text(code)
    env = base_env(tmp_path, server.url, MARKERS=tmp_path / "markers")
    proc = subprocess.Popen([sys.executable, str(tmp_path / "train.py")], env=env, stderr=subprocess.PIPE)
    serve_handshakes(tmp_path, proc, {"journaled": lambda: None})
    time.sleep(0.3)  # let it spool some more, then kill it mid-write
    proc.kill()
    proc.communicate()
    server.start()
    result = sync(tmp_path)
    assert "Traceback" not in result.stderr
    counts = step_counts(server.url, the_run(server.url).info.run_id, "loss")
    assert all(counts[s] == 1 for s in range(2001))  # acknowledged to the journal: arrived
    assert max(counts.values()) == 1  # and nothing twice
    # Not necessarily a prefix: past the queue cap, points spill to the journal while earlier ones still wait in
    # the in-memory queue, and SIGKILL loses that queue (README: "Offline / unreachable server").
    assert set(counts) <= set(range(1_000_000)) and len(counts) >= 2001


def test_corrupt_journal_tail_is_reported_and_the_rest_uploaded(tmp_path, server):
    _spool_offline(tmp_path, server)
    (name,) = journals(tmp_path)
    path = tmp_path / "spool" / name / "journal.log"
    lines = path.read_bytes().split(b"\n")[:-1]
    update = lines[-1]  # the run's FINISHED status, the last record
    path.write_bytes(b"\n".join(lines[:-1]) + b"\n" + update[: len(update) // 2])  # a torn last write
    server.start()
    result = sync(tmp_path)
    assert result.returncode == 1
    assert "corrupt journal: journal.log line" in result.stdout and "truncated" in result.stdout
    assert "Traceback" not in result.stderr
    run = the_run(server.url)
    assert step_counts(server.url, run.info.run_id, "loss") == Counter(range(500))
    assert run.info.status == "RUNNING"  # the torn record was not guessed at
    assert journals(tmp_path) == [name]  # kept for inspection
    # a flipped byte in the middle is caught by the checksum too
    data = bytearray(path.read_bytes())
    data[20] ^= 0x01
    path.write_bytes(bytes(data))
    again = sync(tmp_path)
    assert again.returncode == 1 and "checksum mismatch" in again.stdout


def test_two_concurrent_syncs_upload_once(tmp_path, server):
    _spool_offline(tmp_path, server)
    server.start()
    cmd = [sys.executable, "-m", "tracklet", "sync", "--spool-dir", str(tmp_path / "spool"), "--json"]
    env = base_env(tmp_path, server.url)
    procs = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    reports = [json.loads(p.communicate(timeout=300)[0] or "[]") for p in procs]
    statuses = sorted(r["status"] for rep in reports for r in rep)
    assert "synced" in statuses and set(statuses) <= {"synced", "locked"}
    assert step_counts(server.url, the_run(server.url).info.run_id, "loss") == Counter(range(500))
