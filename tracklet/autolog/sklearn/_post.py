"""scikit-learn post-training metrics.

``predict``/``predict_proba``/``predict_log_proba``/``transform`` of an autologged model remember their
result object (by identity, with a weak reference, so a recycled ``id()`` never links the wrong object;
numpy views of it such as ``proba[:, 1]`` link too) together with the model's run and the *variable name*
of the input, found in the caller's frames (``X_test``; ``unknown_dataset`` if it has none). A later
``sklearn.metrics`` call that receives that exact object logs ``<metric>_<dataset>`` to the run
(``accuracy_score_X_test``; ``accuracy_score-2_X_test`` when the same metric is logged again on the same
dataset), and ``model.score(X_test, y)`` logs ``<Class>_score_X_test``; ``metric_info.json`` maps each key
to the call that produced it. Metric functions imported before autolog was enabled are captured too: the
names bound to them in every loaded module are re-bound to the wrapper (see
``patching.wrap_functions_everywhere``). The tables are process-wide (a prediction made in one thread
and scored in another still links); the guards (inside a fit, inside a metric) are context variables.
"""

from __future__ import annotations

import contextvars
import inspect
import sys
import threading
import time
import weakref

from tracklet.autolog import session
from tracklet.autolog.patching import LightHooks, replace_attribute, wrap_functions_everywhere, wrap_light
from tracklet.autolog.sklearn._common import INTEGRATION, defining_classes, finite, options

INFERENCE_METHODS = ("predict", "predict_proba", "predict_log_proba", "transform")
_NOT_METRICS = {"check_scoring", "get_scorer", "make_scorer", "get_scorer_names"}
_SKIP_FRAMES = ("tracklet.autolog", "wrapt", "sklearn", "joblib", "numpy", "pandas", "scipy")

_lock = threading.RLock()
_models: dict[int, tuple] = {}  # id(estimator) -> (weakref, run_id)
_predictions: dict[int, tuple] = {}  # id(result) -> (weakref, run_id, dataset name)
_runs: dict[str, dict] = {}  # run_id -> {"datasets": {name: [refs]}, "counts": {...}, "info": {...}}
_in_metric: contextvars.ContextVar[bool] = contextvars.ContextVar("tracklet_sk_in_metric", default=False)


def install(classes) -> None:
    """Patch inference methods, ``score``, the metric functions and the built-in scorers."""
    from tracklet.autolog.config import get_config

    if not options(get_config(INTEGRATION)).log_post_training_metrics:
        return
    predict_hooks, score_hooks = _PredictHooks(), _ScoreHooks()
    for method in INFERENCE_METHODS:
        for owner in defining_classes(classes, method):
            wrap_light(INTEGRATION, owner, method, predict_hooks)
    for owner in defining_classes(classes, "score"):
        wrap_light(INTEGRATION, owner, "score", score_hooks)
    functions = _metric_functions()
    wrappers = wrap_functions_everywhere(INTEGRATION, {fn: _MetricHooks(fn) for fn in functions})
    try:
        from sklearn.metrics._scorer import _SCORERS
    except ImportError:
        return
    for scorer in _SCORERS.values():
        fn = getattr(scorer, "_score_func", None)
        if fn in wrappers:
            replace_attribute(INTEGRATION, scorer, "_score_func", wrappers[fn])


def _metric_functions() -> list:
    import sklearn.metrics as metrics

    out = []
    for name in getattr(metrics, "__all__", ()):
        fn = getattr(metrics, name, None)
        if (
            callable(fn)
            and not inspect.isclass(fn)
            and inspect.isfunction(inspect.unwrap(fn))
            and not name.startswith("plot_")
            and name not in _NOT_METRICS
            and fn not in out
        ):
            out.append(fn)
    return out


def _drop(table: dict, key: int, ref) -> None:
    with _lock:
        entry = table.get(key)
        if entry is not None and entry[0] is ref:
            del table[key]


def _remember(table: dict, obj, *values) -> bool:
    key = id(obj)
    try:
        ref = weakref.ref(obj, lambda r, k=key: _drop(table, k, r))
    except TypeError:  # not weak-referenceable (a list, a tuple): can't be tracked safely
        return False
    with _lock:
        table[key] = (ref, *values)
    return True


def _lookup(table: dict, obj):
    entry = table.get(id(obj))
    if entry is not None and entry[0]() is obj:
        return entry[1:]
    return None


def _tracked(value):
    """(run_id, dataset) if ``value`` is a tracked prediction or a numpy view of one (``proba[:, 1]``)."""
    for _ in range(4):
        if value is None:
            return None
        found = _lookup(_predictions, value)
        if found is not None:
            return found
        value = getattr(value, "base", None) if type(value).__module__ == "numpy" else None
    return None


def register_model(est, run_id: str) -> None:
    """Link a fitted estimator to its run: its predictions' metrics are logged there."""
    _remember(_models, est, run_id)


def run_of(est) -> str | None:
    found = _lookup(_models, est)
    return found[0] if found else None


def variable_name(obj) -> str | None:
    """The name of a local variable bound to ``obj`` in the nearest user frame (not ours or a library's)."""
    frame = sys._getframe(1)
    depth = 0
    while frame is not None and depth < 64:
        module = frame.f_globals.get("__name__", "") or ""
        if not module.startswith(_SKIP_FRAMES):
            for name, value in list(frame.f_locals.items()):
                if value is obj and not name.startswith("_"):
                    return name
        frame = frame.f_back
        depth += 1
    return None


def _run_state(run_id: str) -> dict:
    with _lock:
        return _runs.setdefault(run_id, {"datasets": {}, "counts": {}, "info": {}})


