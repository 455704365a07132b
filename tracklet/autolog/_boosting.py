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

import hashlib
import json
import os
import re
import tempfile
import time
from collections.abc import Mapping

from tracklet.autolog.patching import PatchHooks

_INVALID_KEY_CHARS = re.compile(r"[^/\w.\- :]")
_SIMPLE = (str, int, float, bool, type(None))


def metric_key(*parts: str) -> str:
    """``"-"``-join ``parts`` into a valid metric key: ``@`` -> ``_at_``, other invalid characters -> ``_``."""
    key = "-".join(str(p) for p in parts).replace("@", "_at_")
    return _INVALID_KEY_CHARS.sub("_", key)


def loggable_args(bound_arguments: Mapping, exclude: set[str]) -> dict:
    """The train()/cv() arguments worth a param: simple values as they are, callables by name.

    Data, containers of objects and anything else without a stable text form is skipped.
    """
    out = {}
    for name, value in bound_arguments.items():
        if name in exclude:
            continue
        if isinstance(value, _SIMPLE):
            out[name] = value
        elif isinstance(value, (list, tuple)):
            if not value:
                continue  # e.g. the scikit-learn wrapper's feval=[]
            if all(isinstance(v, _SIMPLE) for v in value):
                out[name] = list(value)
            elif all(callable(v) for v in value):
                out[name] = [getattr(v, "__name__", type(v).__name__) for v in value]
        elif callable(value):
            out[name] = getattr(value, "__name__", type(value).__name__)
    return out


def option_list(config, name: str, default: tuple) -> list:
    """A list-valued framework option; a single string counts as a one-element list."""
    value = config.options.get(name, default)
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def all_arguments(call) -> dict:
    """The call's arguments by name, defaults included (``call.bound`` is a partial binding)."""
    import inspect

    bound = call.bound
    sig = bound.signature
    values = {}
    for name, p in sig.parameters.items():
        if name in bound.arguments:
            values[name] = bound.arguments[name]
        elif p.default is not inspect.Parameter.empty:
            values[name] = p.default
    return values


def log_params(call, params: dict) -> None:
    """Queue ``params`` as MLflow logs them (``str(value)``, so None is ``"None"``), minus the keys the outer
    call (a scikit-learn ``fit``) already logged.

    The wrapper's ``get_params()`` is the source of truth for its run; the inner ``train()`` only adds keys
    that are not there, so no key is ever logged twice with different values.
    """
    parent = getattr(call, "parent", None)
    logged = parent.state.get("logged_params", ()) if parent is not None else ()
    call.logger.log_params({k: str(v) for k, v in params.items() if k not in logged})
    call.state["logged_params"] = set(params)


class IterationLog:
    """Per-iteration metrics of one training: hands them to the run's logger, remembers them all.

    The first round is handed over at once, later ones in groups at most every ``HANDOFF_SECONDS`` (and at
    the end or on error): a round takes milliseconds, and waking the background writer per round costs more
    than its few metrics (measured: ~80 us/metric in 4-metric batches, ~17 us in 400-metric ones, plus GIL
    hand-offs during training). Timestamps are the hand-over's, up to that interval after the round.
    The history (every round, even those ``log_every_n_iter`` skips) lets ``after`` re-log the best round.
    """

    HANDOFF_SECONDS = 1.0

    def __init__(self, logger, every_n: int = 1):
        self.logger = logger
        self.every_n = max(int(every_n or 1), 1)
        self.history: dict[int, dict[str, float]] = {}
        self.first_step: int | None = None
        self.last_step: int | None = None
        self._last_logged: int | None = None
        self._pending: list[tuple[int, dict]] = []
        self._handed_off = float("-inf")

    def record(self, step: int, metrics: dict[str, float]) -> None:
        """Remember the metrics of round ``step`` and log them if the round is due."""
        if self.first_step is None:
            self.first_step = step
        self.history[step] = metrics
        self.last_step = step
        if metrics and (step - self.first_step) % self.every_n == 0:
            self._pending.append((step, metrics))
            self._last_logged = step
            now = time.monotonic()
            if now - self._handed_off >= self.HANDOFF_SECONDS:
                self._handed_off = now
                self.hand_off()

    def hand_off(self) -> None:
        """Give the pending rounds to the logger (non-blocking: it queues them for its writer)."""
        pending, self._pending = self._pending, []
        for step, metrics in pending:
            self.logger.log_metrics(metrics, step=step)

    def finish(self) -> None:
        """Hand over what is pending, and the last round if ``log_every_n_iter`` skipped it (the latest
        value of a metric is then its final one). Called after training, and when training raised."""
        last = self.last_step
        if last is not None and self._last_logged != last and self.history.get(last):
            self._pending.append((last, self.history[last]))
            self._last_logged = last
        self.hand_off()

    def log_early_stopping(self, best_iteration: int) -> None:
        """Log ``best_iteration``, ``stopped_iteration`` and the best round's metrics one step past the end."""
        if self.last_step is None:
            return
        stopped = self.last_step
        self.logger.log_metrics({"best_iteration": best_iteration, "stopped_iteration": stopped}, step=0)
        best = self.history.get(best_iteration)
        if best:
            self.logger.log_metrics(best, step=stopped + 1)


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
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, f"feature_importance_{importance_type}.png")
        with open(path, "wb") as f:
            f.write(png)
        logger.log_artifact_file(path)


