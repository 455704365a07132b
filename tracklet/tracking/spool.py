"""The offline spool of a REST store: training never waits on, or dies from, an unreachable tracking server.

When a write to the server fails to connect (or the batching logger's buffer is full), the REST store hands
it to its :class:`Spool`: the write is appended to this process's journal (``tracking/spool_journal.py``) and
the call returns. From then on every write of the store goes to the journal, in order, until a background
thread has replayed all of it (``tracking/spool_replay.py``): it probes the server with backoff and, once it
answers, uploads the journal in order, merged into ``log-batch`` calls, and lets writes go direct again.

A run started while the server is unreachable gets a client-side id (32 hex digits, like a server id) and a
local stand-in that ``get_run`` answers; its files (artifacts, models) are written into the journal's folder
and uploaded with the run. When the server has created the run, calls made with the client-side id are sent
with the server's id.

At interpreter exit the spool waits up to ``TRACKLET_SPOOL_EXIT_TIMEOUT`` seconds (default 5; no wait once
the server is seen unreachable after exit began) and prints one line naming what is left for ``tracklet sync``.
``TRACKLET_SPOOL=false`` turns all of this off (connection errors raise, as before).
"""

from __future__ import annotations

import atexit
import collections
import dataclasses
import os
import sys
import threading
import time
import uuid
import weakref

from tracklet import env
from tracklet._logging import get_logger
from tracklet.tracking.entities import Run, RunData, RunInfo, RunStatus
from tracklet.tracking.spool_journal import Journal
from tracklet.tracking.spool_replay import Replayer, ReplayError, Unreachable, prepare_artifact_upload

_log = get_logger("tracklet.spool")
_spools: weakref.WeakSet = weakref.WeakSet()
_PROBE_MIN, _PROBE_MAX = 0.2, 5.0  # seconds between probes of an unreachable server (doubling)
_DRAIN_CHUNK = 5000  # records replayed per pass, so new records are picked up between passes
_CACHED_RUNS = 256
_MAX_IN_MEMORY = 2000  # spooled records kept in memory; the journal file holds all of them


def enabled() -> bool:
    """False when ``TRACKLET_SPOOL`` is set to a false value."""
    return env.get_bool("SPOOL", True)


def exit_timeout() -> float:
    """``TRACKLET_SPOOL_EXIT_TIMEOUT``: seconds the process waits at exit for the spool to drain (default 5)."""
    return max(0.0, env.get_float("SPOOL_EXIT_TIMEOUT", 5.0))


