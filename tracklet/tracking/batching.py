"""The batching logger: the training thread only enqueues; a background thread writes.

``BatchingLogger.submit(run_id, metrics, params, tags)`` returns a future at once. A daemon thread drains
the queue, merges consecutive entries of the same run into ``log_batch`` calls within the store's limits
(1000 metrics / 100 params / 100 tags / 1000 entities), and resolves each entry's future. If a merged
batch is rejected, its entries are retried one by one so only the faulty entry fails. ``flush()`` blocks
until everything submitted before it is written; ``end_run``, ``tracklet.flush_async_logging()`` and
interpreter exit call it. Errors are set on the future and logged as a warning, never silently dropped.
"""

from __future__ import annotations

import atexit
import queue
import threading
import weakref
from collections.abc import Callable
from concurrent.futures import Future

from tracklet import env
from tracklet._logging import get_logger
from tracklet.tracking import validation as V

_log = get_logger("tracklet.batching")


class RunOperations(Future):
    """Future of one asynchronous logging call. ``wait()`` blocks and raises the logging error if any."""

    def wait(self, timeout: float | None = None):
        return self.result(timeout)


class _Entry:
    __slots__ = ("run_id", "metrics", "params", "tags", "future")

    def __init__(self, run_id, metrics, params, tags, future):
        self.run_id, self.metrics, self.params, self.tags, self.future = run_id, metrics, params, tags, future


class _FlushMarker:
    __slots__ = ("event",)

    def __init__(self):
        self.event = threading.Event()


_STOP = object()
_loggers: weakref.WeakSet = weakref.WeakSet()


class BatchingLogger:
    """Queue + background writer in front of ``log_batch(run_id, metrics, params, tags)``."""

    def __init__(self, log_batch: Callable, flush_interval: float | None = None, name: str = "tracklet-logger"):
        self._log_batch = log_batch
        self._interval = env.get_float(env.ASYNC_FLUSH_INTERVAL, 0.0) if flush_interval is None else flush_interval
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._name = name
        self._pending = 0
        _loggers.add(self)

    # ---------------------------------------------------------------- producer side
    def submit(self, run_id: str, metrics=(), params=(), tags=()) -> RunOperations:
        """Enqueue entities for ``run_id``; returns immediately with a future."""
        fut = RunOperations()
        self._ensure_thread()
        self._queue.put(_Entry(run_id, list(metrics), list(params), list(tags), fut))
        return fut

    def flush(self, timeout: float | None = None) -> None:
        """Block until every entry submitted before this call has been written (or failed)."""
        if self._thread is None or not self._thread.is_alive():
            return
        marker = _FlushMarker()
        self._queue.put(marker)
        marker.event.wait(timeout)

    def shutdown(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            self.flush()
            self._queue.put(_STOP)
            self._thread.join(timeout=30)
        self._thread = None

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            with self._start_lock:
                if self._thread is None or not self._thread.is_alive():
                    self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                    self._thread.start()

    # ---------------------------------------------------------------- consumer side
    def _run(self) -> None:
        import time

        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            items = [item]
            if self._interval and isinstance(item, _Entry):
                time.sleep(self._interval)
            while True:
                try:
                    items.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            stop = False
            entries: list[_Entry] = []
            for it in items:
                if it is _STOP:
                    stop = True
                elif isinstance(it, _FlushMarker):
                    self._write(entries)
                    entries = []
                    it.event.set()
                else:
                    entries.append(it)
            self._write(entries)
            if stop:
                return

    def _write(self, entries: list[_Entry]) -> None:
        for group in _merge(entries):
            try:
                self._send(group)
                for e in group:
                    e.future.set_result(None)
            except BaseException as exc:  # noqa: BLE001 - must never kill the writer thread
                if len(group) > 1:
                    for e in group:  # isolate the faulty entry
                        try:
                            self._send([e])
                            e.future.set_result(None)
                        except BaseException as exc2:  # noqa: BLE001
                            self._fail(e, exc2)
                else:
                    self._fail(group[0], exc)

    def _send(self, group: list[_Entry]) -> None:
        run_id = group[0].run_id
        metrics = [m for e in group for m in e.metrics]
        params = list({p.key: p for e in group for p in e.params}.values())
        tags = list({t.key: t for e in group for t in e.tags}.values())
        # one entry may itself exceed the limits: split, keeping order
        while metrics or params or tags:
            p, params = params[: V.MAX_PARAMS_PER_BATCH], params[V.MAX_PARAMS_PER_BATCH :]
            t, tags = tags[: V.MAX_TAGS_PER_BATCH], tags[V.MAX_TAGS_PER_BATCH :]
            room = V.MAX_ENTITIES_PER_BATCH - len(p) - len(t)
            m, metrics = metrics[:room], metrics[room:]
            self._log_batch(run_id, m, p, t)

    @staticmethod
    def _fail(entry: _Entry, exc: BaseException) -> None:
        _log.warning("Asynchronous logging to run %s failed: %s", entry.run_id, exc)
        entry.future.set_exception(exc)


def _merge(entries: list[_Entry]) -> list[list[_Entry]]:
    """Group consecutive entries of one run while the merged batch stays within the limits and
    no param key would appear twice with different values."""
    groups: list[list[_Entry]] = []
    cur: list[_Entry] = []
    n_m = n_p = n_t = 0
    params: dict[str, str] = {}
    for e in entries:
        conflict = any(params.get(p.key, p.value) != p.value for p in e.params)
        fits = (
            cur
            and cur[0].run_id == e.run_id
            and not conflict
            and n_m + len(e.metrics) <= V.MAX_METRICS_PER_BATCH
            and n_p + len(e.params) <= V.MAX_PARAMS_PER_BATCH
            and n_t + len(e.tags) <= V.MAX_TAGS_PER_BATCH
            and n_m + n_p + n_t + len(e.metrics) + len(e.params) + len(e.tags) <= V.MAX_ENTITIES_PER_BATCH
        )
        if not fits:
            if cur:
                groups.append(cur)
            cur, n_m, n_p, n_t, params = [], 0, 0, 0, {}
        cur.append(e)
        n_m += len(e.metrics)
        n_p += len(e.params)
        n_t += len(e.tags)
        params.update((p.key, p.value) for p in e.params)
    if cur:
        groups.append(cur)
    return groups


def flush_all() -> None:
    """Drain every batching logger in the process."""
    for lg in list(_loggers):
        lg.flush()


@atexit.register
def _drain_at_exit() -> None:
    for lg in list(_loggers):
        try:
            lg.flush(timeout=60)
        except Exception:
            pass
