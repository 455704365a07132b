"""XGBoost autologging: ``tracklet.xgboost.autolog()`` (or ``tracklet.autolog()``).

Patched: ``xgboost.train``, ``xgboost.cv`` and ``fit`` of ``XGBModel`` (``XGBRegressor``), ``XGBClassifier``
and ``XGBRanker`` (the random-forest variants go through them). Per ``train``/``fit`` one run records:

* params: every booster param plus the ``train()`` arguments (``num_boost_round``, ``early_stopping_rounds``,
  ``maximize``, ``verbose_eval``, ...); for the scikit-learn API, ``get_params()`` (the inner ``train`` adds
  only keys ``get_params()`` does not have);
* per-iteration metrics ``<eval name>-<metric>`` (``train-logloss``, ``validation_0-auc``), step = round;
* early stopping: ``best_iteration``, ``stopped_iteration`` and the best round again (see
  :mod:`tracklet.autolog._boosting` for the convention, shared with LightGBM);
* ``feature_importance_<type>.json`` / ``.png`` for each of ``importance_types``;
* the model (``model/``, logged as the scikit-learn class for ``fit``), its signature and input example;
* the training and eval sets as dataset inputs (name, shape, digest).

``xgboost.cv`` makes one run with params and ``<eval name>-<metric>-mean`` / ``-std`` per iteration.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from tracklet.autolog import _boosting as B
from tracklet.autolog import kit
from tracklet.autolog.patching import safe_patch
from tracklet.exceptions import InvalidParameterValue
from tracklet.flavors import xgboost as flavor

INTEGRATION = "xgboost"
_TRAIN_EXCLUDE = {
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


@dataclass(frozen=True)
class XGBoostOptions(kit.Options):
    """``tracklet.xgboost.autolog`` options beyond the shared ones."""

    importance_types: tuple[str, ...] | list[str] | str | None = ("weight",)
    log_every_n_iter: int = 1
    model_format: str | None = None

    def validate(self) -> None:
        if isinstance(self.log_every_n_iter, bool) or not isinstance(self.log_every_n_iter, int):
            raise InvalidParameterValue(f"log_every_n_iter must be a positive integer, got {self.log_every_n_iter!r}")


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
            self._keys: dict = {}

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
                            metrics[self._key(data_name, metric_name, "mean")] = float(value[0])
                            metrics[self._key(data_name, metric_name, "std")] = float(value[1])
                        else:
                            metrics[self._key(data_name, metric_name)] = float(value)
                self.log.record(self.start + epoch, metrics)
                self.seen = epoch + 1
            except Exception as exc:  # noqa: BLE001 - logging must never stop training
                self.errors.append(exc)

        def _key(self, *parts):
            key = self._keys.get(parts)
            if key is None:
                key = self._keys[parts] = kit.metric_key(*parts)
            return key

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


def _early_stopping_active(args: dict, user_callbacks: list) -> bool:
    from xgboost.callback import EarlyStopping

    return bool(args.get("early_stopping_rounds")) or any(isinstance(c, EarlyStopping) for c in user_callbacks)


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
        state, args = call.state, call.state["args"]
        log: kit.IterationLog = state["log"]
        log.finish()
        if _early_stopping_active(args, state["user_callbacks"]) and booster.attr("best_iteration") is not None:
            B.log_early_stopping(log, int(booster.attr("best_iteration")))
        _log_importance(call, booster)
        if call.config.log_datasets:
            _log_datasets(call, args)
        if call.parent is None:
            kit.log_model(call, flavor.log_model, booster, predict=_predict_booster(booster), **_format_kwargs(call))
        kit.raise_callback_error(state)


class CvHooks(B.TrainingHooks):
    """``xgboost.cv``: one run with params and per-iteration ``-mean`` / ``-std`` metrics."""

    def before(self, call) -> None:
        _start(call)

    def after(self, call, result) -> None:
        state = call.state
        log: kit.IterationLog = state["log"]
        log.finish()
        packed = state["callback"].model
        if _early_stopping_active(state["args"], state["user_callbacks"]) and packed is not None:
            best = packed.attr("best_iteration")
            if best is not None:
                B.log_early_stopping(log, int(best))
        kit.raise_callback_error(state)


class FitHooks(B.SklearnFitHooks):
    """``XGBModel.fit`` and subclasses: ``get_params()`` here, metrics from the inner ``train``, model here."""

    flavor_log_model = flavor.log_model

    def model_kwargs(self, call) -> dict:
        return _format_kwargs(call)


# ------------------------------------------------------------------------------------------------ helpers
def _dmatrix_head(dmatrix, n: int = 5):
    """First rows of a DMatrix as a DataFrame (feature names kept) or array; None if it can't give them."""
    try:
        # slice first (get_data() copies the whole matrix); QuantileDMatrix can't: no example then.
        # float64: the DMatrix holds float32 copies of whatever the user had; a double signature accepts both
        import numpy as np

        csr = dmatrix.slice(list(range(min(n, dmatrix.num_row())))).get_data()
        rows = np.full(csr.shape, np.nan)  # entries absent from the CSR are missing values, not zeros
        for i in range(csr.shape[0]):
            lo, hi = csr.indptr[i], csr.indptr[i + 1]
            rows[i, csr.indices[lo:hi]] = csr.data[lo:hi]
    except Exception:  # noqa: BLE001
        return None
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
            kit.warn(
                call,
                f"importance:{importance_type}",
                f"tracklet: xgboost autolog: no '{importance_type}' feature importance for this booster: "
                f"{str(exc).splitlines()[0]}",
            )
            continue
        B.log_importance(call.logger, scores, importance_type)


def _log_datasets(call, args: dict) -> None:
    sets = B.eval_sets(args.get("dtrain"), [(d, n) for d, n in (args.get("evals") or ())])
    kit.log_datasets(call, [_dataset_input(d, name, context) for d, name, context in sets])


def _dataset_input(dmatrix, name: str, context: str):
    """The reference's DMatrix dataset: its features (``get_data()``, densified; labels are not part of it),
    digested from the first rows only -- slicing first, as ``get_data()`` copies the whole matrix."""
    from tracklet.autolog.datasets import dataset_input_of_rows, rows_needed

    n_rows, n_cols = dmatrix.num_row(), dmatrix.num_col()
    try:
        head = dmatrix.slice(list(range(min(n_rows, rows_needed(n_cols))))).get_data().toarray()
    except Exception:  # noqa: BLE001 - e.g. a QuantileDMatrix holds no raw data: not described (as the reference)
        return None
    return dataset_input_of_rows(head, (n_rows, n_cols), context, name)


def _format_kwargs(call) -> dict:
    fmt = kit.options(call.config, XGBoostOptions).model_format
    return {"model_format": fmt} if fmt else {}


def _predict_booster(booster):
    def predict(example):
        import xgboost

        return booster.predict(xgboost.DMatrix(example))

    return predict
