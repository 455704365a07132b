"""LightGBM autologging: ``tracklet.lightgbm.autolog()`` (or ``tracklet.autolog()``).

Patched: ``lightgbm.train``, ``lightgbm.cv`` and ``LGBMModel.fit`` (so ``LGBMClassifier``, ``LGBMRegressor``
and ``LGBMRanker``, whose ``fit`` calls it). Per ``train``/``fit`` one run records:

* params: the booster params plus ``train()`` arguments (``num_boost_round``, ``keep_training_booster``,
  ``feval`` by name); for the scikit-learn API, ``get_params()`` (the inner ``train`` adds only keys
  ``get_params()`` does not have);
* per-iteration metrics ``<data name>-<metric>`` (``training-binary_logloss``, ``valid_0-auc``), step = round;
* early stopping: ``best_iteration`` (0-based: LightGBM's own is 1-based), ``stopped_iteration`` and the best
  round again (see :mod:`tracklet.autolog._boosting` for the convention, shared with XGBoost);
* ``feature_importance_split`` and ``feature_importance_gain`` as ``.json`` and ``.png``;
* the model (``model/``, logged as the scikit-learn class for ``fit``), its signature and input example;
* the training and validation sets as dataset inputs (name, shape, digest).

``lightgbm.cv`` makes one run with params and ``<data name>-<metric>-mean`` / ``-std`` per iteration.
"""

from __future__ import annotations

from dataclasses import dataclass

from tracklet.autolog import _boosting as B
from tracklet.autolog import kit
from tracklet.autolog.patching import safe_patch
from tracklet.flavors import lightgbm as flavor

INTEGRATION = "lightgbm"
_TRAIN_EXCLUDE = {
    "params",
    "train_set",
    "valid_sets",
    "valid_names",
    "fobj",
    "init_model",
    "callbacks",
    "learning_rates",
    "evals_result",
    "folds",
    "fpreproc",
    "return_cvbooster",
}


@dataclass(frozen=True)
class LightGBMOptions(kit.Options):
    """``tracklet.lightgbm.autolog`` options beyond the shared ones."""

    importance_types: tuple[str, ...] | list[str] | str | None = ("split", "gain")
    log_every_n_iter: int = 1

    def validate(self) -> None:
        B.check_every_n(self.log_every_n_iter)


autolog = kit.declare_autolog(
    INTEGRATION,
    LightGBMOptions,
    """Enable (or with ``disable=True`` revert) LightGBM autologging.

    ``importance_types``: ``split`` and/or ``gain``.
    ``log_every_n_iter``: log per-iteration metrics every n rounds (the last round is always logged).
    """,
)


def install(module, config) -> None:
    """Install the patches once ``lightgbm`` is imported."""
    from lightgbm import sklearn as lsk

    safe_patch(INTEGRATION, module, "train", TrainHooks())
    safe_patch(INTEGRATION, lsk, "train", TrainHooks())  # what LGBMModel.fit calls
    safe_patch(INTEGRATION, module, "cv", CvHooks())
    safe_patch(INTEGRATION, lsk.LGBMModel, "fit", FitHooks())


class _Callback:
    """A LightGBM callback putting each round's evaluation results on the run's logger; never raises.

    It has no ``order``: LightGBM gives list callbacks negative orders, so it runs before ``early_stopping``
    (order 30) and sees the round early stopping ends on.
    """

    before_iteration = False

    def __init__(self, log: kit.IterationLog, errors: list):
        self.log, self.errors = log, errors
        self.model = None

    def __call__(self, env) -> None:
        try:
            self.model = env.model
            metrics = {}
            for result in env.evaluation_result_list or ():
                if len(result) > 4:  # cv(): (data, metric, mean, higher_better, std)
                    metrics[kit.metric_key(result[0], result[1], "mean")] = float(result[2])
                    metrics[kit.metric_key(result[0], result[1], "std")] = float(result[4])
                else:
                    metrics[kit.metric_key(result[0], result[1])] = float(result[2])
            self.log.record(int(env.iteration), metrics)
        except Exception as exc:  # noqa: BLE001 - logging must never stop training
            self.errors.append(exc)


