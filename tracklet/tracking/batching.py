"""The batching logger: the training thread only enqueues; a background thread writes.

``BatchingLogger.submit(run_id, metrics, params, tags)`` returns a :class:`RunOperations` handle at once. A
daemon thread drains the queue, merges consecutive entries of one run into ``log_batch`` calls within the
store's limits, and resolves each handle. ``flush()`` blocks until everything submitted before it is
written; ``end_run``, ``tracklet.flush_async_logging()`` and interpreter exit call it.

Guarantees:

* one logger per store: :func:`logger_for` creates it, :func:`close_logger` (called by the store registry
  when it closes the store) flushes and stops it. The writer thread also exits after a few idle seconds and
  is restarted by the next ``submit``, so a store that is no longer used holds no thread.
* nothing is lost silently: if the writer thread ever dies, every queued handle gets the exception and later
  calls write synchronously in the caller's thread.
* a failing store is warned about once per (run, kind of error); the number of further failures is
  reported at the next flush.
* bounded memory: a store that can spill (the REST store's offline spool) gets at most
  ``TRACKLET_ASYNC_MAX_QUEUED`` entries (default 10,000) queued in memory; past that, ``submit`` appends the
  entry to the spool's journal file instead (a few microseconds, never a wait on the server).
* no point is written twice: a merged batch is retried entry by entry only when the store *rejected* it as
  invalid (INVALID_PARAMETER_VALUE, raised before anything is written), to isolate the faulty entry. Any other
  error (I/O, database, an unknown run) fails every entry of that batch without a retry, because the store
  may have applied part of it.
"""

from __future__ import annotations

import atexit
import math
import os
import queue
import threading
import time
import weakref
from collections.abc import Callable

from tracklet import env
from tracklet._logging import get_logger
from tracklet.exceptions import INVALID_PARAMETER_VALUE, InvalidParameterValue, TrackletException
from tracklet.tracking import validation as V
from tracklet.tracking.entities import Metric
from tracklet.tracking.run_operations import RunOperations

_log = get_logger("tracklet.batching")

DEFAULT_MAX_QUEUED = 10_000  # entries held in memory before a spilling store takes them (TRACKLET_ASYNC_MAX_QUEUED)
MAX_FLUSH_INTERVAL = 10.0  # seconds; TRACKLET_ASYNC_FLUSH_INTERVAL above this is clamped (end_run waits it)
_IDLE_EXIT = 5.0  # seconds without work after which the writer thread exits


class _FlushMarker:
    __slots__ = ("event",)

    def __init__(self):
        self.event = threading.Event()


_STOP = object()
_loggers: weakref.WeakSet = weakref.WeakSet()


def flush_interval_from_env() -> float:
    """``TRACKLET_ASYNC_FLUSH_INTERVAL`` in seconds: 0 when unset; a value that is not a number between 0 and
    :data:`MAX_FLUSH_INTERVAL` is warned about and replaced by 0 (or clamped to the maximum)."""
    raw = env.get(env.ASYNC_FLUSH_INTERVAL)
    if raw is None:
        return 0.0
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if math.isfinite(value) and 0 <= value <= MAX_FLUSH_INTERVAL:
        return value
    fallback = MAX_FLUSH_INTERVAL if math.isfinite(value) and value > MAX_FLUSH_INTERVAL else 0.0
    _log.warning(
        "TRACKLET_ASYNC_FLUSH_INTERVAL=%r is not a number of seconds between 0 and %s; using %s",
        raw,
        MAX_FLUSH_INTERVAL,
        fallback,
    )
    return fallback


