"""XGBoost autologging: ``tracklet.xgboost.autolog()`` (or ``tracklet.autolog()``).

Patched: ``xgboost.train``, ``xgboost.cv`` and ``fit`` of ``XGBModel``, ``XGBClassifier`` and ``XGBRanker``.
Per ``train``/``fit`` one run records: params (booster params plus ``train()`` arguments; for the scikit-learn
API ``get_params()``, the inner ``train`` adding only what it lacks, ``objective`` as trained); per-iteration
``<eval name>-<metric>`` (``train-logloss``, ``validation_0-auc``) at step = round; early stopping (the
convention of :mod:`tracklet.autolog._boosting`); ``feature_importance_<type>.json`` / ``.png``; the model
(``model/``; the scikit-learn class for ``fit``); the training and eval sets as dataset inputs.
``xgboost.cv`` makes one run with params and ``<eval name>-<metric>-mean`` / ``-std`` per iteration.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from tracklet.autolog import _boosting as B
from tracklet.autolog import kit
from tracklet.autolog.patching import safe_patch
from tracklet.flavors import xgboost as flavor

INTEGRATION = "xgboost"
_TRAIN_EXCLUDE = frozenset(
    {
        "params",
        "dtrain",
        "evals",
        "obj",
        "evals_result",
        "xgb_model",
        "callbacks",
        "learning_rates",
        "fpreproc",
        "folds",
    }
)


@dataclass(frozen=True)
class XGBoostOptions(kit.Options):
    """``tracklet.xgboost.autolog`` options beyond the shared ones."""

    importance_types: tuple[str, ...] | list[str] | str | None = ("weight",)
    log_every_n_iter: int = 1
    model_format: str | None = None

    def validate(self) -> None:
        B.check_every_n(self.log_every_n_iter)


autolog = kit.declare_autolog(
    INTEGRATION,
    XGBoostOptions,
    """Enable (or with ``disable=True`` revert) XGBoost autologging.

    ``importance_types``: any of ``weight``, ``gain``, ``cover``, ``total_gain``, ``total_cover``.
    ``log_every_n_iter``: log per-iteration metrics every n rounds (the last round is always logged).
    ``model_format``: the booster file format passed to the flavor (``ubj``/``json``/``xgb``; None = default).
    """,
)


def install(module, config) -> None:
    """Install the patches once ``xgboost`` is imported."""
    from xgboost import sklearn as xsk

    safe_patch(INTEGRATION, module, "train", TrainHooks())
    safe_patch(INTEGRATION, xsk, "train", TrainHooks())  # what the scikit-learn wrappers call
    safe_patch(INTEGRATION, module, "cv", CvHooks())
    for cls in (xsk.XGBModel, xsk.XGBClassifier, xsk.XGBRanker):
        safe_patch(INTEGRATION, cls, "fit", FitHooks())


@functools.cache
def _callback_class():
    """A ``TrainingCallback`` subclass, built on first use so importing this module needs no xgboost."""
    from xgboost.callback import TrainingCallback

    class AutologCallback(TrainingCallback):
        """Puts each round's evaluation results on the run's logger; never raises into training."""

        def __init__(self, log: kit.IterationLog, errors: list):
            super().__init__()
            self.log, self.errors = log, errors
            self.start = 0
            self.seen = 0  # rounds recorded
            self.history = None  # xgboost's evals log: one dict, updated in place
            self.model = None

        def before_training(self, model):
            try:
                self.start = int(model.num_boosted_rounds())  # continued training: steps go on
            except Exception as exc:  # noqa: BLE001
                self.errors.append(exc)
            return model

        def before_iteration(self, model, epoch, evals_log) -> bool:
            self.history = evals_log
            return False

        def after_iteration(self, model, epoch, evals_log) -> bool:
            self.history = evals_log
            self._record(epoch, -1)
            return False

        def after_training(self, model):
            self.model = model
            # xgboost 2.x keeps callbacks in a set and stops asking them once one returns True (early
            # stopping): we may have missed the last round(s); the evals log has them.
            try:
                by_metric = next(iter(self.history.values()), {}) if self.history else {}
                rounds = len(next(iter(by_metric.values()), ()))
                for epoch in range(self.seen, rounds):
                    self._record(epoch, epoch)
            except Exception as exc:  # noqa: BLE001
                self.errors.append(exc)
            return model

        def _record(self, epoch: int, index: int) -> None:
            try:
                metrics = {}
                for data_name, by_metric in self.history.items():
                    for metric_name, values in by_metric.items():
                        value = values[index]
                        if isinstance(value, tuple):  # xgboost.cv: (mean, std)
                            metrics[kit.metric_key(data_name, metric_name, "mean")] = float(value[0])
                            metrics[kit.metric_key(data_name, metric_name, "std")] = float(value[1])
                        else:
                            metrics[kit.metric_key(data_name, metric_name)] = float(value)
                self.log.record(self.start + epoch, metrics)
                self.seen = epoch + 1
            except Exception as exc:  # noqa: BLE001 - logging must never stop training
                self.errors.append(exc)

    return AutologCallback


def _params_dict(params) -> dict:
    """Booster params as a dict; a list of pairs (repeated ``eval_metric``) groups repeated keys."""
    if params is None:
        return {}
    if isinstance(params, dict):
        return dict(params)
    out: dict = {}
    for key, value in params:
        if key in out:
            prev = out[key]
            out[key] = (prev if isinstance(prev, list) else [prev]) + [value]
        else:
            out[key] = value
    return out


def _start(call) -> dict:
    """Log params and append our callback to the user's callbacks (their list is copied, never mutated)."""
    args = kit.arguments(call)
    params = _params_dict(args.get("params"))
    extra = {k: v for k, v in kit.loggable_args(args, _TRAIN_EXCLUDE).items() if k not in params}
    kit.log_params(call, {**params, **extra})
    log = kit.IterationLog(call.logger, kit.options(call.config, XGBoostOptions).log_every_n_iter)
    callback = _callback_class()(log, call.state.setdefault("errors", []))
    user_callbacks = list(args.get("callbacks") or ())
    call.state.update(args=args, log=log, callback=callback, user_callbacks=user_callbacks)
    kit.set_argument(call, "callbacks", user_callbacks + [callback])
    return args


