"""scikit-learn training metrics: the ``training_*`` metrics and plots of a fit, computed on the training
data with one ``predict`` and one ``predict_proba`` pass shared by every metric, the default ``score`` and
the plots (one pass for forests, whose ``predict`` is the argmax of ``predict_proba``). A metric sklearn
can't compute for the data (log loss of a multi-output classifier...) is skipped with one warning.
"""

from __future__ import annotations

import inspect
import math

from tracklet.autolog import session
from tracklet.autolog.sklearn._common import INTEGRATION, finite, options

# ---------------------------------------------------------------------- training metrics


class _Collector:
    """Collects metric values; a metric that sklearn can't compute for this data is skipped and
    reported once (e.g. log_loss of a multi-output classifier), never raised."""

    def __init__(self):
        self.values: dict[str, float] = {}
        self.failed: dict[str, Exception] = {}

    def put(self, name: str, compute) -> float | None:
        try:
            value = compute()
        except (ValueError, TypeError, IndexError, NotImplementedError) as exc:
            self.failed[name] = exc
            return None
        if finite(value):
            self.values[name] = float(value)
            return float(value)
        return None


def log_training_metrics(call, est, X, y, sample_weight) -> None:
    """Compute ``training_*`` metrics (and classifier plots) on the training data: one ``predict`` and
    one ``predict_proba`` pass, reused by every metric, the default ``score`` and the plots."""
    from sklearn.base import is_classifier, is_regressor

    out = _Collector()
    sw = {"sample_weight": sample_weight} if sample_weight is not None else {}
    if y is not None and is_classifier(est):
        _classifier_metrics(call, est, X, y, sw, out)
    elif y is not None and is_regressor(est):
        _regressor_metrics(est, X, y, sw, out)
    elif hasattr(est, "score"):
        out.put("training_score", lambda: est.score(X) if y is None else _score(est, X, y, sw))
    call.logger.log_metrics(out.values)
    for name, exc in out.failed.items():
        session.warn_once(
            (INTEGRATION, "metric", name, type(est).__name__),
            f"tracklet: could not compute {name} for {type(est).__name__}: {exc}",
            call.config.silent,
        )


def _score(est, X, y, sw):
    if sw and "sample_weight" in inspect.signature(est.score).parameters:
        return est.score(X, y, **sw)
    return est.score(X, y)


def _uses_default_score(est, mixin) -> bool:
    owner = next((k for k in type(est).__mro__ if "score" in vars(k)), None)
    return owner is mixin


def _predict(est, X, out: _Collector):
    try:
        return est.predict(X)
    except (ValueError, TypeError, IndexError, NotImplementedError) as exc:
        out.failed["training metrics (predict on the training data)"] = exc
        return None


def _predict_via_proba(est) -> bool:
    """True when ``predict`` is by definition the argmax of ``predict_proba`` (forests): one pass, not two."""
    owner = next((k for k in type(est).__mro__ if "predict" in vars(k)), None)
    return owner is not None and owner.__qualname__ == "ForestClassifier" and owner.__module__.startswith("sklearn.")


def _classifier_metrics(call, est, X, y, sw, out: _Collector) -> None:
    from sklearn import metrics as M
    from sklearn.base import ClassifierMixin

    proba = None
    if _predict_via_proba(est) and getattr(est, "n_outputs_", 1) == 1:
        import numpy as np

        proba = est.predict_proba(X)
        y_pred = est.classes_.take(np.argmax(proba, axis=1), axis=0)
    else:
        y_pred = _predict(est, X, out)
    if y_pred is None:
        return
    pos_label = options(call.config).pos_label
    avg = {"average": "binary", "pos_label": pos_label} if pos_label is not None else {"average": "weighted"}
    out.put("training_precision_score", lambda: M.precision_score(y, y_pred, zero_division=0, **avg, **sw))
    out.put("training_recall_score", lambda: M.recall_score(y, y_pred, zero_division=0, **avg, **sw))
    out.put("training_f1_score", lambda: M.f1_score(y, y_pred, zero_division=0, **avg, **sw))
    accuracy = out.put("training_accuracy_score", lambda: M.accuracy_score(y, y_pred, **sw))
    if proba is None and hasattr(est, "predict_proba"):
        try:
            proba = est.predict_proba(X)
        except (ValueError, TypeError, AttributeError, NotImplementedError):
            proba = None
    classes = getattr(est, "classes_", None)
    if proba is not None and getattr(proba, "ndim", 0) == 2:
        out.put("training_log_loss", lambda: M.log_loss(y, proba, labels=classes, **sw))
        out.put("training_roc_auc", lambda: _roc_auc(y, proba, classes, pos_label, sw))
    if accuracy is not None and _uses_default_score(est, ClassifierMixin):
        out.values["training_score"] = accuracy  # ClassifierMixin.score is exactly this accuracy
    else:
        out.put("training_score", lambda: _score(est, X, y, sw))
    _log_classifier_plots(call, y, y_pred, proba, classes, pos_label, sw)


