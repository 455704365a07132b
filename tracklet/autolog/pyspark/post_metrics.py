"""Post-training metrics: ``evaluator.evaluate(model.transform(df))`` after an autologged fit.

``transform`` of a model an autologged ``fit`` returned remembers its result DataFrame (by identity, through a
weak reference, so a recycled ``id()`` never links the wrong object) with the model's run and the *variable
name* of its input, found in the caller's frames (``test_df``; ``unknown_dataset`` when it has none). An
``Evaluator.evaluate`` of that exact DataFrame logs ``<metricName>_<dataset>`` to the run
(``areaUnderROC_test_df``; ``-2``, ``-3``... when the same metric is logged again on the same dataset, and
a different DataFrame under an already used name becomes ``<name>-2``); ``metric_info.json`` maps each key
to the evaluator's class and params. With ``log_datasets`` the evaluated DataFrame is recorded as an ``eval``
dataset input. Nothing is tracked inside a fit (CrossValidator's own evaluations) or inside another tracked
call (a PipelineModel's stages).
"""

from __future__ import annotations

import contextvars
import sys
import threading
import time
import weakref

from tracklet.autolog import session
from tracklet.autolog.config import get_config
from tracklet.autolog.patching import LightHooks, wrap_light
from tracklet.autolog.pyspark.common import INTEGRATION, class_name, jsonable

_SKIP_FRAMES = ("tracklet.autolog", "wrapt", "pyspark", "py4j")
_lock = threading.RLock()
_models: dict[int, tuple] = {}  # id(model) -> (weakref, run_id)
_predictions: dict[int, tuple] = {}  # id(result DataFrame) -> (weakref, run_id, dataset name)
_runs: dict[str, dict] = {}  # run_id -> {"datasets": {name: [refs]}, "counts": {...}, "info": {...}}
_busy: contextvars.ContextVar[bool] = contextvars.ContextVar("tracklet_spark_post_metrics", default=False)


def install() -> None:
    """Patch ``Model.transform`` and ``Evaluator.evaluate``."""
    from pyspark.ml.base import Model
    from pyspark.ml.evaluation import Evaluator

    wrap_light(INTEGRATION, Model, "transform", _TransformHooks())
    wrap_light(INTEGRATION, Evaluator, "evaluate", _EvaluateHooks())


def _drop(table: dict, key: int, ref) -> None:
    with _lock:
        entry = table.get(key)
        if entry is not None and entry[0] is ref:
            del table[key]


def _remember(table: dict, obj, *values) -> None:
    key = id(obj)

    def forget(ref, drop=_drop):
        try:
            drop(table, key, ref)
        except Exception:  # noqa: BLE001 - at interpreter exit the module's globals may be gone
            pass

    ref = weakref.ref(obj, forget)
    with _lock:
        table[key] = (ref, *values)


def _lookup(table: dict, obj):
    entry = table.get(id(obj))
    return entry[1:] if entry is not None and entry[0]() is obj else None


def register_model(model, run_id: str) -> None:
    """Link a fitted model to its run: metrics of its predictions are logged there."""
    _remember(_models, model, run_id)


def variable_name(obj) -> str | None:
    """The name of a variable bound to ``obj`` in the nearest frame outside tracklet, wrapt and Spark."""
    frame = sys._getframe(1)
    for _ in range(64):
        if frame is None:
            return None
        if not (frame.f_globals.get("__name__") or "").startswith(_SKIP_FRAMES):
            for name, value in list(frame.f_locals.items()):
                if value is obj and not name.startswith("_"):
                    return name
        frame = frame.f_back
    return None


def _run_state(run_id: str) -> dict:
    with _lock:
        return _runs.setdefault(run_id, {"datasets": {}, "counts": {}, "info": {}})


def dataset_name(run_id: str, df) -> str:
    base = variable_name(df) or "unknown_dataset"
    with _lock:
        seen = _run_state(run_id)["datasets"].setdefault(base, [])
        index = next((i for i, ref in enumerate(seen) if ref() is df), None)
        if index is None:
            seen.append(weakref.ref(df))
            index = len(seen) - 1
    return base if index == 0 else f"{base}-{index + 1}"


def _skip() -> bool:
    return _busy.get() or session.current() is not None or session.suppressed()


class _TransformHooks(LightHooks):
    def before(self, instance, args, kwargs):
        if not _models or _skip():
            return None
        found = _lookup(_models, instance)
        if found is None:
            return None
        df = args[0] if args else kwargs.get("dataset")
        return found[0], dataset_name(found[0], df), _busy.set(True)

    def after(self, state, instance, args, kwargs, result) -> None:
        _remember(_predictions, result, state[0], state[1])

    def cleanup(self, state) -> None:
        _busy.reset(state[2])


class _EvaluateHooks(LightHooks):
    def before(self, instance, args, kwargs):
        if not _predictions or _skip():
            return None
        df = args[0] if args else kwargs.get("dataset")
        found = _lookup(_predictions, df)
        if found is None:
            return None
        return found[0], found[1], df, _busy.set(True)

    def after(self, state, instance, args, kwargs, result) -> None:
        run_id, dataset, df = state[0], state[1], state[2]
        params = args[1] if len(args) > 1 else kwargs.get("params")
        evaluator = instance.copy(params) if params else instance
        if isinstance(result, bool) or not isinstance(result, (int, float)):
            return
        _log_metric(run_id, evaluator, dataset, float(result))
        if get_config(INTEGRATION).log_datasets:
            from tracklet.autolog.pyspark.datasets import log_dataframe

            log_dataframe(run_id, df, "eval")

    def cleanup(self, state) -> None:
        _busy.reset(state[3])


def _log_metric(run_id: str, evaluator, dataset: str, value: float) -> None:
    from tracklet.tracking import current
    from tracklet.tracking.entities import Metric

    metric = evaluator.getMetricName()
    params = {p.name: evaluator.getOrDefault(p) for p in evaluator.params if evaluator.isDefined(p)}
    state = _run_state(run_id)
    with _lock:
        n = state["counts"][(metric, dataset)] = state["counts"].get((metric, dataset), 0) + 1
        key = f"{metric}_{dataset}" if n == 1 else f"{metric}-{n}_{dataset}"
        state["info"][key] = {"evaluator_class": class_name(evaluator), "params": jsonable(params)}
        info = dict(sorted(state["info"].items()))
    client = current.get_client()  # written at once: the user's script may read the run right after
    client.log_batch(run_id, metrics=[Metric(key, value, int(time.time() * 1000), 0)])
    client.log_dict(run_id, info, "metric_info.json")


def _reset_for_tests() -> None:
    with _lock:
        _models.clear()
        _predictions.clear()
        _runs.clear()