def _as_list(v) -> list[float]:
    return v if isinstance(v, list) else [v]


# ------------------------------------------------------------------------------------------------ datasets
def dataset_input(name: str, context: str, num_rows: int, num_cols: int, label=None, feature_names=None):
    """A ``DatasetInput`` describing one training/eval set: name, shape (profile) and a digest.

    The digest hashes the shape, the feature names and the labels, which are cheap to read; the feature
    matrix itself is not copied or hashed (it can be large and lives in native memory).
    """
    from tracklet.tracking.entities import Dataset, DatasetInput, RunTag

    h = hashlib.md5(f"{num_rows}x{num_cols}".encode(), usedforsecurity=False)
    if feature_names:
        h.update("\x1f".join(map(str, feature_names)).encode())
    if label is not None:
        try:
            h.update(memoryview(label).tobytes())
        except TypeError:
            h.update(repr(label).encode())
    profile = json.dumps({"num_rows": int(num_rows), "num_features": int(num_cols)})
    schema = json.dumps({"feature_names": list(map(str, feature_names))}) if feature_names else None
    ds = Dataset(name=name, digest=h.hexdigest()[:8], source_type="code", source="{}", schema=schema, profile=profile)
    return DatasetInput(dataset=ds, tags=(RunTag("mlflow.data.context", context),))


# ------------------------------------------------------------------------------------------ input examples
def head_rows(data, n: int = 5):
    """The first ``n`` rows of array-like ``data`` (a small copy), or None when it has no rows to slice."""
    if data is None or isinstance(data, (str, bytes)) or hasattr(data, "__fspath__"):
        return None
    try:
        if hasattr(data, "iloc"):
            return data.iloc[:n].copy()
        if hasattr(data, "tocsr"):
            return data.tocsr()[:n].toarray()
        if hasattr(data, "shape") and hasattr(data, "__getitem__"):
            return data[:n].copy()
        if isinstance(data, list):
            return data[:n]
    except Exception:  # noqa: BLE001 - an example is optional
        return None
    return None


# ----------------------------------------------------------------------------------------- call plumbing
def set_argument(call, name: str, value) -> None:
    """Pass ``value`` as argument ``name`` of the original call, where the user passed it (by position or
    by keyword) or as a keyword if they did not pass it."""
    if name in call.kwargs or name not in call.bound.arguments:
        call.kwargs[name] = value
        return
    index = list(call.bound.signature.parameters).index(name)
    if index < len(call.args):
        call.args = call.args[:index] + (value,) + call.args[index + 1 :]
    else:
        call.kwargs[name] = value


def raise_callback_error(state: dict) -> None:
    """Surface the first error our callback swallowed during training: the core warns once (or raises in
    strict mode) after training finished, instead of the error breaking training."""
    errors = state.get("errors")
    if errors:
        raise errors[0]


def log_dataset_inputs(call, inputs: list) -> None:
    """Record the dataset inputs on the call's run."""
    if inputs:
        call.logger.client.log_inputs(call.run_id, inputs)


def wants_example(config) -> bool:
    """Whether a few training rows are needed: for the input example, or to infer the signature."""
    return config.log_models and (config.log_input_examples or config.log_model_signatures)


def log_model(call, flavor_name: str, model, example, predict, **flavor_kwargs) -> None:
    """Log ``model`` as ``model/`` through ``tracklet.flavors.<flavor_name>``, with the signature inferred
    from ``example`` and ``predict(example)`` when enabled."""
    import importlib

    flavor = importlib.import_module(f"tracklet.flavors.{flavor_name}")
    signature = None
    if example is not None and call.config.log_model_signatures:
        from tracklet.flavors.signature import infer_signature

        signature = infer_signature(example, predict(example))
    flavor.log_model(
        model,
        artifact_path="model",
        run_id=call.run_id,
        signature=signature,
        input_example=example if call.config.log_input_examples else None,
        **flavor_kwargs,
    )


class TrainingHooks(PatchHooks):
    """Base of the native ``train``/``cv`` hooks: rounds recorded before the user's training raised are
    still handed to the logger (the core then flushes it and ends the run FAILED)."""

    def on_error(self, call, exc: BaseException) -> None:
        log = call.state.get("log")
        if log is not None:
            log.finish()


class SklearnFitHooks(PatchHooks):
    """``fit`` of a boosting library's scikit-learn wrapper: logs ``get_params()`` and the fitted estimator;
    the inner native ``train`` (nested in this call) logs metrics, importance and datasets into the run."""

    flavor = ""

    def before(self, call) -> None:
        log_params(call, call.instance.get_params())
        if wants_example(call.config):
            call.state["example"] = head_rows(call.bound.arguments.get("X"))

    def after(self, call, result) -> None:
        if call.config.log_models:
            log_model(
                call,
                self.flavor,
                call.instance,
                call.state.get("example"),
                call.instance.predict,
                **self.model_kwargs(call),
            )

    def model_kwargs(self, call) -> dict:
        return {}
