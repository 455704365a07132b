"""scikit-learn autologging.

Patched (each method on the class that defines it; ``super().fit`` and nested estimators log once, at
the outermost call):

* ``fit``, ``fit_transform``, ``fit_predict`` of every estimator in ``sklearn.utils.all_estimators()``
  (Pipeline, GridSearchCV, RandomizedSearchCV included) and the successive-halving searches. Like
  MLflow, preprocessing-only estimators are not runs of their own: everything in ``sklearn.preprocessing``,
  ``sklearn.impute``, ``sklearn.feature_extraction``, ``sklearn.feature_selection`` and
  ``ColumnTransformer`` (a ``StandardScaler().fit`` before the real model would otherwise create a run
  per step). They are logged as part of a Pipeline.
* ``cross_val_score``, ``cross_validate``, ``cross_val_predict``, ``learning_curve``,
  ``validation_curve``, ``permutation_test_score``: their internal fits never create runs.
* ``sklearn.utils.parallel.Parallel``: tasks run in joblib worker threads inherit the autolog context,
  so the internal fits of a threaded search are not logged as runs either.
* post-training metrics (``predict``/``score``/``sklearn.metrics``): see :mod:`._post`.

A run records params (``get_params(deep=True)``; ``deep=False`` for searches), the tags
``estimator_name``/``estimator_class``, ``training_*`` metrics on the training data, ``estimator.html``,
confusion matrix / ROC / precision-recall plots for classifiers, and the model (``model/``).

Parts: this entry (which estimators, the fit hooks), :mod:`._training` (training metrics and plots),
:mod:`._post` (post-training metrics), :mod:`._search` (hyperparameter searches); they share
:mod:`._common` (options, model logging) and never import this entry.
"""

from __future__ import annotations

import copy

from tracklet.autolog import deferred, kit, session
from tracklet.autolog.patching import LightHooks, PatchHooks, defer, safe_patch, wrap_light, wrap_raw
from tracklet.autolog.sklearn import _post, _search, _training
from tracklet.autolog.sklearn._common import INTEGRATION, SklearnOptions, defining_classes, log_model

TRAINING_METHODS = ("fit", "fit_transform", "fit_predict")
EXCLUDED_MODULES = (
    "sklearn.preprocessing",
    "sklearn.impute",
    "sklearn.feature_extraction",
    "sklearn.feature_selection",
)
EXCLUDED_CLASSES = ("sklearn.compose._column_transformer.ColumnTransformer",)
NO_LOGGING_FUNCTIONS = (
    "cross_validate",
    "cross_val_score",
    "cross_val_predict",
    "learning_curve",
    "validation_curve",
    "permutation_test_score",
)

# class -> True (autologged) / False (excluded); filled by install()
_eligibility: dict[type, bool] = {}


autolog = kit.declare_autolog(
    INTEGRATION,
    SklearnOptions,
    """Autolog scikit-learn: every ``fit`` records params, training metrics, plots and the model.

    ``max_tuning_runs``: child runs for the best N candidates of a hyperparameter search (None: all).
    ``log_post_training_metrics``: log ``sklearn.metrics`` calls and ``model.score`` on the predictions of
    an autologged model as ``<metric>_<dataset variable>``. ``pos_label``: the positive class for binary
    precision/recall/F1 (default: weighted averages). ``serialization_format``: ``cloudpickle`` or
    ``pickle``.
    """,
)


# ---------------------------------------------------------------------- which estimators

_classes_cache: list = []


def _estimator_classes() -> tuple[list[type], list[type]]:
    """(autologged classes, excluded classes); computed once per process (all_estimators imports every
    sklearn submodule, ~0.5 s)."""
    if not _classes_cache:
        _classes_cache.append(_find_estimator_classes())
    return _classes_cache[0]


