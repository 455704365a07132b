"""The Keras callback autolog adds to ``fit``: per-epoch (or per-step) metrics, the model summary, checkpoints.

It only reads what Keras hands every callback (``logs`` values become Python floats with ``float()``, which
works for numpy, TensorFlow, JAX and PyTorch scalars), so it runs on any Keras 3 backend and on ``tf_keras``.
Errors are kept in ``errors`` instead of raised: tracking never stops training (the integration reports the
first one after ``fit`` returns).

Steps: epoch metrics are logged at step = epoch (0-based, as Keras counts it, so ``initial_epoch`` continues
the axis).
With ``log_every_n_steps=N`` the training metrics are logged every N optimizer steps at step = the optimizer's
step count, and the validation metrics at each epoch end on that same axis: one key, one axis.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import threading

_classes: dict = {}  # (Callback base class, per_step) -> our subclass of it


def floats(logs) -> dict[str, float]:
    """``logs`` as ``{name: float}``; values that are not scalars (a per-class metric) are left out."""
    out = {}
    for key, value in (logs or {}).items():
        try:
            out[str(key)] = float(value)
        except (TypeError, ValueError):
            continue
    return out


class Recorder:
    """What the callback does, apart from Keras's Callback plumbing (one per ``fit`` call)."""

    def __init__(self, logger, epoch_log, step_log, options):
        self.logger = logger
        self.epoch_log = epoch_log  # kit.IterationLog for per-epoch metrics, or None
        self.step_log = step_log  # kit.IterationLog for per-step metrics, or None
        self.epochs: dict[int, dict[str, float]] = {}  # every epoch's metrics by step (for early stopping)
        self.options = options
        self.errors: list[BaseException] = []
        self.every_n = options.log_every_n_steps
        self._lock = threading.Lock()  # Keras may run per-batch callbacks on a thread pool
        self._iterations0 = 0
        self._steps_before_epoch = 0
        self._seen = 0
        self._best: float | None = None
        self._summarized = False

    def guard(self, fn, *args) -> None:
        try:
            fn(*args)
        except Exception as exc:  # noqa: BLE001 - logging must never stop training
            self.errors.append(exc)

    # ------------------------------------------------------------------------------------------ events
    def train_begin(self, model) -> None:
        if self.every_n:
            self._iterations0 = int(model.optimizer.iterations.numpy())
        self.summarize(model)

    def summarize(self, model) -> None:
        """``model_summary.txt``, once the model is built (``tf_keras`` builds a model without an input shape
        on its first batch, after ``on_train_begin``)."""
        if self._summarized or not getattr(model, "built", True):
            return
        self._summarized = True
        lines: list[str] = []
        model.summary(print_fn=lambda line, *a, **k: lines.append(line))
        self.logger.log_text("\n".join(lines), "model_summary.txt")

    def batch_end(self, batch: int, logs) -> None:
        with self._lock:
            seen = self._steps_before_epoch + int(batch) + 1
            crossed = seen // self.every_n > self._seen // self.every_n
            self._seen = max(self._seen, seen)
        if crossed:
            metrics = floats(logs)
            with self._lock:
                self.step_log.record(self._iterations0 + seen, metrics)

    def epoch_end(self, model, epoch: int, logs) -> None:
        self.summarize(model)
        metrics = floats(logs)
        step = int(epoch)
        self.epochs[step] = metrics
        if self.epoch_log is not None:
            self.epoch_log.record(step, metrics)
        if self.step_log is not None:
            with self._lock:
                self._steps_before_epoch = self._seen
                val = {k: v for k, v in metrics.items() if k.startswith("val_")}
                if val:
                    self.step_log.record(self._iterations0 + self._seen, val)
        if self.options.checkpoint and self.options.checkpoint_save_freq == "epoch":
            self.checkpoint(model, metrics, f"epoch_{step}")

    def batch_checkpoint(self, model, batch: int, logs) -> None:
        seen = self._steps_before_epoch + int(batch) + 1
        if seen % int(self.options.checkpoint_save_freq) == 0:
            self.checkpoint(model, floats(logs), f"global_step_{self._iterations0 + seen}")

    # ------------------------------------------------------------------------------------- checkpoints
    def checkpoint(self, model, metrics: dict, label: str) -> None:
        """Save the model (or its weights) as a run artifact; with ``save_best_only`` only when the monitored
        value improved, as ``checkpoints/latest_checkpoint.*`` with its metrics in a JSON file beside it."""
        opts = self.options
        if opts.checkpoint_save_best_only:
            value = metrics.get(opts.checkpoint_monitor)
            if value is None or math.isnan(value):
                return
            better = self._best is None or (value < self._best if opts.checkpoint_mode == "min" else value > self._best)
            if not better:
                return
            self._best = value
        suffix = ".weights.h5" if opts.checkpoint_save_weights_only else ".keras"
        if opts.checkpoint_save_best_only:
            name, folder = "latest_checkpoint" + suffix, "checkpoints"
        else:
            name, folder = "checkpoint" + suffix, f"checkpoints/{label}"
        with tempfile.TemporaryDirectory(prefix="tracklet-ckpt-") as tmp:
            path = os.path.join(tmp, name)
            if opts.checkpoint_save_weights_only:
                model.save_weights(path)
            else:
                model.save(path)
            with open(os.path.join(tmp, name.split(".")[0] + "_metrics.json"), "w") as f:
                json.dump(metrics, f)
            for file in sorted(os.listdir(tmp)):
                self.logger.log_artifact_file(os.path.join(tmp, file), folder)


def callback_class(base: type, per_step: bool, batch_checkpoints: bool) -> type:
    """Our subclass of ``base`` (``keras.callbacks.Callback`` or ``tf_keras``'s). Batch hooks exist only when
    used: Keras dispatches batch callbacks asynchronously only when no callback overrides them."""
    key = (base, per_step, batch_checkpoints)
    cls = _classes.get(key)
    if cls is not None:
        return cls

    def __init__(self, recorder: Recorder):
        base.__init__(self)
        self.recorder = recorder

    def on_train_begin(self, logs=None):
        self.recorder.guard(self.recorder.train_begin, self.model)

    def on_epoch_end(self, epoch, logs=None):
        self.recorder.guard(self.recorder.epoch_end, self.model, epoch, logs)

    body = {"__init__": __init__, "on_train_begin": on_train_begin, "on_epoch_end": on_epoch_end}
    if per_step or batch_checkpoints:

        def on_train_batch_end(self, batch, logs=None):
            if per_step:
                self.recorder.guard(self.recorder.batch_end, batch, logs)
            if batch_checkpoints:
                self.recorder.guard(self.recorder.batch_checkpoint, self.model, batch, logs)

        body["on_train_batch_end"] = on_train_batch_end
        # per-step metrics only enqueue (thread-safe); a batch checkpoint saves the model: keep it in step
        body["async_safe"] = not batch_checkpoints
    cls = _classes[key] = type("TrackletCallback", (base,), body)
    return cls
