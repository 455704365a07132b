"""The per-run batch journal that makes a file-store batch all or nothing, even after kill -9.

A batch touches many files (one per param, tag and metric key, sometimes meta.yaml). Under the run's lock,
the writer first writes the whole batch -- params, tags, each metric key's new lines with the size its
file had before them, meta.yaml changes -- to ``<experiment>/.batch-<run_id>``, then applies it, then
removes the journal. A journal is a file MLflow's reader never looks at (it lists folders only), so the
``mlruns`` layout is unchanged.

After a crash the journal is either incomplete (the crash came before the batch was applied at all:
it is dropped) or complete (:func:`recover` applies it again: metric files are cut back to their
recorded sizes before the lines are appended, params and tags are rewritten, so a batch applied in part
ends up applied exactly once). Readers and writers call :func:`recover` under the run's lock the next
time they open the run. A batch that fails in-process (disk full, ...) is rolled back instead, and
raises: the caller may retry it without duplicating anything.
"""

from __future__ import annotations

import json
import os

from tracklet.tracking.stores import file_io as fio

PREFIX = ".batch-"
METRICS, PARAMS, TAGS = "metrics", "params", "tags"
_APPEND = os.O_WRONLY | os.O_APPEND | os.O_CREAT


def path_of(run_dir: str) -> str:
    """``<experiment>/.batch-<run_id>``: beside the run folder, so a search sees it in the listing it makes."""
    head, run_id = os.path.split(run_dir)
    return os.path.join(head, PREFIX + run_id)


class Batch:
    """What one batch writes: ``params``/``tags`` ``{key: value}``, ``metrics`` ``{key: (size before, lines)}``,
    ``meta`` (meta.yaml changes), ``new`` (param/tag paths known not to exist) and ``old_tags`` (previous
    values of the tags it overwrites, for an in-process rollback)."""

    __slots__ = ("params", "tags", "metrics", "meta", "new", "old_tags")

    def __init__(self, params=None, tags=None, metrics=None, meta=None):
        self.params: dict[str, str] = params or {}
        self.tags: dict[str, str] = tags or {}
        self.metrics: dict[str, tuple[int, str]] = metrics or {}
        self.meta: dict = meta or {}
        self.new: set[str] = set()
        self.old_tags: dict[str, bytes] = {}

    def encode(self) -> bytes:
        body = {"params": self.params, "tags": self.tags, "metrics": self.metrics, "meta": self.meta}
        return json.dumps(body, separators=(",", ":")).encode("utf-8") + b"\n"

    @classmethod
    def decode(cls, data: bytes) -> Batch | None:
        """The batch of a journal, or None when the journal is incomplete (its writer died writing it)."""
        if not data.endswith(b"\n"):
            return None
        try:
            body = json.loads(data)
            metrics = {k: (int(v[0]), str(v[1])) for k, v in body["metrics"].items()}
            return cls(dict(body["params"]), dict(body["tags"]), metrics, dict(body["meta"]))
        except (ValueError, KeyError, TypeError, IndexError, AttributeError):
            return None


def commit(layout, run_dir: str, batch: Batch) -> None:
    """Write ``batch`` to the run (its lock held, nothing pending): journal, apply, drop the journal.
    On an error the files are put back as they were and the error is raised."""
    journal = path_of(run_dir)
    fio.write_new(journal, batch.encode())
    undo: list = []
    try:
        _apply(layout, run_dir, batch, undo)
    except BaseException:
        try:
            _roll_back(run_dir, undo)
        finally:
            for action, path, *_ in undo:  # a reader may have cached what is now gone
                if action == "appended":
                    layout.latest.forget(path)
                elif action == "created":
                    layout.params.forget_prefix(path)
            os.unlink(journal)
        raise
    os.unlink(journal)


def recover(layout, run_dir: str) -> None:
    """Complete the batch a crashed writer left in the run's journal, if any; call with the run's lock held."""
    journal = path_of(run_dir)
    try:
        data = fio.read_bytes(journal)
    except FileNotFoundError:
        return
    batch = Batch.decode(data)
    if batch is not None:
        _apply(layout, run_dir, batch, None)
    os.unlink(journal)


def _apply(layout, run_dir: str, batch: Batch, undo: list | None) -> None:
    """Write the batch's files; ``undo`` collects how to put each back (None: replaying a journal)."""
    for sub, values in ((PARAMS, batch.params), (TAGS, batch.tags)):
        base = os.path.join(run_dir, sub)
        for key, value in values.items():
            path = fio.key_path(base, key)
            data = value.encode("utf-8")
            if undo is None:
                fio.atomic_write(path, data, run_dir)
            elif path in batch.new:
                undo.append(("created", path))
                fio.create_file(path, data, run_dir)
            else:
                undo.append(("replaced", path, batch.old_tags.get(key, b"")))
                fio.atomic_write(path, data, run_dir)
    base = os.path.join(run_dir, METRICS)
    for key, (size, lines) in batch.metrics.items():
        path = fio.key_path(base, key)
        try:
            fd = os.open(path, _APPEND, 0o666)
        except FileNotFoundError:
            if not os.path.isdir(run_dir):
                raise
            os.makedirs(os.path.dirname(path), exist_ok=True)
            fd = os.open(path, _APPEND, 0o666)
        try:
            if undo is not None:
                undo.append(("appended", path, size))
            elif os.fstat(fd).st_size > size:
                os.ftruncate(fd, size)  # lines of this batch written before the crash: write them once
            fio.write_all(fd, lines.encode("ascii"))
        finally:
            os.close(fd)
    if batch.meta:
        layout.rewrite_run_meta(run_dir, **batch.meta)


def _roll_back(run_dir: str, undo: list) -> None:
    for action, path, *rest in reversed(undo):
        try:
            if action == "created":
                os.unlink(path)
            elif action == "replaced":
                fio.atomic_write(path, rest[0], run_dir)
            elif rest[0] == 0:
                os.unlink(path)
            else:
                os.truncate(path, rest[0])
        except FileNotFoundError:
            pass
