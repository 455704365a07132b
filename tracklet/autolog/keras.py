"""Keras / TensorFlow autologging: ``tracklet.keras.autolog()`` = ``tracklet.tensorflow.autolog()`` (or
``tracklet.autolog()``).

Patched: ``keras.Model.fit`` (Keras 3 on any backend; ``tf.keras`` is Keras 3 in TensorFlow >= 2.16),
``tf_keras.Model.fit`` when the legacy package is imported, and ``tf.summary.scalar`` calls (see
:mod:`tracklet.autolog.tensorflow_summary`). Per ``fit`` one run records:

* params: the ``fit()`` arguments (``epochs``, ``batch_size`` -- inferred from a ``tf.data.Dataset`` or a
  ``PyDataset`` when not given --, ``validation_split``, ``shuffle``, ``class_weight``, ``initial_epoch``,
  ``steps_per_epoch``, ``validation_steps``, ``validation_batch_size``, ``validation_freq``), the optimizer's
  config as ``optimizer_<key>`` (a learning-rate schedule as ``optimizer_learning_rate=<class>`` plus
  ``optimizer_learning_rate_<key>``), ``loss``, and an ``EarlyStopping``'s ``monitor``, ``min_delta``,
  ``patience``, ``baseline``, ``restore_best_weights``;
* metrics: Keras's epoch ``logs`` (``loss``, ``val_loss``, every compiled metric) at step = epoch, or per
  optimizer step with ``log_every_n_steps`` (see :mod:`tracklet.autolog.keras_callback`);
* early stopping, one convention with the boosting integrations: ``stopped_epoch`` (the last epoch that ran),
  ``restored_epoch`` (with ``restore_best_weights``) at step 0, and the restored epoch's metrics once more at
  step ``stopped_epoch + 1``, so each metric's latest value is that of the model you keep;
* artifacts: ``model_summary.txt``; the log dir of a ``TensorBoard`` callback as ``tensorboard_logs/``; the
  model (``model/``, keras flavor, ``.keras`` format); with ``checkpoint=True`` the best model so far during
  training (``checkpoints/``);
* datasets: numpy / pandas (the reference digest), ``tf.data``, ``PyDataset`` and generators (name, and a
  digest of their structure: their data is never read for it).

Steps are Keras's epoch numbers, so a ``fit(..., initial_epoch=n)`` that resumes training continues the axis;
a second autologged ``fit`` inside one of your runs logs to a child run (the kit's rule), so nothing is
overwritten.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
from dataclasses import dataclass

from tracklet.autolog import kit
from tracklet.autolog.keras_callback import Recorder, callback_class
from tracklet.autolog.patching import PatchHooks, safe_patch
from tracklet.exceptions import InvalidParameterValue
from tracklet.flavors import keras as flavor

INTEGRATION = "keras"
_FIT_PARAMS = (
    "epochs",
    "batch_size",
    "validation_split",
    "shuffle",
    "class_weight",
    "initial_epoch",
    "steps_per_epoch",
    "validation_steps",
    "validation_batch_size",
    "validation_freq",
)
_EARLY_STOPPING_PARAMS = ("monitor", "min_delta", "patience", "baseline", "restore_best_weights")


@dataclass(frozen=True)
class KerasOptions(kit.Options):
    """``tracklet.keras.autolog`` options beyond the shared ones."""

    log_every_epoch: bool = True
    log_every_n_steps: int | None = None
    checkpoint: bool = False
    checkpoint_monitor: str = "val_loss"
    checkpoint_mode: str = "min"
    checkpoint_save_best_only: bool = True
    checkpoint_save_weights_only: bool = False
    checkpoint_save_freq: str | int = "epoch"
    save_model_kwargs: dict | None = None
    keras_model_kwargs: dict | None = None
    registered_model_name: str | None = None

    def validate(self) -> None:
        n = self.log_every_n_steps
        if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
            raise InvalidParameterValue(f"log_every_n_steps must be None or a positive integer, got {n!r}")
        if self.checkpoint_mode not in ("min", "max"):
            raise InvalidParameterValue(f"checkpoint_mode must be 'min' or 'max', got {self.checkpoint_mode!r}")
        freq = self.checkpoint_save_freq
        if freq != "epoch" and (isinstance(freq, bool) or not isinstance(freq, int) or freq < 1):
            raise InvalidParameterValue(f"checkpoint_save_freq must be 'epoch' or a positive integer, got {freq!r}")
        for name in ("log_every_epoch", "checkpoint", "checkpoint_save_best_only", "checkpoint_save_weights_only"):
            if not isinstance(getattr(self, name), bool):
                raise InvalidParameterValue(f"{name} must be True or False, got {getattr(self, name)!r}")


autolog = kit.declare_autolog(
    INTEGRATION,
    KerasOptions,
    """Enable (or with ``disable=True`` revert) Keras / TensorFlow autologging.

    ``log_every_epoch``: log the epoch metrics at step = epoch (default). ``log_every_n_steps=N``: log the
    training metrics every N optimizer steps instead, at step = the optimizer's step count (validation
    metrics at each epoch end, on the same axis); it takes precedence over ``log_every_epoch``.
    ``checkpoint=True``: log the model during training (off by default: a model save per improved epoch),
    with ``checkpoint_monitor`` / ``checkpoint_mode`` (``min``/``max``) / ``checkpoint_save_best_only`` /
    ``checkpoint_save_weights_only`` / ``checkpoint_save_freq`` (``"epoch"`` or every N steps).
    ``save_model_kwargs`` (alias ``keras_model_kwargs``) go to ``model.save``.
    """,
)


def install(module, config) -> None:
    """Patch what ``module`` offers: ``keras`` / ``tf_keras`` (``Model.fit``), ``tensorboard.summary.v2``
    (``tf.summary.scalar`` calls)."""
    if module.__name__ == "tensorboard.summary.v2":
        from tracklet.autolog import tensorflow_summary

        tensorflow_summary.install(INTEGRATION, module)
    else:
        safe_patch(INTEGRATION, module.Model, "fit", FitHooks())


class FitHooks(PatchHooks):
    """``Model.fit``: params before training, our callback during it, early stopping, datasets, model after."""

    def before(self, call) -> None:
        model = call.instance
        keras = sys.modules[flavor.keras_package_of(model)]
        opts = kit.options(call.config, KerasOptions)
        args = kit.arguments(call)
        callbacks = _as_list(args.get("callbacks"))
        kit.log_params(call, _params(model, args, keras, callbacks))
        kit.capture_example(call, args.get("x"))
        per_step = opts.log_every_n_steps is not None
        recorder = Recorder(
            call.logger,
            kit.IterationLog(call.logger) if opts.log_every_epoch and not per_step else None,
            kit.IterationLog(call.logger) if per_step else None,
            opts,
        )
        batch_checkpoints = opts.checkpoint and opts.checkpoint_save_freq != "epoch"
        ours = callback_class(keras.callbacks.Callback, per_step, batch_checkpoints)(recorder)
        call.state.update(recorder=recorder, args=args, callbacks=callbacks, keras=keras, options=opts)
        kit.set_argument(call, "callbacks", [*callbacks, ours])

    def after(self, call, history) -> None:
        recorder: Recorder = call.state["recorder"]
        _finish(call)
        _early_stopping(call, recorder)
        _log_datasets(call, call.state["args"])
        opts: KerasOptions = call.state["options"]
        model = call.instance
        kwargs = {**(opts.keras_model_kwargs or {}), **(opts.save_model_kwargs or {})}
        kit.log_model(
            call,
            flavor.log_model,
            model,
            predict=lambda example: flavor.predict_eager(model, example),
            save_model_kwargs=kwargs or None,
            registered_model_name=opts.registered_model_name,
        )
        kit.raise_callback_error({"errors": recorder.errors})

    def on_error(self, call, exc) -> None:
        _finish(call)


def _finish(call) -> None:
    """Hand over the epochs that ran and upload the TensorBoard logs (also when training raised)."""
    recorder: Recorder = call.state["recorder"]
    for log in (recorder.epoch_log, recorder.step_log):
        if log is not None:
            log.finish()
    keras = call.state["keras"]
    for cb in call.state["callbacks"]:
        if isinstance(cb, keras.callbacks.TensorBoard) and getattr(cb, "log_dir", None):
            if os.path.isdir(cb.log_dir):
                call.logger.client.log_artifacts(call.run_id, cb.log_dir, "tensorboard_logs")


def _as_list(callbacks) -> list:
    if callbacks is None:
        return []
    inner = getattr(callbacks, "callbacks", None)  # a CallbackList
    return list(inner if isinstance(inner, list) else callbacks)


def _params(model, args: dict, keras, callbacks: list) -> dict:
    params = {k: args.get(k) for k in _FIT_PARAMS}
    if params["class_weight"] is not None:
        params["class_weight"] = str(params["class_weight"])
    if params["batch_size"] is None:
        params["batch_size"] = _batch_size(args.get("x"), keras)
    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None:
        for key, value in optimizer.get_config().items():
            if isinstance(value, dict) and "class_name" in value:  # a learning-rate schedule
                params[f"optimizer_{key}"] = value["class_name"]
                params.update({f"optimizer_{key}_{k}": v for k, v in (value.get("config") or {}).items()})
            else:
                params[f"optimizer_{key}"] = value
        # Keras numbers default names per process ("adam", "adam_1", ...): log the stable one, keep a user's own name
        default = type(optimizer).__name__.lower()
        if re.fullmatch(rf"{re.escape(default)}(_\d+)?", str(params.get("optimizer_name", ""))):
            params["optimizer_name"] = default
    params["loss"] = _name_of(getattr(model, "loss", None))
    for cb in callbacks:
        if isinstance(cb, keras.callbacks.EarlyStopping):
            params.update({k: getattr(cb, k, None) for k in _EARLY_STOPPING_PARAMS})
            break
    return params


def _name_of(obj):
    if obj is None or isinstance(obj, str):
        return obj
    if isinstance(obj, dict):
        return str({k: _name_of(v) for k, v in obj.items()})
    if isinstance(obj, (list, tuple)):
        return str([_name_of(v) for v in obj])
    return getattr(obj, "name", None) or getattr(obj, "__name__", None) or type(obj).__name__


def _batch_size(x, keras):
    """The batch size Keras will use when ``fit`` got none: a dataset's own, else Keras's default of 32."""
    if x is None:
        return None
    if type(x).__module__.startswith("tensorflow"):  # tf.data: the nearest batch() up the pipeline
        ds = x
        for _ in range(16):
            size = getattr(ds, "_batch_size", None)
            if size is not None:
                return int(size)
            ds = getattr(ds, "_input_dataset", None)
            if ds is None:
                return None
        return None
    pydataset = getattr(keras.utils, "PyDataset", None) or getattr(keras.utils, "Sequence", None)
    if pydataset is not None and isinstance(x, pydataset):
        first = x[0]
        features = first[0] if isinstance(first, tuple) else first
        if isinstance(features, dict):
            features = next(iter(features.values()))
        return len(features)
    if hasattr(x, "__next__"):  # a generator: the batch size is whatever it yields
        return None
    return 32


def _early_stopping(call, recorder: Recorder) -> None:
    keras = call.state["keras"]
    stopper = next((c for c in call.state["callbacks"] if isinstance(c, keras.callbacks.EarlyStopping)), None)
    if stopper is None or not recorder.epochs:
        return
    last = max(recorder.epochs)
    metrics = {"stopped_epoch": last}
    restored = None
    # Keras 3 restores the best weights at the end of training; tf_keras only when it stopped early
    stopped = keras.__name__ == "keras" or getattr(stopper, "stopped_epoch", 0) > 0
    if stopper.restore_best_weights and getattr(stopper, "best_weights", None) is not None and stopped:
        restored = int(getattr(stopper, "best_epoch", 0))
        metrics["restored_epoch"] = restored
    call.logger.log_metrics(metrics, step=0)
    if restored is not None and recorder.epoch_log is not None and recorder.epochs.get(restored):
        call.logger.log_metrics(recorder.epochs[restored], step=last + 1)


# ----------------------------------------------------------------------------------------------- datasets
def _log_datasets(call, args: dict) -> None:
    if not call.config.log_datasets:
        return
    inputs = [_dataset(args.get("x"), args.get("y"), "train")]
    validation = args.get("validation_data")
    if isinstance(validation, (tuple, list)):
        inputs.append(_dataset(validation[0], validation[1] if len(validation) > 1 else None, "eval"))
    elif validation is not None:
        inputs.append(_dataset(validation, None, "eval"))
    kit.log_datasets(call, inputs)


def _dataset(x, y, context: str):
    """numpy / pandas through the kit (the reference digest); a ``tf.data.Dataset``, ``PyDataset`` or
    generator by name, with a digest of its structure (element spec, length) -- its data is not read."""
    if x is None:
        return None
    entry = kit.dataset_input(x, y, context)
    if entry is not None:
        return entry
    from tracklet.autolog.datasets import DATASET_CONTEXT_TAG
    from tracklet.tracking.entities import Dataset, DatasetInput, RunTag

    kind = type(x)
    profile: dict = {}
    if kind.__module__.startswith("tensorflow") and hasattr(x, "element_spec"):
        name, structure = "tf.data.Dataset", repr(x.element_spec)
        profile["cardinality"] = int(x.cardinality())
    elif hasattr(x, "__next__"):
        name, structure = "generator", getattr(x, "__qualname__", kind.__qualname__)
    else:
        name, structure = kind.__name__, f"{kind.__module__}.{kind.__qualname__}"
        if hasattr(x, "__len__"):
            profile["num_batches"] = len(x)
    digest = hashlib.md5(f"{structure}|{json.dumps(profile)}".encode(), usedforsecurity=False).hexdigest()[:8]
    dataset = Dataset(name, digest, "code", "{}", None, json.dumps(profile))
    return DatasetInput(dataset, (RunTag(DATASET_CONTEXT_TAG, context),))