def _check_interval(value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= MAX_FLUSH_INTERVAL:
        raise InvalidParameterValue(
            f"Invalid flush_interval {value!r}: must be a number of seconds between 0 and {MAX_FLUSH_INTERVAL}"
        )
    return float(value)


class BatchingLogger:
    """Queue + background writer in front of ``log_batch(run_id, metrics, params, tags)``."""

    def __init__(
        self,
        log_batch: Callable,
        flush_interval: float | None = None,
        name: str = "tracklet-logger",
        spill: Callable | None = None,
        max_queued: int | None = None,
    ):
        self._log_batch = log_batch
        # spill(run_id, metrics, params, tags) takes an entry when the queue is full (it must not block)
        self._spill = spill
        self._max_queued = max(
            1, env.get_int("ASYNC_MAX_QUEUED", DEFAULT_MAX_QUEUED) if max_queued is None else max_queued
        )
        self.peak_queued = 0  # the most entries the queue held (only counted when ``spill`` is set)
        self.spilled = 0
        self._interval = flush_interval_from_env() if flush_interval is None else _check_interval(flush_interval)
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()  # starting/retiring the thread, failure counts
        self._written = threading.Condition()  # notified after every write, for RunOperations.wait
        self._name = name
        self._broken: BaseException | None = None  # set if the writer thread died: write synchronously
        self._inflight: list = []  # items the writer took off the queue and has not finished
        self._warned: set[tuple[str, str]] = set()
        self._unreported: dict[tuple[str, str], int] = {}
        _loggers.add(self)

    # ---------------------------------------------------------------- producer side
    def submit(self, run_id: str, metrics=(), params=(), tags=()) -> RunOperations:
        """Enqueue entities for ``run_id`` (sequences the caller no longer changes); returns at once."""
        return self._enqueue(RunOperations(run_id, metrics, params, tags, self))

    def submit_metric(self, run_id: str, key: str, value: float, timestamp: int, step: int) -> RunOperations:
        """``submit`` of one already validated metric, the training loop's call: the Metric entity is built by
        the writer thread, so the caller only allocates a tuple and the handle."""
        return self._enqueue(RunOperations(run_id, ((key, value, timestamp, step),), (), (), self))

    def _enqueue(self, op: RunOperations) -> RunOperations:
        if self._broken is not None:
            self._write([op])  # the writer thread is gone: write in the caller's thread
            return op
        if self._spill is not None:
            size = self._queue.qsize()
            if size >= self._max_queued and self._spill_entry(op):
                return op
            if size >= self.peak_queued:
                self.peak_queued = size + 1
        self._queue.put(op)
        if self._thread is None:
            self._start()
        return op

    def _spill_entry(self, op: RunOperations) -> bool:
        try:
            self._spill(op.run_id, _metrics(op.metrics), list(op.params), list(op.tags))
        except Exception:  # noqa: BLE001 - the spool is unavailable: queue in memory as before
            return False
        self.spilled += 1
        op._resolve(None)
        return True

    def flush(self, timeout: float | None = None) -> None:
        """Block until every entry submitted before this call has been written (or failed)."""
        if self._thread is None and self._queue.empty():
            return
        marker = _FlushMarker()
        self._queue.put(marker)
        if self._thread is None:  # the thread retired or died between the check and the put
            self._start()
        marker.event.wait(timeout)

    def shutdown(self) -> None:
        """Write everything queued and stop the writer thread (a later ``submit`` starts a new one)."""
        thread = self._thread
        if thread is not None:
            self._queue.put(_STOP)
            thread.join(timeout=60)

    def _reset_in_child(self) -> None:
        """After ``os.fork()``, in the child: the writer thread is the parent's (a flush would wait for it
        forever), and so is what was queued (the parent writes it)."""
        self._queue = queue.SimpleQueue()
        self._thread = None
        self._lock = threading.Lock()
        self._written = threading.Condition()
        self._inflight = []

    @property
    def thread(self) -> threading.Thread | None:
        """The writer thread while there is one (it exits when idle)."""
        return self._thread

    def _start(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            if self._broken is None:
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                try:
                    self._thread.start()
                    return
                except RuntimeError:  # no new threads at interpreter shutdown (Python 3.12+): write here
                    self._thread = None
        # no writer thread (it died, or none can start): write what is queued here, in the caller's thread
        items = []
        while True:
            try:
                items.append(self._queue.get_nowait())
            except queue.Empty:
                break
        self._process([it for it in items if it is not _STOP])

    def _retire(self) -> bool:
        """Let the idle thread exit unless work arrived meanwhile (the producer starts a new one if it saw None)."""
        with self._lock:
            self._thread = None
            if self._queue.empty():
                return True
            self._thread = threading.current_thread()
            return False

    def wait_written(self, op: RunOperations, timeout: float | None) -> bool:
        """Block until ``op`` is written or failed (False if ``timeout`` seconds passed first)."""
        with self._written:
            return self._written.wait_for(lambda: op._done, timeout)

    # ---------------------------------------------------------------- consumer side
    def _run(self) -> None:
        try:
            while True:
                try:
                    item = self._queue.get(timeout=_IDLE_EXIT)
                except queue.Empty:
                    self._report_failures()
                    if self._retire():
                        return
                    continue
                items = self._inflight = [item]
                if self._interval and type(item) is RunOperations:
                    self._gather(items)
                while True:
                    try:
                        items.append(self._queue.get_nowait())
                    except queue.Empty:
                        break
                if self._process(items):
                    return
                self._inflight = []
        except BaseException as exc:  # noqa: BLE001 - a bug here must not lose what was queued
            self._die(exc)

    def _gather(self, items: list) -> None:
        """Wait up to the flush interval for more entries to merge; a flush or stop ends the wait at once."""
        deadline = time.monotonic() + self._interval
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                item = self._queue.get(timeout=remaining)
            except queue.Empty:
                return
            items.append(item)
            if type(item) is not RunOperations:
                return

    def _process(self, items: list) -> bool:
        """Write ``items`` in order, releasing flush markers as they are reached; True if told to stop."""
        entries: list[RunOperations] = []
        stop = False
        for it in items:
            if type(it) is RunOperations:
                entries.append(it)
            elif it is _STOP:
                stop = True
            else:
                self._write(entries)
                entries = []
                self._report_failures()
                it.event.set()
        self._write(entries)
        if stop:
            self._report_failures()
            with self._lock:
                self._thread = None
                # anything submitted after the stop is written by a new thread
                if not self._queue.empty():
                    self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                    self._thread.start()
        return stop

    def _die(self, exc: BaseException) -> None:
        with self._lock:
            self._broken = exc
            self._thread = None
        _log.warning(
            "The asynchronous logging thread stopped (%s: %s); queued entries failed with that error and "
            "later asynchronous calls write synchronously",
            type(exc).__name__,
            exc,
        )
        pending = list(self._inflight)
        while True:
            try:
                pending.append(self._queue.get_nowait())
            except queue.Empty:
                break
        for it in pending:
            if type(it) is RunOperations:
                if not it._done:
                    it._resolve(exc)
            elif isinstance(it, _FlushMarker):
                it.event.set()
        self._notify()

    def _write(self, entries: list[RunOperations]) -> None:
        if not entries:
            return
        for group in _merge(entries):
            try:
                self._send(group)
            except Exception as exc:
                if len(group) > 1 and getattr(exc, "error_code", None) == INVALID_PARAMETER_VALUE:
                    for op in group:  # rejected before anything was written: isolate the faulty entry
                        try:
                            self._send([op])
                            op._resolve(None)
                        except Exception as exc2:
                            self._fail(op, exc2)
                else:
                    for op in group:
                        self._fail(op, exc)
            else:
                for op in group:
                    op._resolve(None)
        self._notify()

    def _notify(self) -> None:
        with self._written:
            self._written.notify_all()

    def _send(self, group: list[RunOperations]) -> None:
        run_id = group[0].run_id
        if len(group) == 1:
            metrics, params, tags = _metrics(group[0].metrics), list(group[0].params), list(group[0].tags)
        else:
            metrics = _metrics([m for e in group for m in e.metrics])
            params = list({p.key: p for e in group for p in e.params}.values())
            tags = list({t.key: t for e in group for t in e.tags}.values())
        # a merged group fits one call (see _merge); one entry may itself exceed the limits: split, keeping order
        while metrics or params or tags:
            p, params = params[: V.MAX_PARAMS_PER_BATCH], params[V.MAX_PARAMS_PER_BATCH :]
            t, tags = tags[: V.MAX_TAGS_PER_BATCH], tags[V.MAX_TAGS_PER_BATCH :]
            room = V.MAX_ENTITIES_PER_BATCH - len(p) - len(t)
            m, metrics = metrics[:room], metrics[room:]
            self._log_batch(run_id, m, p, t)

    def _fail(self, op: RunOperations, exc: BaseException) -> None:
        op._resolve(exc)
        kind = exc.error_code if isinstance(exc, TrackletException) else type(exc).__name__
        key = (op.run_id, kind)
        with self._lock:
            first = key not in self._warned
            if first:
                self._warned.add(key)
            else:
                self._unreported[key] = self._unreported.get(key, 0) + 1
        if first:
            _log.warning(
                "Asynchronous logging to run %s failed: %s (further %s failures for this run are counted, "
                "not repeated)",
                op.run_id,
                exc,
                kind,
            )

    def _report_failures(self) -> None:
        with self._lock:
            counts, self._unreported = self._unreported, {}
        for (run_id, kind), n in counts.items():
            _log.warning("%d more asynchronous logging calls to run %s failed with %s", n, run_id, kind)


def _metrics(items) -> list[Metric]:
    """Metric entities of an entry's metrics (``submit_metric`` queues plain tuples)."""
    return [Metric(*m) if type(m) is tuple else m for m in items]


def _merge(entries: list[RunOperations]) -> list[list[RunOperations]]:
    """Group consecutive entries of one run while the merged batch stays within the limits (so a group of
    several entries is one ``log_batch`` call) and no param key would appear twice with different values."""
    groups: list[list[RunOperations]] = []
    cur: list[RunOperations] = []
    n_m = n_p = n_t = 0
    params: dict[str, str] = {}
    for e in entries:
        em, ep, et = len(e.metrics), len(e.params), len(e.tags)
        fits = (
            cur
            and cur[0].run_id == e.run_id
            and n_m + em <= V.MAX_METRICS_PER_BATCH
            and n_p + ep <= V.MAX_PARAMS_PER_BATCH
            and n_t + et <= V.MAX_TAGS_PER_BATCH
            and n_m + n_p + n_t + em + ep + et <= V.MAX_ENTITIES_PER_BATCH
            and not (ep and any(params.get(p.key, p.value) != p.value for p in e.params))
        )
        if not fits:
            if cur:
                groups.append(cur)
            cur, n_m, n_p, n_t, params = [], 0, 0, 0, {}
        cur.append(e)
        n_m += em
        n_p += ep
        n_t += et
        if ep:
            params.update((p.key, p.value) for p in e.params)
    if cur:
        groups.append(cur)
    return groups


# ---------------------------------------------------------------------- one logger per store
_by_store: dict[int, tuple[object, BatchingLogger]] = {}
_by_store_lock = threading.Lock()


def logger_for(store, create: bool = True) -> BatchingLogger | None:
    """The batching logger of ``store`` (created on first use, writing through ``store.log_batch``)."""
    found = _by_store.get(id(store))
    if found is not None and found[0] is store:
        return found[1]
    if not create:
        return None
    with _by_store_lock:
        found = _by_store.get(id(store))
        if found is None or found[0] is not store:
            logger = BatchingLogger(store.log_batch, spill=getattr(store, "spill_batch", None))
            found = _by_store[id(store)] = (store, logger)
    return found[1]


def close_logger(store) -> None:
    """Write what ``store``'s logger holds, stop its thread and forget it (the store is being closed)."""
    with _by_store_lock:
        found = _by_store.get(id(store))
        if found is None or found[0] is not store:
            return
        del _by_store[id(store)]
    found[1].shutdown()


# callables that block until work queued elsewhere, which will log, is done (autolog's deferred post-fit
# recording registers one): every flush and every read of tracking data through the client calls them first
_barriers: list[Callable[[], None]] = []


def add_barrier(wait: Callable[[], None]) -> None:
    """Register ``wait``: called (in the reading thread) before every flush and every read through the client,
    so what is queued upstream of the batching logger is logged before anything reads the run."""
    if wait not in _barriers:
        _barriers.append(wait)


def wait_for_barriers() -> None:
    """Call the registered barriers (nothing when none is registered)."""
    for wait in _barriers:
        wait()


def flush_all() -> None:
    """Drain every batching logger in the process (after the barriers: their work logs too)."""
    wait_for_barriers()
    for lg in list(_loggers):
        lg.flush()


def _reset_loggers_in_child() -> None:
    for lg in list(_loggers):
        lg._reset_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_loggers_in_child)


@atexit.register
def _drain_at_exit() -> None:
    for lg in list(_loggers):
        try:
            lg.flush(timeout=60)
        except Exception:
            pass