def dataset_name(run_id: str, X) -> tuple[str, bool]:
    """``X``'s variable name, and whether ``X`` is new to this run; a different object already seen under
    that name in this run becomes ``<name>-2``, ``<name>-3``..."""
    base = variable_name(X) or "unknown_dataset"
    seen = _run_state(run_id)["datasets"].setdefault(base, [])
    with _lock:
        for i, ref in enumerate(seen):
            if ref() is X:
                return (base if i == 0 else f"{base}-{i + 1}"), False
        try:
            seen.append(weakref.ref(X))
        except TypeError:
            seen.append(lambda: None)
        i = len(seen) - 1
    return (base if i == 0 else f"{base}-{i + 1}"), True


def log_eval_dataset(run_id: str, X, y, name: str) -> None:
    """Record ``X`` (and ``y``) as an input of the model's run, context ``eval``, under its variable name --
    once per object and run, when ``log_datasets`` is on (what the reference records for post-training data)."""
    from tracklet.autolog.config import get_config
    from tracklet.autolog.datasets import dataset_input
    from tracklet.tracking import current

    if not get_config(INTEGRATION).log_datasets:
        return
    entry = dataset_input(X, y, "eval", name)
    if entry is not None:
        current.get_client().log_inputs(run_id, [entry])


def _log_metric(run_id: str, metric: str, dataset: str, value, call_text: str) -> None:
    from tracklet.tracking import current
    from tracklet.tracking.entities import Metric

    if not finite(value):
        return
    state = _run_state(run_id)
    with _lock:
        n = state["counts"][(metric, dataset)] = state["counts"].get((metric, dataset), 0) + 1
        key = f"{metric}_{dataset}" if n == 1 else f"{metric}-{n}_{dataset}"
        state["info"][key] = call_text
        info = dict(state["info"])
    client = current.get_client()  # written at once: the user's script may read the run right after
    client.log_batch(run_id, metrics=[Metric(key, float(value), int(time.time() * 1000), 0)])
    client.log_dict(run_id, info, "metric_info.json")


def _describe(name: str, signature: inspect.Signature | None, args, kwargs) -> str:
    """``accuracy_score(y_true=y_test, y_pred=y_pred)``: arguments by variable name where possible."""
    try:
        bound = signature.bind(*args, **kwargs).arguments if signature is not None else None
    except TypeError:
        bound = None
    items = bound.items() if bound is not None else [(f"arg{i}", a) for i, a in enumerate(args)] + list(kwargs.items())
    parts = []
    for key, value in items:
        if isinstance(value, (int, float, str, bool)) or value is None:
            text = repr(value)
        else:
            text = variable_name(value) or f"<{type(value).__name__}>"
        parts.append(f"{key}={text}")
    return f"{name}({', '.join(parts)})"


def _busy() -> bool:
    return _in_metric.get() or session.current() is not None or session.suppressed()


def _model_call(instance, args, kwargs):
    """``(run_id, dataset name, guard token, (X, y) if X is new to the run else None)`` for a call on an
    autologged model's data (``predict(X)``, ``score(X, y)``), or None when it is not tracked. The guard
    keeps nested inference (Pipeline steps) and metrics called inside from being tracked separately."""
    if _busy() or not _models:
        return None
    run_id = run_of(instance)
    if run_id is None:
        return None
    X = args[0] if args else next(iter(kwargs.values()), None)
    y = args[1] if len(args) > 1 else kwargs.get("y")
    name, new = dataset_name(run_id, X)
    return run_id, name, _in_metric.set(True), ((X, y) if new else None)


class _PredictHooks(LightHooks):
    """Remember the result of an autologged model's inference, with its run and dataset name."""

    def before(self, instance, args, kwargs):
        state = _model_call(instance, args, kwargs)
        if state is not None and state[3] is not None:
            state = (*state[:3], (state[3][0], None))  # predict's second argument is not a target
        return state

    def after(self, state, instance, args, kwargs, result) -> None:
        _remember(_predictions, result, state[0], state[1])
        if state[3] is not None:
            log_eval_dataset(state[0], *state[3], state[1])

    def cleanup(self, state) -> None:
        _in_metric.reset(state[2])


class _ScoreHooks(LightHooks):
    """``model.score(X, y)`` of an autologged model -> ``<Class>_score_<dataset>``."""

    def before(self, instance, args, kwargs):
        return _model_call(instance, args, kwargs)

    def after(self, state, instance, args, kwargs, result) -> None:
        if state[3] is not None:
            log_eval_dataset(state[0], *state[3], state[1])
        name = type(instance).__name__
        try:
            signature = inspect.signature(instance.score)
        except (TypeError, ValueError):
            signature = None
        _log_metric(state[0], f"{name}_score", state[1], result, _describe(f"{name}.score", signature, args, kwargs))

    def cleanup(self, state) -> None:
        _in_metric.reset(state[2])


class _MetricHooks(LightHooks):
    """A ``sklearn.metrics`` function called on a tracked prediction -> ``<metric>_<dataset>``."""

    def __init__(self, fn):
        self.name = fn.__name__
        try:
            self.signature = inspect.signature(fn)
        except (TypeError, ValueError):
            self.signature = None

    def before(self, instance, args, kwargs):
        if not _predictions or _busy():
            return None
        for value in (*args, *kwargs.values()):
            found = _tracked(value)
            if found is not None:
                return found[0], found[1], _in_metric.set(True)
        return None

    def after(self, state, instance, args, kwargs, result) -> None:
        _log_metric(state[0], self.name, state[1], result, _describe(self.name, self.signature, args, kwargs))

    def cleanup(self, state) -> None:
        _in_metric.reset(state[2])


def reset_for_tests() -> None:
    """Forget every tracked model, prediction and per-run table (this module's own state)."""
    with _lock:
        _models.clear()
        _predictions.clear()
        _runs.clear()
