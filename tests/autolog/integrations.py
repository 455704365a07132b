"""The integrations the contract suite (test_contract.py) runs over: one IntegrationCase per framework.

To add a framework, append an ``IntegrationCase`` to ``CASES``. Every callable must import the framework
inside its body (this module is imported before the framework in the import-order tests) and use tiny
data (the suite calls them many times):

* ``tiny_fit()``: a real training call through the main patched entry point; returns something that
  compares with ``==`` / ``numpy.testing`` (e.g. predictions), identical with and without autolog.
* ``fit_raising(exc)``: a training call during which the framework raises exactly ``exc`` (the same
  object), e.g. through a callback or an input whose ``__array__`` raises.
* ``patched()``: ``(owner, attribute)`` pairs that autolog must patch (a few representative ones).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class IntegrationCase:
    name: str  # the registry name (tracklet.autolog.registry.INTEGRATIONS) and mlflow.autologging tag
    module: str  # the framework's import name
    tiny_fit: Callable[[], object]
    fit_raising: Callable[[BaseException], None]
    patched: Callable[[], list[tuple[object, str]]]


# ---------------------------------------------------------------------- scikit-learn

def _sk_data():
    import numpy as np

    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    return X, (X[:, 0] + 0.2 * X[:, 1] > 0).astype(int)


def _sk_fit():
    from sklearn.linear_model import Ridge  # a regressor: no plots, so the contract suite stays quick

    X, y = _sk_data()
    return Ridge().fit(X, y).predict(X)


class _RaisingArray:
    def __init__(self, exc):
        self.exc = exc

    def __array__(self, *args, **kwargs):
        raise self.exc


def _sk_fit_raising(exc):
    from sklearn.linear_model import LogisticRegression

    LogisticRegression().fit(_RaisingArray(exc), [0, 1])


def _sk_patched():
    import sklearn.metrics
    from sklearn.base import TransformerMixin
    from sklearn.linear_model._logistic import LogisticRegression
    from sklearn.model_selection._search import BaseSearchCV
    from sklearn.pipeline import Pipeline

    def owner(cls, attribute):  # patches sit on the class that defines the method
        return next(k for k in cls.__mro__ if attribute in vars(k)), attribute

    return [owner(LogisticRegression, "fit"), owner(Pipeline, "fit"), owner(BaseSearchCV, "fit"),
            owner(TransformerMixin, "fit_transform"), owner(LogisticRegression, "predict"),
            (sklearn.metrics, "accuracy_score")]


CASES: list[IntegrationCase] = [
    IntegrationCase("sklearn", "sklearn", _sk_fit, _sk_fit_raising, _sk_patched),
]


def installed_cases() -> list[IntegrationCase]:
    """The cases whose framework is installed."""
    import importlib.util

    return [c for c in CASES if importlib.util.find_spec(c.module) is not None]


def case(name: str) -> IntegrationCase:
    return next(c for c in CASES if c.name == name)
