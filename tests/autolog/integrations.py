"""The integrations the contract suite (test_contract.py) runs over: one IntegrationCase per framework.

To add a framework, append an ``IntegrationCase`` to ``CASES``. Every callable must import the framework
inside its body (this module is imported before the framework in the import-order tests) and use tiny
data (the suite calls them many times):

* ``tiny_fit()``: a real training call through the main patched entry point; returns something that
  compares with ``==`` / ``numpy.testing`` (e.g. predictions), identical with and without autolog.
* ``fit_raising(exc)``: a training call during which the framework raises exactly ``exc`` (the same
  object), e.g. through a callback or an input whose ``__array__`` raises.
* ``patched()``: ``(owner, attribute)`` pairs that autolog must patch (a few representative ones).
* ``noisy_fit()``: a training call our autolog code warns about (an AutologWarning), e.g. a param over 6000
  characters: the ``silent=True`` contract checks it then prints and warns nothing.

``test_contract.py`` asserts that the cases here are exactly the integrations of ``autolog/registry.py``.
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
    noisy_fit: Callable[[], object]


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

    return [
        owner(LogisticRegression, "fit"),
        owner(Pipeline, "fit"),
        owner(BaseSearchCV, "fit"),
        owner(TransformerMixin, "fit_transform"),
        owner(LogisticRegression, "predict"),
        (sklearn.metrics, "accuracy_score"),
    ]


def _sk_noisy():
    from sklearn.cluster import DBSCAN  # neither predict nor transform: not logged as a model, with a warning

    X, _ = _sk_data()
    return DBSCAN().fit(X)


# ---------------------------------------------------------------------- XGBoost


def _xgb_fit():
    import xgboost as xgb

    X, y = _sk_data()
    dtrain = xgb.DMatrix(X, label=y)
    booster = xgb.train(
        {"objective": "binary:logistic", "max_depth": 2, "nthread": 1},
        dtrain,
        3,
        evals=[(dtrain, "train")],
        verbose_eval=False,
    )
    return booster.predict(dtrain)


def _xgb_noisy():
    import warnings

    import xgboost as xgb

    X, y = _sk_data()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"(?s).*are not used")  # xgboost's own, not ours
        return xgb.train({"nthread": 1, "note": "x" * 7000, "verbosity": 0}, xgb.DMatrix(X, label=y), 2)


def _xgb_fit_raising(exc):
    import xgboost as xgb

    class Raise(xgb.callback.TrainingCallback):
        def after_iteration(self, model, epoch, evals_log):
            raise exc

    X, y = _sk_data()
    xgb.train({"nthread": 1}, xgb.DMatrix(X, label=y), 3, callbacks=[Raise()])


def _xgb_patched():
    import xgboost
    import xgboost.sklearn

    return [
        (xgboost, "train"),
        (xgboost, "cv"),
        (xgboost.sklearn, "train"),
        (xgboost.sklearn.XGBModel, "fit"),
        (xgboost.sklearn.XGBClassifier, "fit"),
    ]


# ---------------------------------------------------------------------- LightGBM

_LGB_PARAMS = {"objective": "binary", "num_leaves": 4, "min_data_in_leaf": 5, "num_threads": 1, "verbose": -1}


def _lgb_fit():
    import lightgbm as lgb

    X, y = _sk_data()
    dtrain = lgb.Dataset(X, label=y)
    booster = lgb.train(_LGB_PARAMS, dtrain, 3, valid_sets=[dtrain])
    return booster.predict(X)


def _lgb_noisy():
    import lightgbm as lgb

    X, y = _sk_data()
    return lgb.train({**_LGB_PARAMS, "note": "x" * 7000}, lgb.Dataset(X, label=y), 2)


def _lgb_fit_raising(exc):
    import lightgbm as lgb

    def raise_(env):
        raise exc

    X, y = _sk_data()
    lgb.train(_LGB_PARAMS, lgb.Dataset(X, label=y), 3, callbacks=[raise_])


def _lgb_patched():
    import lightgbm
    import lightgbm.sklearn

    return [
        (lightgbm, "train"),
        (lightgbm, "cv"),
        (lightgbm.sklearn, "train"),
        (lightgbm.sklearn.LGBMModel, "fit"),
    ]


# ---------------------------------------------------------------------- Keras (TensorFlow backend here)


def _keras_model():
    import keras

    keras.utils.set_random_seed(0)  # the same initial weights with and without autolog
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="relu"), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    return model


def _keras_fit():
    X, y = _sk_data()
    model = _keras_model()
    model.fit(X, y.astype("float32"), epochs=2, batch_size=20, shuffle=False, verbose=0)
    return model.predict(X, verbose=0)


def _keras_fit_raising(exc):
    import keras

    class Raise(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            raise exc

    X, y = _sk_data()
    _keras_model().fit(X, y, epochs=2, verbose=0, callbacks=[Raise()])


def _keras_noisy():
    import keras

    X, y = _sk_data()
    model = _keras_model()
    model.compile(optimizer="sgd", loss=keras.losses.MeanSquaredError(name="l" * 7000))  # a param over 6000 chars
    model.fit(X, y.astype("float32"), epochs=1, verbose=0)


def _keras_patched():
    import keras

    return [(keras.Model, "fit")]


# ---------------------------------------------------------------------- Spark ML


def _spark_fit():
    """A LinearRegression fit (params) and an evaluation of its predictions (a post-training metric)."""
    from integrations.spark_session import get_spark
    from pyspark.ml.evaluation import RegressionEvaluator
    from pyspark.ml.linalg import Vectors
    from pyspark.ml.regression import LinearRegression

    rows = [(Vectors.dense([float(i), float(i % 3)]), 2.0 * i + (i % 3)) for i in range(8)]
    df = get_spark().createDataFrame(rows, ["features", "label"])
    model = LinearRegression(maxIter=3).fit(df)
    rmse = RegressionEvaluator().evaluate(model.transform(df))
    return [round(float(x), 9) for x in (*model.coefficients.toArray(), rmse)]


def _spark_fit_raising(exc):
    from integrations.spark_session import get_spark
    from pyspark.ml import Estimator

    class Raising(Estimator):
        def _fit(self, dataset):
            raise exc

    Raising().fit(get_spark().createDataFrame([(1.0,)], ["x"]))


def _spark_noisy():
    """A fit whose model class is not on the allowlist: logged without its model, with a warning."""
    from integrations.spark_session import get_spark
    from pyspark.ml import Estimator, Model

    class Identity(Model):
        def _transform(self, dataset):
            return dataset

    class Fit(Estimator):
        def _fit(self, dataset):
            return Identity()

    return Fit().fit(get_spark().createDataFrame([(1.0,)], ["x"]))


def _spark_patched():
    import pyspark.ml.base
    import pyspark.ml.evaluation
    import pyspark.ml.tuning

    return [
        (pyspark.ml.base.Estimator, "fit"),
        (pyspark.ml.base.Model, "transform"),
        (pyspark.ml.evaluation.Evaluator, "evaluate"),
        (pyspark.ml.tuning, "inheritable_thread_target"),
    ]


CASES: list[IntegrationCase] = [
    IntegrationCase("sklearn", "sklearn", _sk_fit, _sk_fit_raising, _sk_patched, _sk_noisy),
    IntegrationCase("xgboost", "xgboost", _xgb_fit, _xgb_fit_raising, _xgb_patched, _xgb_noisy),
    IntegrationCase("lightgbm", "lightgbm", _lgb_fit, _lgb_fit_raising, _lgb_patched, _lgb_noisy),
    IntegrationCase("keras", "keras", _keras_fit, _keras_fit_raising, _keras_patched, _keras_noisy),
    IntegrationCase("pyspark.ml", "pyspark.ml", _spark_fit, _spark_fit_raising, _spark_patched, _spark_noisy),
]


def installed_cases() -> list[IntegrationCase]:
    """The cases whose framework is installed."""
    import importlib.util

    # the top-level name only: find_spec("pyspark.ml") would import pyspark
    return [c for c in CASES if importlib.util.find_spec(c.module.partition(".")[0]) is not None]


def case(name: str) -> IntegrationCase:
    return next(c for c in CASES if c.name == name)