def _roc_auc(y, proba, classes, pos_label, sw):
    from sklearn.metrics import roc_auc_score

    if proba.shape[1] == 2:
        if pos_label is None or classes is None:
            return roc_auc_score(y, proba[:, 1], **sw)
        col = list(classes).index(pos_label)
        return roc_auc_score([v == pos_label for v in y], proba[:, col], **sw)
    # one-vs-one (MLflow's choice) doesn't support sample weights; weighted fits use one-vs-rest
    return roc_auc_score(y, proba, multi_class="ovr" if sw else "ovo", average="weighted", labels=classes, **sw)


def _regressor_metrics(est, X, y, sw, out: _Collector) -> None:
    from sklearn import metrics as M
    from sklearn.base import RegressorMixin

    y_pred = _predict(est, X, out)
    if y_pred is None:
        return
    mse = out.put("training_mean_squared_error", lambda: M.mean_squared_error(y, y_pred, **sw))
    if mse is not None:
        out.values["training_root_mean_squared_error"] = math.sqrt(mse)
    out.put("training_mean_absolute_error", lambda: M.mean_absolute_error(y, y_pred, **sw))
    r2 = out.put("training_r2_score", lambda: M.r2_score(y, y_pred, multioutput="uniform_average", **sw))
    if r2 is not None and _uses_default_score(est, RegressorMixin):
        out.values["training_score"] = r2  # RegressorMixin.score is exactly this r2
    else:
        out.put("training_score", lambda: _score(est, X, y, sw))


def _log_classifier_plots(call, y, y_pred, proba, classes, pos_label, sw) -> None:
    """training_confusion_matrix.png; for binary problems also the ROC and precision-recall curves -- what
    scikit-learn's displays show, drawn with Pillow (:mod:`tracklet.autolog._charts`): no matplotlib import
    and no figure rendering in the training thread."""
    from sklearn import metrics as M

    from tracklet.autolog import _charts

    def draw(name: str, render) -> None:
        try:
            png = render()
        except ImportError:  # no Pillow: the metrics are there
            return
        except (ValueError, TypeError, IndexError) as exc:
            session.warn_once(
                (INTEGRATION, "plot", name), f"tracklet: could not plot {name}: {exc}", call.config.silent
            )
            return
        call.logger.log_bytes(png, name)

    def confusion():
        labels = classes if classes is not None else sorted(set(y) | set(y_pred))
        matrix = M.confusion_matrix(y, y_pred, labels=labels, normalize="true", **sw)
        return _charts.confusion_matrix_png(matrix.tolist(), list(labels))

    draw("training_confusion_matrix.png", confusion)
    if proba is not None and getattr(proba, "ndim", 0) == 2 and proba.shape[1] == 2 and classes is not None:
        label = classes[1] if pos_label is None else pos_label
        score = proba[:, list(classes).index(label)]
        suffix = f" (Positive label: {label})"

        def roc():
            fpr, tpr, _ = M.roc_curve(y, score, pos_label=label, **sw)
            legend = f"AUC = {M.auc(fpr, tpr):.2f}"
            return _charts.curve_png(
                fpr, tpr, "False Positive Rate" + suffix, "True Positive Rate" + suffix, legend, "ROC curve"
            )

        def pr():
            precision, recall, _ = M.precision_recall_curve(y, score, pos_label=label, **sw)
            ap = M.average_precision_score(y, score, pos_label=label, **sw)
            # the curve from recall 0 to 1, as scikit-learn's display draws it
            return _charts.curve_png(
                recall[::-1],
                precision[::-1],
                "Recall" + suffix,
                "Precision" + suffix,
                f"AP = {ap:.2f}",
                "Precision-recall curve",
                step=True,
            )

        draw("training_roc_curve.png", roc)
        draw("training_precision_recall_curve.png", pr)