def _find_estimator_classes() -> tuple[list[type], list[type]]:
    from sklearn.utils import all_estimators

    classes = [cls for _name, cls in all_estimators()]
    try:
        from sklearn.model_selection._search_successive_halving import (
            HalvingGridSearchCV,
            HalvingRandomSearchCV,
        )

        classes += [HalvingGridSearchCV, HalvingRandomSearchCV]
    except ImportError:
        pass
    from sklearn.model_selection import GridSearchCV, RandomizedSearchCV
    from sklearn.pipeline import Pipeline

    classes += [cls for cls in (Pipeline, GridSearchCV, RandomizedSearchCV) if cls not in classes]
    included, excluded = [], []
    for cls in classes:
        name = f"{cls.__module__}.{cls.__qualname__}"
        if cls.__module__.startswith(EXCLUDED_MODULES) or name in EXCLUDED_CLASSES:
            excluded.append(cls)
        else:
            included.append(cls)
    return included, excluded


def is_autologged_class(cls: type) -> bool:
    """The first class of ``cls``'s MRO that we know decides (user subclasses inherit the decision)."""
    decided = _eligibility.get(cls)
    if decided is None:
        decided = next((_eligibility[k] for k in cls.__mro__ if k in _eligibility), False)
        _eligibility[cls] = decided
    return decided


# ---------------------------------------------------------------------- install


def install(module, config) -> None:
    """Patch scikit-learn (called once ``sklearn`` is imported and autologging is enabled)."""
    included, excluded = _estimator_classes()
    _eligibility.clear()
    _eligibility.update({cls: False for cls in excluded})
    _eligibility.update({cls: True for cls in included})
    hooks = FitHooks()
    for method in TRAINING_METHODS:
        for owner in defining_classes(included, method):
            safe_patch(INTEGRATION, owner, method, hooks)
    for owner in defining_classes(included, "partial_fit"):
        wrap_light(INTEGRATION, owner, "partial_fit", _WaitHooks())
    _patch_no_logging_functions()
    _patch_parallel()
    _post.install(included)


class _WaitHooks(LightHooks):
    """``partial_fit`` changes a fitted model in place: it waits for the model's pending post-fit recording."""

    def before(self, instance, args, kwargs):
        if instance is not None:
            deferred.wait_for(instance)
        return None


def _patch_no_logging_functions() -> None:
    import sklearn.model_selection as ms

    from tracklet.autolog.patching import wrap_functions_everywhere

    hooks = _SuppressHooks()
    wrap_functions_everywhere(INTEGRATION, {getattr(ms, n): hooks for n in NO_LOGGING_FUNCTIONS if hasattr(ms, n)})


class _SuppressHooks(LightHooks):
    """cross_val_score & co.: the many fits inside are not runs."""

    def before(self, instance, args, kwargs):
        return session._suppressed.set(True)

    def cleanup(self, token) -> None:
        session._suppressed.reset(token)


def _patch_parallel() -> None:
    """Hand the autolog context to sklearn's joblib tasks (threads start with an empty context)."""
    import threading
    import weakref

    from sklearn.utils import parallel

    contexts: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # task -> the caller's context
    lock = threading.Lock()

    def parallel_call(wrapped, instance, args, kwargs):
        captured = session.capture_context()
        if captured is None or not args:
            return wrapped(*args, **kwargs)

        def tagged(iterable):
            for func, a, k in iterable:
                try:
                    with lock:
                        contexts[func] = captured
                except TypeError:
                    pass
                yield func, a, k

        return wrapped(tagged(args[0]), *args[1:], **kwargs)

    def task_call(wrapped, instance, args, kwargs):
        if instance is None or not contexts:
            return wrapped(*args, **kwargs)
        with lock:
            captured = contexts.pop(instance, None)
        if captured is None:
            return wrapped(*args, **kwargs)
        return captured.copy().run(wrapped, *args, **kwargs)

    wrap_raw(INTEGRATION, parallel.Parallel, "__call__", parallel_call)
    wrap_raw(INTEGRATION, parallel._FuncWrapper, "__call__", task_call)


# ---------------------------------------------------------------------- the fit hooks


