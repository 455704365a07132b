"""MXNet Gluon autologging: ``tracklet.gluon.autolog()`` (or ``tracklet.autolog()``).

Patched: ``mxnet.gluon.contrib.estimator.Estimator.fit``, by adding one event handler to the user's handlers
(their list is copied). A plain ``autograd.record`` + ``Trainer.step`` loop is not autologged. Per ``fit`` one
run records:

* params: ``num_layers`` (top-level blocks of the net), ``epochs`` or ``batches`` (whichever limit was given),
  ``optimizer_name``, ``learning_rate`` and the optimizer's other hyperparameters that are set (``epsilon``,
  ``wd``, ``momentum``, ...);
* metrics: every train and validation metric at each epoch's end (step = epoch, 0-based), named as MXNet
  names them (``training accuracy``, ``validation softmaxcrossentropyloss``) made valid keys;
* early stopping (an ``EarlyStoppingHandler`` that stopped training): ``stopped_epoch`` (0-based);
  with a ``CheckpointHandler(save_best=True)`` also ``best_epoch`` and the best epoch's metrics again one
  step past the last epoch (the other integrations' best-iteration convention);
* the model (``model/``, gluon flavor) for hybridizable nets, with its input example and signature.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from tracklet.autolog import kit
from tracklet.autolog.patching import PatchHooks, safe_patch
from tracklet.flavors import gluon as flavor

INTEGRATION = "gluon"
# optimizer attributes that are bookkeeping, not hyperparameters
_OPTIMIZER_SKIP = {"lr", "num_update", "begin_num_update", "idx2name", "param_dict", "param_idx2name", "sym_info"}


@dataclass(frozen=True)
class GluonOptions(kit.Options):
    """``tracklet.gluon.autolog`` has no options beyond the shared ones."""


autolog = kit.declare_autolog(
    INTEGRATION,
    GluonOptions,
    """Enable (or with ``disable=True`` revert) MXNet Gluon autologging of ``Estimator.fit``.""",
)


def install(module, config) -> None:
    """Install the patch once ``mxnet`` is imported."""
    from mxnet.gluon.contrib.estimator import Estimator

    safe_patch(INTEGRATION, Estimator, "fit", FitHooks())


def _optimizer_params(optimizer) -> dict:
    """The optimizer's class name and its set, simple hyperparameters (``None`` ones are left out)."""
    params = {"optimizer_name": type(optimizer).__name__}
    lr = getattr(optimizer, "learning_rate", getattr(optimizer, "lr", None))
    if lr is not None:
        params["learning_rate"] = lr
    for name, value in sorted(vars(optimizer).items()):
        if name.startswith("_") or name in _OPTIMIZER_SKIP or value is None:
            continue
        if isinstance(value, (bool, int, float, str)):
            params[name] = value
    return params


def _handler_class():
    """The event handler class, built on MXNet's handler bases (imported only once MXNet is)."""
    from mxnet.gluon.contrib.estimator.event_handler import EpochEnd, TrainBegin, TrainEnd

    class _TrackletHandler(TrainBegin, EpochEnd, TrainEnd):
        """Records each epoch's metrics; never raises (errors go to ``errors``, raised after training).

        No attribute name may contain "metric": the Estimator checks those against its own metrics.
        """

        priority = math.inf  # after the metric, validation and early-stopping handlers of each epoch

        def __init__(self, log: kit.IterationLog, errors: list):
            self.log, self.errors = log, errors
            self.epoch = 0

        def train_begin(self, estimator, *args, **kwargs):
            self.epoch = 0

        def epoch_end(self, estimator, *args, **kwargs):
            try:
                values = {}
                for m in list(estimator.train_metrics) + list(estimator.val_metrics):
                    names, results = m.get()
                    if isinstance(names, str):
                        names, results = [names], [results]
                    for name, value in zip(names, results, strict=False):
                        if isinstance(value, (int, float)) and not math.isnan(float(value)):
                            values[kit.metric_key(name)] = float(value)
                self.log.record(self.epoch, values)
            except Exception as exc:  # noqa: BLE001 - logging must never stop training
                self.errors.append(exc)
            self.epoch += 1
            return False

        def train_end(self, estimator, *args, **kwargs):
            pass

    return _TrackletHandler


class FitHooks(PatchHooks):
    """``Estimator.fit``: params before, metrics per epoch, early stopping and the model after."""

    def before(self, call) -> None:
        args = kit.arguments(call)
        est = call.instance
        params = {}
        try:
            params["num_layers"] = len(est.net)
        except TypeError:  # a custom HybridBlock has no len()
            pass
        if args.get("epochs"):
            params["epochs"] = args["epochs"]
        if args.get("batches"):
            params["batches"] = args["batches"]
        trainer = getattr(est, "trainer", None)
        if trainer is not None and getattr(trainer, "_optimizer", None) is not None:
            params.update(_optimizer_params(trainer._optimizer))
        kit.log_params(call, params)
        log = kit.IterationLog(call.logger)
        handler = _handler_class()(log, call.state.setdefault("errors", []))
        user = args.get("event_handlers")
        user = [] if user is None else list(user) if isinstance(user, (list, tuple)) else [user]
        call.state.update(log=log, handlers=user)
        kit.set_argument(call, "event_handlers", user + [handler])
        if kit.wants_example(call.config):
            call.state["example"] = _first_batch(args.get("train_data"))

    def after(self, call, result) -> None:
        log: kit.IterationLog = call.state["log"]
        log.finish()
        _log_early_stopping(call, log, call.state["handlers"])
        net = call.instance.net
        from mxnet import gluon

        if isinstance(net, gluon.HybridBlock):
            kit.log_model(call, flavor.log_model, net, predict=lambda x: flavor._predict_array(net, x))
        else:
            kit.warn(call, "model", f"tracklet: {type(net).__name__} is not a HybridBlock: no model logged")
        kit.raise_callback_error(call.state)

    def on_error(self, call, exc) -> None:
        if "log" in call.state:  # the epochs before the user's error are kept
            call.state["log"].finish()


def _first_batch(loader):
    """The first rows of the first batch of a Gluon ``DataLoader`` as numpy (None if it can't be had)."""
    try:
        data = loader._dataset[: kit.INPUT_EXAMPLE_ROWS][0]  # ArrayDataset slices without iterating
        return kit.head_rows(data.asnumpy() if hasattr(data, "asnumpy") else data)
    except Exception:  # noqa: BLE001 - an exotic dataset: no example, training is unaffected
        return None


def _log_early_stopping(call, log: kit.IterationLog, handlers: list) -> None:
    from mxnet.gluon.contrib.estimator.event_handler import CheckpointHandler, EarlyStoppingHandler

    stopper = next((h for h in handlers if isinstance(h, EarlyStoppingHandler)), None)
    if stopper is None or not stopper.stop_training or log.last_step is None:
        return
    stopped = log.last_step
    call.logger.log_metrics({"stopped_epoch": stopped}, step=0)
    ckpt = next((h for h in handlers if isinstance(h, CheckpointHandler) and h.save_best), None)
    if ckpt is None:
        return
    key = kit.metric_key(ckpt.monitor.get()[0])
    scored = [(v[key], step) for step, v in sorted(log.history.items()) if key in v]
    if not scored:
        return
    higher = ckpt.monitor_op.__name__ == "greater"
    best = (max if higher else min)(scored, key=lambda t: t[0])[1]
    call.logger.log_metrics({"best_epoch": best}, step=0)
    call.logger.log_metrics(log.history[best], step=stopped + 1)