def _start(call) -> dict:
    """Log params and append our callback to the user's callbacks (their list is copied, never mutated)."""
    args = kit.arguments(call)
    params = dict(args.get("params") or {})
    extra = {k: v for k, v in kit.loggable_args(args, _TRAIN_EXCLUDE).items() if k not in params}
    kit.log_params(call, {**params, **extra})
    log = kit.IterationLog(call.logger, kit.options(call.config, LightGBMOptions).log_every_n_iter)
    callback = _Callback(log, call.state.setdefault("errors", []))
    call.state.update(args=args, log=log, callback=callback)
    kit.set_argument(call, "callbacks", list(args.get("callbacks") or ()) + [callback])
    return args


def _finish(call, booster) -> None:
    """Last round, and the early-stopping summary when LightGBM recorded a best iteration."""
    log: kit.IterationLog = call.state["log"]
    log.finish()
    best = getattr(booster, "best_iteration", 0) if booster is not None else 0
    if best and best > 0:
        B.log_early_stopping(log, int(best) - 1)  # LightGBM's best_iteration is 1-based


class TrainHooks(B.TrainingHooks):
    """``lightgbm.train``: params, per-iteration metrics, early stopping, importance, datasets, model.

    Inside ``LGBMModel.fit`` (``call.parent`` set) it adds only params the wrapper did not log and leaves
    the model to the outer ``fit``.
    """

    allow_nested_from = (INTEGRATION,)

    def before(self, call) -> None:
        args = _start(call)
        if call.parent is None:
            # the raw data, before train() constructs the Datasets (which then free it)
            call.state["raw"] = [(d, getattr(d, "data", None), getattr(d, "label", None)) for d in _all_sets(args)]
            kit.capture_example(call, getattr(args.get("train_set"), "data", None))

    def after(self, call, booster) -> None:
        _finish(call, booster)
        for importance_type in B.names(kit.options(call.config, LightGBMOptions).importance_types):
            values = booster.feature_importance(importance_type=importance_type)
            B.log_importance(
                call.logger, dict(zip(booster.feature_name(), values.tolist(), strict=True)), importance_type
            )
        if call.parent is None:  # inside a scikit-learn fit, the fit logs the user's data
            _log_datasets(call, call.state["args"])
            kit.log_model(call, flavor.log_model, booster, predict=booster.predict)
        kit.raise_callback_error(call.state)


class CvHooks(B.TrainingHooks):
    """``lightgbm.cv``: one run with params and per-iteration ``-mean`` / ``-std`` metrics."""

    def before(self, call) -> None:
        _start(call)

    def after(self, call, result) -> None:
        _finish(call, call.state["callback"].model)  # the CVBooster, which carries best_iteration
        kit.raise_callback_error(call.state)


class FitHooks(B.SklearnFitHooks):
    """``LGBMModel.fit``: ``get_params()`` here, metrics from the inner ``train``, the model here."""

    flavor_log_model = flavor.log_model


def _all_sets(args: dict) -> list:
    valid_sets = args.get("valid_sets") or []
    return [args.get("train_set"), *(valid_sets if isinstance(valid_sets, (list, tuple)) else [valid_sets])]


def _log_datasets(call, args: dict) -> None:
    """The reference's LightGBM datasets: a DataFrame as a frame; an array or sparse matrix with the labels
    as targets; anything else (a file path) not described."""
    valid_sets = _all_sets(args)[1:]
    names = args.get("valid_names") or []
    if isinstance(names, str):
        names = [names]
    evals = [(d, names[i] if i < len(names) else f"valid_{i}") for i, d in enumerate(valid_sets)]
    raw = {id(d): (data, label) for d, data, label in call.state.get("raw", ())}
    inputs = []
    for d, name, context in B.eval_sets(args.get("train_set"), evals):
        data, label = raw.get(id(d), (None, None))
        if data is not None and not isinstance(data, (str, list)) and not hasattr(data, "__fspath__"):
            inputs.append(kit.dataset_input(data, label, context, name))
    kit.log_datasets(call, inputs)