class Spool:
    """The journal, the pending records and the drain thread of one REST store in this process."""

    def __init__(self, store):
        self.store = store
        self.mapping: dict[str, str] = {}  # run id created offline -> the server's id
        self.local_runs: dict[str, Run] = {}  # runs created offline (stand-ins until mapped)
        self._seen: collections.OrderedDict[str, Run] = collections.OrderedDict()  # runs the server returned
        self._journal: Journal | None = None
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._pending: list[int] = []  # seqs of the records not handled yet, in order
        self._bodies: dict[int, dict] = {}  # their records, while few: the rest is read back from the journal
        self._begun: set[int] = set()
        self._seq = 0
        self._thread: threading.Thread | None = None
        self._artifact_runs: set[str] = set()  # runs whose files went to the journal's folder
        self._artifacts_recorded: set[str] = set()
        self._refused_warned: set[tuple[str, str]] = set()
        self._stalled = False  # the drain hit an error of ours: no more attempts in this process
        self.down = False  # the last attempt to reach the server failed
        self.active = False  # records are pending: writes go to the journal to keep their order
        _spools.add(self)

    # ------------------------------------------------------------------ producer side
    @property
    def journal(self) -> Journal:
        if self._journal is None:
            self._journal = Journal.create(self.store.uri)
            _log.info("tracking server %s unreachable: spooling to %s", self.store.uri, self._journal.path)
        return self._journal

    def add(self, record: dict, uncertain: bool = False, down: bool = False) -> None:
        """Append ``record`` (``op`` and its fields) to the journal; ``uncertain``: it may have reached the
        server already (it is reconciled before it is sent again); ``down``: the server just failed to answer."""
        with self._lock:
            journal = self.journal
            self._seq += 1
            record["seq"] = self._seq
            journal.append(record)
            if len(self._bodies) < _MAX_IN_MEMORY:
                self._bodies[self._seq] = record
            if uncertain:
                journal.mark("begin", self._seq, self._seq)
                self._begun.add(self._seq)
            self._pending.append(self._seq)
            self.active = True
            if down:
                self.down = True
            if self._thread is None and not self._stalled:
                self._thread = threading.Thread(target=self._drain, name="tracklet-spool", daemon=True)
                self._thread.start()

    def call(self, endpoint: str, body: dict, uncertain: bool = False, down: bool = False) -> None:
        """Spool one REST write (``body["run_id"]`` names the run as the caller knows it)."""
        self.add({"op": "call", "endpoint": endpoint, "run": body["run_id"], "body": body}, uncertain, down)

    def create_run(self, experiment_id, user_id, start_time, tags, run_name, down: bool = True) -> Run:
        """A run created offline: a client-side id now, the server's id when the journal is replayed."""
        run_id = uuid.uuid4().hex
        tag_pairs = [[t.key, "" if t.value is None else str(t.value)] for t in tags or []]
        record = {
            "op": "create_run",
            "run": run_id,
            "experiment_id": str(experiment_id),
            "user_id": user_id,
            "start_time": start_time,
            "tags": tag_pairs,
            "run_name": run_name,
        }
        self.add(record, down=down)
        info = RunInfo(
            run_id, str(experiment_id), user_id or "", RunStatus.RUNNING, start_time, None, "", run_name=run_name or ""
        )
        run = Run(info, RunData(tags=dict(tag_pairs)))
        self.local_runs[run_id] = run
        return self.offline_run(run_id)

    def remember(self, run: Run) -> Run:
        """Keep the latest copy of a run the server returned (answered by ``get_run`` while it is down)."""
        with self._lock:
            self._seen[run.info.run_id] = run
            self._seen.move_to_end(run.info.run_id)
            while len(self._seen) > _CACHED_RUNS:
                self._seen.popitem(last=False)
        return run

    def knows(self, run_id: str) -> bool:
        """True if :meth:`offline_run` can answer for ``run_id``."""
        return run_id in self.local_runs or self.mapping.get(run_id, run_id) in self._seen

    def offline_run(self, run_id: str) -> Run | None:
        """The stand-in ``get_run`` returns while ``run_id`` cannot be read from the server: its last known
        state, with the artifact URI pointing into the journal (files logged meanwhile are uploaded later)."""
        run = self.local_runs.get(run_id) or self._seen.get(self.mapping.get(run_id, run_id))
        if run is None:
            return None
        with self._lock:
            path = self.journal.artifact_dir(run_id)
            self._artifact_runs.add(run_id)
        os.makedirs(path, exist_ok=True)
        prepare_artifact_upload()
        info = dataclasses.replace(run.info, run_id=run_id, artifact_uri=path)
        return Run(info, run.data, run.inputs)

    def run_ending(self, run_id: str) -> None:
        """Before a run's terminal status is spooled: queue the upload of its spooled files."""
        if run_id in self._artifact_runs and run_id not in self._artifacts_recorded:
            self._artifacts_recorded.add(run_id)
            self.add({"op": "artifacts", "run": run_id})

    # ------------------------------------------------------------------ drain thread
    def _probe(self) -> bool:
        try:
            self.store.ping()
            return True
        except Exception:
            return False

    def _drain(self) -> None:
        delay = _PROBE_MIN
        replayer = Replayer(self.store, self._journal, self.mapping, self._begun, self._refused)
        while True:
            with self._lock:
                if not self._pending:
                    self.active = self.down = False
                    self._thread = None
                    self._changed.notify_all()
                    return
                head = self._records(self._pending[:_DRAIN_CHUNK])
            if self.down:
                if not self._probe():
                    delay = self._pause(delay)
                    continue
                self.down = False
            stalled = None
            try:
                done = replayer.run(head)
            except ReplayError as exc:
                done, stalled = exc.done, exc.cause
            except Unreachable as exc:
                done = exc.done
                self.down = True
            except Exception as exc:  # noqa: BLE001 - a bug must not kill the drain silently
                done, stalled = 0, exc
            with self._lock:
                for seq in self._pending[:done]:
                    self._bodies.pop(seq, None)
                del self._pending[:done]
                if stalled is not None:  # retrying would fail the same way: leave the rest to `tracklet sync`
                    self._stalled = True
                    self._thread = None
                self._changed.notify_all()
            if stalled is not None:
                _log.warning(
                    "offline spool: uploading failed (%s: %s); the rest stays in %s for `tracklet sync`",
                    type(stalled).__name__,
                    stalled,
                    self._journal.path,
                )
                return
            if done:  # progress: the next outage starts probing quickly again
                delay = _PROBE_MIN
            elif self.down:  # no progress (unreachable, or answering 5xx): back off before trying again
                delay = self._pause(delay)

    def _pause(self, delay: float) -> float:
        """Wait ``delay`` seconds (waking waiters first); the next delay, doubled up to the maximum."""
        with self._changed:
            self._changed.notify_all()
            self._changed.wait(delay)
        return min(delay * 2, _PROBE_MAX)

    def _records(self, seqs: list[int]) -> list[dict]:
        """The records of ``seqs`` (called with the lock held), read back from the journal when not in memory."""
        if all(s in self._bodies for s in seqs):
            return [self._bodies[s] for s in seqs]
        by_seq = {r["seq"]: r for r in self._journal.read().records}
        return [self._bodies.get(s) or by_seq[s] for s in seqs]

    def _refused(self, record: dict, exc: BaseException) -> None:
        key = (record.get("run", ""), type(exc).__name__)
        if key not in self._refused_warned:
            self._refused_warned.add(key)
            _log.warning(
                "offline spool: the server refused a spooled %s for run %s: %s (recorded in %s)",
                record.get("endpoint", record["op"]),
                record.get("run"),
                exc,
                self._journal.path,
            )

    # ------------------------------------------------------------------ waiting and exit
    def wait(self, timeout: float | None = None, give_up_when_down: bool = False) -> bool:
        """Block until every spooled record is handled (True), ``timeout`` seconds pass, or -- with
        ``give_up_when_down`` -- the server is found unreachable (False)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._changed:
            while self._pending:
                if self._thread is None:  # stalled: nobody is sending
                    return False
                if give_up_when_down and self.down and self._thread is not None:
                    self._changed.release()
                    try:
                        reachable = self._probe()
                    finally:
                        self._changed.acquire()
                    if not reachable:
                        return False
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._changed.wait(0.5 if remaining is None else min(remaining, 0.5))
        return True

    def pending_summary(self) -> tuple[int, list[str]]:
        """How many records are unsent, and the runs they belong to."""
        with self._lock:
            records = self._records(list(self._pending)) if self._pending else []
        runs = list(dict.fromkeys(r["run"] for r in records))
        return len(records), runs

    def finish(self, timeout: float) -> None:
        """At exit: spool the files of runs still open, wait for the drain, then report or clean up."""
        for run_id in list(self._artifact_runs):
            self.run_ending(run_id)
        self.wait(timeout, give_up_when_down=True)
        count, runs = self.pending_summary()
        journal = self._journal
        if journal is None:
            return
        if count:
            names = ", ".join(f"{r} (created offline)" if r in self.local_runs else r for r in runs[:5])
            more = f" and {len(runs) - 5} more" if len(runs) > 5 else ""
            print(
                f"tracklet: {count} logging entr{'y' if count == 1 else 'ies'} for {len(runs)} run"
                f"{'' if len(runs) == 1 else 's'} ({names}{more}) could not be sent to {self.store.uri}; kept in "
                f"{journal.path} -- run `tracklet sync` to upload them",
                file=sys.stderr,
                flush=True,
            )
            journal.close()
            return
        for local, remote in self.mapping.items():
            if local in self.local_runs:
                _log.info("run %s created offline is run %s on %s", local, remote, self.store.uri)
        journal.remove()


@atexit.register
def _finish_at_exit() -> None:
    spools = [s for s in list(_spools) if s._journal is not None]
    if not spools:
        return
    from tracklet.tracking import batching

    deadline = time.monotonic() + exit_timeout()
    for lg in list(batching._loggers):
        try:
            lg.flush(timeout=max(0.1, deadline - time.monotonic()))
        except Exception:
            pass
    for spool in spools:
        try:
            spool.finish(max(0.0, deadline - time.monotonic()))
        except Exception as exc:  # noqa: BLE001 - never a traceback at exit
            print(f"tracklet: offline spool: {type(exc).__name__}: {exc}", file=sys.stderr)
