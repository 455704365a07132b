"""The handle ``log_metric(..., synchronous=False)`` and the other asynchronous logging calls return.

It is also the batching logger's queue entry, so submitting allocates one object.
"""

from __future__ import annotations


class RunOperations:
    """Handle of one asynchronous logging call (the queue entry itself, so submitting allocates one object).

    ``wait()`` blocks until it is written and raises the logging error, if any; ``done()``, ``result()`` and
    ``exception()`` behave as on a ``concurrent.futures.Future``.
    """

    __slots__ = ("run_id", "metrics", "params", "tags", "_owner", "_done", "_exc")

    def __init__(self, run_id, metrics, params, tags, owner):
        self.run_id, self.metrics, self.params, self.tags, self._owner = run_id, metrics, params, tags, owner
        self._done = False
        self._exc: BaseException | None = None

    def done(self) -> bool:
        return self._done

    def exception(self, timeout: float | None = None) -> BaseException | None:
        """The logging error (None if written); waits up to ``timeout`` seconds (TimeoutError after)."""
        if not self._done and not self._owner.wait_written(self, timeout):
            raise TimeoutError(f"asynchronous logging to run {self.run_id} not written within {timeout} s")
        return self._exc

    def wait(self, timeout: float | None = None) -> None:
        """Block until written; raise the logging error if there was one."""
        exc = self.exception(timeout)
        if exc is not None:
            raise exc

    result = wait

    def _resolve(self, exc: BaseException | None) -> None:
        self._exc = exc
        self._done = True
