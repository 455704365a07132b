"""Post-fit recording finished off the training thread.

What an autologged fit records once training is over (scikit-learn: training metrics from a predict pass,
plots, ``estimator.html``, search child runs, the model, datasets) can be handed to one background worker
thread per process, so the user's ``fit`` returns when training is done. :mod:`.patching` submits the steps an
integration's ``after`` deferred (``patching.defer``), followed by the flush of the run's logging and the end of
the run the fit created; the run is never FINISHED without what the fit records.

Guarantees:

* one daemon worker, started on the first task; tasks run one at a time, in submission order, each in the
  fit's ``contextvars`` context (copied while the patched call was current, so the predictions a task makes
  are not tracked as the user's own);
* read-your-writes: :func:`wait_all` is a barrier of the tracking layer (``batching.add_barrier``): every
  flush, ``get_run``, ``search_runs``, artifact listing/download and ``runs:/`` model load waits for pending
  tasks first (one integer check when none is pending). A patched call on an estimator instance waits for
  that instance's task (:func:`wait_for`), so a ``warm_start`` refit can't change a model being measured;
* interpreter exit waits for pending tasks, with no time limit (the fit would have done this work itself),
  before the batching logger writes what they queued; one stderr line when that takes over a second;
* ``os.fork()`` waits for pending tasks first (a child never inherits a lock held by a task in flight), and the
  child starts with no worker and no task;
* a task reports its own failures (``session.report_error``); in strict mode (tests) the exception is kept
  and raised at the next wait point of any thread: a flush, a read, the next autologged fit, ``end_run``;
* ``TRACKLET_AUTOLOG_DEFER_POST_FIT=false`` turns this off: the same steps run inside ``fit``.

Trade-off: a process killed (SIGKILL, ``os._exit``) right after ``fit`` returned may leave the run RUNNING
without its post-fit records. The training data (``X``, ``y``) is referenced, not copied: changing it in place
right after ``fit`` may change the training metrics.
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import contextvars
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator

from tracklet import env

DEFER_POST_FIT = "AUTOLOG_DEFER_POST_FIT"  # TRACKLET_AUTOLOG_DEFER_POST_FIT=false: record inside fit
_SLOW_EXIT = 1.0  # seconds of exit drain after which one line tells the user why the process is still there


class _Task:
    __slots__ = ("fn", "context", "owner", "done")

    def __init__(self, fn: Callable[[], None], context: contextvars.Context, owner):
        self.fn = fn
        self.context = context
        self.owner = owner
        self.done = False


_cond = threading.Condition()  # guards everything below; notified when a task arrives or finishes
_queue: collections.deque = collections.deque()
_pending = 0  # tasks submitted and not finished (read without the lock as the fast path)
_owners: dict[int, _Task] = {}  # id(owner) -> its latest task
_errors: list[BaseException] = []  # strict mode: task failures to raise at the next wait point
_worker: threading.Thread | None = None
_hooks_installed = False
_own_steps: contextvars.ContextVar[bool] = contextvars.ContextVar("tracklet_post_fit_own_steps", default=False)


def enabled() -> bool:
    """Whether post-fit recording is deferred (``TRACKLET_AUTOLOG_DEFER_POST_FIT``, default true)."""
    return env.get_bool(DEFER_POST_FIT, True)


def pending() -> int:
    """The number of tasks submitted and not finished."""
    return _pending


def submit(fn: Callable[[], None], owner=None, context: contextvars.Context | None = None) -> None:
    """Run ``fn()`` on the worker, in ``context`` (default: a copy of the caller's). ``owner`` (an estimator):
    a later :func:`wait_for` on it waits for this task."""
    global _pending
    task = _Task(fn, context if context is not None else contextvars.copy_context(), owner)
    _install_hooks()
    with _cond:
        _pending += 1
        if owner is not None:
            _owners[id(owner)] = task
        _queue.append(task)
        started = _start_worker()
        _cond.notify_all()
    if not started:  # no thread can start (interpreter shutdown): do it here, now
        _drain_here()


@contextlib.contextmanager
def own_steps() -> Iterator[None]:
    """Autologging's own steps of a fit (``before``, ``after``, the final flush): they read and flush only their
    own run, so the barrier does not make them wait for other fits' tasks."""
    token = _own_steps.set(True)
    try:
        yield
    finally:
        _own_steps.reset(token)


def wait_all() -> None:
    """Block until every submitted task has finished; raise a failure a task kept (strict mode). A no-op on the
    worker (a task's own flush or read: earlier tasks are done) and inside :func:`own_steps`."""
    if not _pending and not _errors:
        return
    if threading.current_thread() is _worker or _own_steps.get():
        return
    with _cond:
        _cond.wait_for(lambda: not _pending)
    _raise_kept()


def wait_for(owner) -> None:
    """Block until ``owner``'s task (if any) has finished; raise a failure a task kept (strict mode)."""
    if not _pending and not _errors:
        return
    if threading.current_thread() is _worker:
        return
    with _cond:
        task = _owners.get(id(owner))
        if task is not None and task.owner is owner:
            _cond.wait_for(lambda: task.done)
    _raise_kept()


def _raise_kept() -> None:
    if not _errors:
        return
    with _cond:
        if not _errors:
            return
        exc = _errors.pop(0)
    raise exc


# ---------------------------------------------------------------------- the worker


def _start_worker() -> bool:
    """Start the worker if there is none (called with ``_cond`` held); False if no thread can start."""
    global _worker
    if _worker is not None:
        return True
    thread = threading.Thread(target=_work, name="tracklet-post-fit", daemon=True)
    try:
        thread.start()
    except RuntimeError:  # "can't create new thread at interpreter shutdown" (Python 3.12.0-3.12.3)
        return False
    _worker = thread
    return True


def _work() -> None:
    while True:
        with _cond:
            _cond.wait_for(lambda: _queue)
            task = _queue.popleft()
        _run(task)


def _run(task: _Task) -> None:
    global _pending
    try:
        task.context.run(task.fn)
    except BaseException as exc:  # noqa: BLE001 - a task must never kill the worker
        _failed(exc)
    finally:
        with _cond:
            task.done = True
            _pending -= 1
            if task.owner is not None and _owners.get(id(task.owner)) is task:
                del _owners[id(task.owner)]
            task.fn = task.context = task.owner = None  # the estimator, the data: released now
            _cond.notify_all()


def _failed(exc: BaseException) -> None:
    if env.autolog_strict():
        with _cond:
            _errors.append(exc)
        return
    from tracklet.autolog import session

    session.warn_once(
        ("autolog", "post-fit"),
        f"tracklet: autologging could not finish recording a fit ({type(exc).__name__}: {exc}); "
        "training is not affected",
    )


def _drain_here() -> None:
    """Run the queued tasks in this thread (no worker could start)."""
    while True:
        with _cond:
            if not _queue:
                return
            task = _queue.popleft()
        _run(task)


# ---------------------------------------------------------------------- exit and fork


def _install_hooks() -> None:
    global _hooks_installed
    # re-registered at every submit so the drain runs before the exit handlers of whatever store the run
    # uses (atexit runs them last-registered first): the batching logger's and the offline spool's
    atexit.unregister(_drain_at_exit)
    atexit.register(_drain_at_exit)
    if _hooks_installed:
        return
    _hooks_installed = True
    from tracklet.tracking import batching

    batching.add_barrier(wait_all)
    if hasattr(os, "register_at_fork"):
        os.register_at_fork(before=_before_fork, after_in_child=_reset_in_child)


def _drain_at_exit() -> None:
    """At interpreter exit: finish what is pending, however long it takes (the fit would have done it)."""
    if not _pending:
        return
    start = time.monotonic()
    if _worker is None or not _worker.is_alive():
        _drain_here()
    told = False
    with _cond:
        while _pending:
            if not told and time.monotonic() - start > _SLOW_EXIT:
                print("tracklet: finishing the autologged fit's records before exiting...", file=sys.stderr)
                told = True
            _cond.wait(0.25)
    _errors.clear()  # nobody is left to raise them to; report_error already warned outside strict mode


def _before_fork() -> None:
    if _pending and threading.current_thread() is not _worker:
        with _cond:
            _cond.wait_for(lambda: not _pending)


def _reset_in_child() -> None:
    """The child has no worker thread: forget the parent's tasks (they are the parent's to finish)."""
    global _cond, _worker, _pending
    _cond = threading.Condition()
    _queue.clear()
    _owners.clear()
    _errors.clear()
    _pending = 0
    _worker = None