def _training_data(call) -> tuple:
    """(X, y, sample_weight) from a fit call, by parameter name: the first two parameters are the
    features and targets whatever they are called (``X, y`` / ``X, Y``)."""
    bound = call.bound
    if bound is None:
        return None, None, None
    names = [n for n, p in bound.signature.parameters.items() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    args = bound.arguments
    X = args.get(names[0]) if names else None
    y = args.get(names[1]) if len(names) > 1 else None
    sw = args.get("sample_weight")
    if sw is None:
        extra = next(
            (args[n] for n, p in bound.signature.parameters.items() if p.kind == p.VAR_KEYWORD and n in args),
            None,
        )
        sw = (extra or {}).get("sample_weight")
    return X, y, sw


def _is_search(est) -> bool:
    from sklearn.model_selection._search import BaseSearchCV

    return isinstance(est, BaseSearchCV)


class FitHooks(PatchHooks):
    """``fit``/``fit_transform``/``fit_predict`` of an autologged estimator."""

    def applies(self, instance, args, kwargs) -> bool:
        return instance is not None and not isinstance(instance, type) and is_autologged_class(type(instance))

    def before(self, call) -> None:
        est = call.instance
        X, y, sw = _training_data(call)
        call.state.update(X=X, y=y, sample_weight=sw)
        kit.log_params(call, est.get_params(deep=not _is_search(est)))
        cls = type(est)
        call.logger.set_tags(
            {"estimator_name": cls.__name__, "estimator_class": f"{cls.__module__}.{cls.__qualname__}"}
        )
        kit.capture_example(call, X)

    def after(self, call, result) -> None:
        est, st = call.instance, call.state
        # now, on the training thread: a prediction made right after fit is linked to this run, and its
        # evaluation dataset is recorded after the training dataset (a digest of a few rows and a write)
        _post.register_model(est, call.run_id)
        if _is_search(est) and hasattr(est, "best_estimator_"):
            _post.register_model(est.best_estimator_, call.run_id)
        if st["X"] is not None:
            kit.log_datasets(call, [kit.dataset_input(st["X"], st["y"], "train")])
        defer(call, _record, _snapshot(est))


def _record(call, est) -> None:
    """What a fit records once training is over (on the post-fit worker: see ``patching.defer``); ``est`` is a
    snapshot of the fitted estimator."""
    st = call.state
    search = _is_search(est)
    refit = not search or hasattr(est, "best_estimator_")  # a search with refit=False can't predict
    if refit and (st["y"] is not None or not _is_supervised(est)):
        _training.log_training_metrics(call, est, st["X"], st["y"], st["sample_weight"])
    _log_html(call, est)
    if search:
        _search.log_search(call, est)
    if refit:
        log_model(call, est, "model")


_SNAPSHOT_DEPTH = 3  # Pipeline -> its steps -> a step's own estimators


def _snapshot(est, depth: int = 0):
    """A copy of the fitted ``est`` that later changes to ``est`` can't reach: a shallow copy (arrays are shared;
    a refit assigns new ones), likewise for the estimators it holds -- Pipeline steps, a search's
    ``best_estimator_``, a forest's trees -- in new lists, so ``set_params`` (which reaches nested estimators
    and replaces Pipeline steps in their list) changes nothing recorded. Training that changes a model in place
    (``warm_start``, ``partial_fit``) waits for the recording instead (see ``patching``)."""
    try:
        snap = copy.copy(est)
        attrs = vars(snap)
    except Exception:  # noqa: BLE001 - not copyable (or no __dict__): record the estimator itself
        return est
    if depth < _SNAPSHOT_DEPTH:
        for name, value in list(attrs.items()):
            attrs[name] = _snapshot_value(value, depth + 1)
    return snap


def _snapshot_value(value, depth: int):
    from sklearn.base import BaseEstimator

    if isinstance(value, BaseEstimator):
        return _snapshot(value, depth)
    if type(value) in (list, tuple) and any(
        isinstance(v, BaseEstimator) or (type(v) is tuple and any(isinstance(x, BaseEstimator) for x in v))
        for v in value
    ):
        items = [
            tuple(_snapshot_value(x, depth) for x in v) if type(v) is tuple else _snapshot_value(v, depth)
            for v in value
        ]
        return items if type(value) is list else tuple(items)
    return value


def _is_supervised(est) -> bool:
    from sklearn.base import is_classifier, is_regressor

    return is_classifier(est) or is_regressor(est)


def _log_html(call, est) -> None:
    from sklearn.utils import estimator_html_repr

    call.logger.log_text(estimator_html_repr(est), "estimator.html")


def reset_for_tests() -> None:
    """Forget the tables the integration keeps across calls (tracked models and predictions)."""
    _post.reset_for_tests()