def _finish(state: dict, model) -> None:
    """Last rounds to the logger; the early-stopping summary when early stopping was on and found a best."""
    from xgboost.callback import EarlyStopping

    log: kit.IterationLog = state["log"]
    log.finish()
    stopping = state["args"].get("early_stopping_rounds") or any(
        isinstance(c, EarlyStopping) for c in state["user_callbacks"]
    )
    best = model.attr("best_iteration") if model is not None else None
    if stopping and best is not None:
        B.log_early_stopping(log, int(best))


class TrainHooks(B.TrainingHooks):
    """``xgboost.train``: params, per-iteration metrics, early stopping, importance, datasets, model.

    Inside a scikit-learn ``fit`` (``call.parent`` set) it adds only params the wrapper did not log and
    leaves the model to the outer ``fit``.
    """

    allow_nested_from = (INTEGRATION,)

    def before(self, call) -> None:
        args = _start(call)
        if call.parent is None and kit.wants_example(call.config):
            call.state["example"] = _dmatrix_head(args.get("dtrain"))

    def after(self, call, booster) -> None:
        _finish(call.state, booster)
        _log_importance(call, booster)
        if call.parent is None:  # inside a scikit-learn fit, the fit logs the user's data
            _log_datasets(call, call.state["args"])
            kit.log_model(call, flavor.log_model, booster, predict=_predict_booster(booster), **_format_kwargs(call))
        kit.raise_callback_error(call.state)


class CvHooks(B.TrainingHooks):
    """``xgboost.cv``: one run with params and per-iteration ``-mean`` / ``-std`` metrics."""

    def before(self, call) -> None:
        _start(call)

    def after(self, call, result) -> None:
        _finish(call.state, call.state["callback"].model)  # the packed cv booster carries best_iteration
        kit.raise_callback_error(call.state)


class FitHooks(B.SklearnFitHooks):
    """``XGBModel.fit`` and subclasses: ``get_params()`` here, metrics from the inner ``train``, model here."""

    flavor_log_model = flavor.log_model
    eval_prefix = "validation_"

    def model_kwargs(self, call) -> dict:
        return _format_kwargs(call)


# ------------------------------------------------------------------------------------------------ helpers
def _first_rows(dmatrix, n: int):
    """The first ``n`` rows as CSR (slicing first: ``get_data()`` copies the whole matrix); a
    ``QuantileDMatrix`` keeps no raw data and raises."""
    return dmatrix.slice(list(range(min(n, dmatrix.num_row())))).get_data()


def _dmatrix_head(dmatrix, n: int = 5):
    """First rows of a DMatrix as a DataFrame (feature names kept) or array; None if it can't give them.
    float64: the DMatrix holds float32 copies of whatever the user had; a double signature accepts both."""
    import numpy as np

    try:
        coo = _first_rows(dmatrix, n).tocoo()
    except Exception:  # noqa: BLE001 - no example then
        return None
    rows = np.full(coo.shape, np.nan)  # entries absent from the CSR are missing values, not zeros
    rows[coo.row, coo.col] = coo.data
    names = dmatrix.feature_names
    if names:
        try:
            import pandas as pd

            return pd.DataFrame(rows, columns=names)
        except ImportError:
            pass
    return rows


def _log_importance(call, booster) -> None:
    for importance_type in B.names(kit.options(call.config, XGBoostOptions).importance_types):
        try:
            scores = booster.get_score(importance_type=importance_type)
        except Exception as exc:  # noqa: BLE001 - e.g. gblinear only has "weight": not our bug
            reason = str(exc).splitlines()[0]
            message = f"tracklet: xgboost autolog: no '{importance_type}' feature importance for this booster: {reason}"
            kit.warn(call, f"importance:{importance_type}", message)
            continue
        B.log_importance(call.logger, scores, importance_type)


def _log_datasets(call, args: dict) -> None:
    sets = B.eval_sets(args.get("dtrain"), [(d, n) for d, n in (args.get("evals") or ())])
    kit.log_datasets(call, [_dataset_input(d, name, context) for d, name, context in sets])


def _dataset_input(dmatrix, name: str, context: str):
    """The reference's DMatrix dataset: its features (``get_data()``, densified; labels are not part of it),
    digested from the first rows only -- slicing first, as ``get_data()`` copies the whole matrix. A
    ``QuantileDMatrix`` keeps no raw features: it is described by its shape and labels instead."""
    import numpy as np

    from tracklet.autolog.datasets import dataset_input_of_rows, rows_needed

    n_rows, n_cols = dmatrix.num_row(), dmatrix.num_col()
    try:
        head = _first_rows(dmatrix, rows_needed(n_cols)).toarray()
    except Exception:  # noqa: BLE001 - xgboost: "slice is not supported" for a QuantileDMatrix
        return dataset_input_of_rows(np.zeros((0, n_cols)), (n_rows, n_cols), context, name, dmatrix.get_label())
    return dataset_input_of_rows(head, (n_rows, n_cols), context, name)


def _format_kwargs(call) -> dict:
    fmt = kit.options(call.config, XGBoostOptions).model_format
    return {"model_format": fmt} if fmt else {}


def _predict_booster(booster):
    def predict(example):
        import xgboost

        return booster.predict(xgboost.DMatrix(example))

    return predict
