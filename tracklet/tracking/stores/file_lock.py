"""The lock that serializes file-store writers across threads (a striped lock) and processes (``flock``).

A lock is a file: ``<root>/.lock`` for experiment writes, ``<run>/.lock`` for one run's writes.
"""

from __future__ import annotations

import contextlib
import os
import threading

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: threads are still serialized, processes are not
    fcntl = None

LOCK_FILE = ".lock"

_N_STRIPES = 256
_stripes = [threading.RLock() for _ in range(_N_STRIPES)]


def _reinit_locks() -> None:  # a forked child must not inherit locks held by its parent's other threads
    global _stripes
    _stripes = [threading.RLock() for _ in range(_N_STRIPES)]


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reinit_locks)


def acquire(lock_path: str) -> tuple:
    """Take the exclusive lock on ``lock_path`` across threads (a striped lock) and processes (``flock``);
    returns the handle for :func:`release`. FileNotFoundError when the lock file's folder is gone.

    Never nest two acquisitions of the same path in one thread: ``flock`` through a second descriptor
    would wait for the first.
    """
    stripe = _stripes[hash(lock_path) % _N_STRIPES]
    stripe.acquire()
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o666)
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
            except BaseException:
                os.close(fd)
                raise
    except BaseException:
        stripe.release()
        raise
    return stripe, fd


def release(handle: tuple) -> None:
    stripe, fd = handle
    try:
        os.close(fd)  # closing the descriptor releases the flock
    finally:
        stripe.release()


@contextlib.contextmanager
def locked(lock_path: str):
    """``with locked(path):`` -- :func:`acquire` and :func:`release` around a block."""
    handle = acquire(lock_path)
    try:
        yield
    finally:
        release(handle)
