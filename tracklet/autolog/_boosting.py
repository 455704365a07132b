"""Helpers shared by the XGBoost and LightGBM integrations.

Metric names
    ``<eval name>-<metric>`` (``train-logloss``, ``valid-auc``; the scikit-learn wrappers name their eval sets
    ``validation_0`` (XGBoost) and ``valid_0`` (LightGBM)). ``@`` becomes ``_at_`` (``ndcg@3`` ->
    ``ndcg_at_3``) and any other character a metric key may not hold becomes ``_``. ``xgboost.cv`` and
    ``lightgbm.cv`` log ``<eval name>-<metric>-mean`` and ``<eval name>-<metric>-std``.

Steps
    The step of a per-iteration metric is the 0-based boosting round, counted over the whole booster: when
    training continues from ``xgb_model`` / ``init_model`` the steps continue from the rounds already in it.
    ``log_every_n_iter=n`` logs every n-th round and always the last one. Rounds go to the store through
    the non-blocking logger in groups (the first at once, then at most a second apart), so training never
    waits for the store; a metric's timestamp is that of its group.

Early stopping (one convention for both libraries)
    When early stopping is active (XGBoost: ``early_stopping_rounds`` or an ``EarlyStopping`` callback;
    LightGBM: the ``early_stopping`` callback or the ``early_stopping_round`` param), three things are logged:

    * ``best_iteration``: the 0-based index of the best round, on the step axis above (LightGBM's own
      ``Booster.best_iteration`` is 1-based; we subtract one);
    * ``stopped_iteration``: the 0-based index of the last round that ran;
    * every per-iteration metric of the best round once more, at step ``stopped_iteration + 1``, so the
      latest value of ``valid-auc`` is the value of the model you keep.

    ``best_iteration`` and ``stopped_iteration`` are logged at step 0.
"""

from __future__ import annotations

from collections.abc import Mapping

from tracklet.autolog import kit
from tracklet.autolog.patching import PatchHooks
from tracklet.exceptions import InvalidParameterValue


def check_every_n(value) -> None:
    """``log_every_n_iter`` must be a positive integer (an options ``validate`` step)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidParameterValue(f"log_every_n_iter must be a positive integer, got {value!r}")


def names(value) -> list:
    """A list-valued option (``importance_types``): a single string is a one-element list, None empty."""
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def log_early_stopping(log: kit.IterationLog, best_iteration: int) -> None:
    """Log ``best_iteration``, ``stopped_iteration`` and the best round's metrics one step past the end."""
    if log.last_step is None:
        return
    stopped = log.last_step
    log.logger.log_metrics({"best_iteration": best_iteration, "stopped_iteration": stopped}, step=0)
    best = log.history.get(best_iteration)
    if best:
        log.logger.log_metrics(best, step=stopped + 1)


# ---------------------------------------------------------------------------------------------- importance
def log_importance(logger, importance: Mapping, importance_type: str) -> None:
    """Log ``feature_importance_<type>.json`` and a horizontal bar chart ``feature_importance_<type>.png``
    (largest at the top; grouped bars when a feature maps to per-class scores, e.g. multiclass gblinear)."""
    clean = {
        str(k): ([float(x) for x in v] if isinstance(v, (list, tuple)) else float(v)) for k, v in importance.items()
    }
    logger.log_dict(clean, f"feature_importance_{importance_type}.json")
    if not clean:
        return
    try:
        from tracklet.autolog._barchart import barh_png

        rows = sorted(clean.items(), key=lambda kv: -sum(abs(v) for v in _as_list(kv[1])))
        n_classes = len(_as_list(rows[0][1]))
        png = barh_png(
            [k for k, _ in rows],
            [_as_list(v) for _, v in rows],
            f"Feature importance ({importance_type})",
            series=[f"class {c}" for c in range(n_classes)] if n_classes > 1 else None,
        )
    except ImportError:  # no Pillow: the JSON is there
        return
    logger.log_bytes(png, f"feature_importance_{importance_type}.png")


def _as_list(v) -> list[float]:
    return v if isinstance(v, list) else [v]


# -------------------------------------------------------------------------------------------------- hooks
def eval_sets(train, evals) -> list[tuple[object, str, str]]:
    """``(data, name, context)`` for the training set (named ``train``) and every eval entry (context
    ``eval``), except an eval entry that is the training set under the name ``train`` (the same input twice).
    An eval entry that is the training data under another name (``validation_0``) is kept."""
    out = [(train, "train", "train")]
    out += [(d, name, "eval") for d, name in evals if not (d is train and name == "train")]
    return out


class TrainingHooks(PatchHooks):
    """Base of the native ``train``/``cv`` hooks: rounds recorded before the user's training raised are
    still handed to the logger (the core then flushes it and ends the run FAILED)."""

    def on_error(self, call, exc: BaseException) -> None:
        log = call.state.get("log")
        if log is not None:
            log.finish()


class SklearnFitHooks(PatchHooks):
    """``fit`` of a boosting library's scikit-learn wrapper: logs ``get_params()`` and the fitted estimator;
    the inner native ``train`` (nested in this call) logs metrics, importance and datasets into the run.

    ``objective`` is left to the inner ``train``, which sees the value actually trained (the wrapper's is
    None for LightGBM's default, and XGBClassifier switches to ``multi:softprob`` for more than two classes).
    """

    flavor_log_model = None  # the flavor's log_model, set by the subclass
    eval_prefix = "valid_"  # the library's default eval-set names: <prefix>0, <prefix>1, ...

    def before(self, call) -> None:
        params = call.instance.get_params()
        params.pop("objective", None)
        kit.log_params(call, params)
        kit.capture_example(call, kit.arguments(call).get("X"))

    def after(self, call, result) -> None:
        model = call.instance
        self.log_datasets(call, kit.arguments(call))
        kit.log_model(call, type(self).flavor_log_model, model, predict=model.predict, **self.model_kwargs(call))

    def log_datasets(self, call, args: dict) -> None:
        """The user's data as they passed it (the inner ``train`` sees library containers that may hold no
        raw data): ``X``/``y`` as ``train``, each eval set as ``eval`` under the library's name for it."""
        evals = list(args.get("eval_set") or ())
        if args.get("eval_X") is not None:  # LightGBM >= 4.7
            xs, ys = args["eval_X"], args.get("eval_y")
            many = isinstance(xs, (list, tuple))
            evals = list(zip(xs if many else [xs], ys if many else [ys], strict=False))
        names = list(args.get("eval_names") or ())
        inputs = [kit.dataset_input(args.get("X"), args.get("y"), "train", "train")]
        for i, (Xv, yv) in enumerate(evals):
            name = names[i] if i < len(names) else f"{self.eval_prefix}{i}"
            inputs.append(kit.dataset_input(Xv, yv, "eval", name))
        kit.log_datasets(call, inputs)

    def model_kwargs(self, call) -> dict:
        return {}
