"""Issue 7, "Autolog records what it claims": one regression test per item, on tiny real fits of every
integration whose framework is installed (each test skips itself when its framework is missing)."""

from __future__ import annotations

import itertools
import json
import warnings

import pytest

np = pytest.importorskip("numpy")
pd = pytest.importorskip("pandas")

import tracklet  # noqa: E402
from tracklet.autolog.session import AutologWarning  # noqa: E402

KINDS = ("numpy", "DataFrame", "Series", "list")


def _data(n=60):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, 3))
    return X, (X[:, 0] + 0.3 * rng.normal(size=n) > 0).astype(int)


def as_kind(arr, kind):
    if kind == "numpy":
        return arr
    if kind == "list":
        return arr.tolist()
    if kind == "Series":
        return pd.Series(arr if arr.ndim == 1 else arr[:, 0], name="target" if arr.ndim == 1 else "f0")
    return pd.DataFrame(arr.reshape(len(arr), -1), columns=[f"c{i}" for i in range(arr.reshape(len(arr), -1).shape[1])])


def client():
    return tracklet.MlflowClient()


def runs():
    tracklet.flush_async_logging()
    return tracklet.search_runs(output_format="list", order_by=["start_time ASC"])


def inputs_of(run_id):
    return [
        (i.dataset.name, {t.key: t.value for t in i.tags}["mlflow.data.context"], i.dataset.digest)
        for i in client().get_run(run_id).inputs.dataset_inputs
    ]


# ---------------------------------------------------------------------- dataset logging, every input combination


@pytest.mark.parametrize(("x_kind", "y_kind", "weighted"), list(itertools.product(KINDS, KINDS, (False, True))))
def test_sklearn_dataset_logging_for_every_input_combination(x_kind, y_kind, weighted):
    pytest.importorskip("sklearn")
    from sklearn.linear_model import LogisticRegression

    X, y = _data()
    if x_kind == "Series":
        X = X[:, :1]  # a Series is one feature
    Xk = as_kind(X, x_kind)
    if x_kind == "Series":
        Xk = Xk.to_frame()  # sklearn needs 2-D features; a one-column frame made from a Series
    yk = as_kind(y, y_kind)
    if y_kind == "DataFrame":
        yk = yk.iloc[:, 0]  # a one-column target frame would warn (DataConversionWarning) in sklearn itself
    tracklet.sklearn.autolog(log_models=False)
    kwargs = {"sample_weight": np.linspace(0.5, 1.5, len(y))} if weighted else {}
    LogisticRegression().fit(Xk, yk, **kwargs)  # strict mode: any failure of ours raises here
    (run,) = runs()
    assert run.info.status == "FINISHED"
    got = inputs_of(run.info.run_id)
    if x_kind == "list":
        assert got == []  # plain lists are not described, as in the reference
    else:
        assert [(name, ctx) for name, ctx, _ in got] == [("dataset", "train")]
        assert len(got[0][2]) == 8


def test_boosting_sklearn_api_dataset_logging_for_input_combinations():
    xgb = pytest.importorskip("xgboost")
    lgb = pytest.importorskip("lightgbm")
    X, y = _data()
    tracklet.autolog(log_models=False)
    for x_kind, y_kind, weighted in itertools.product(("numpy", "DataFrame"), KINDS, (False, True)):
        yk = as_kind(y, y_kind)
        if y_kind == "DataFrame":
            yk = yk.iloc[:, 0]
        kwargs = {"sample_weight": np.linspace(0.5, 1.5, len(y))} if weighted else {}
        xgb.XGBClassifier(n_estimators=2, nthread=1).fit(as_kind(X, x_kind), yk, **kwargs)
        lgb.LGBMClassifier(n_estimators=2, verbose=-1, num_threads=1).fit(as_kind(X, x_kind), yk, **kwargs)
        for run in runs()[-2:]:
            assert [c for _, c, _ in inputs_of(run.info.run_id)] == ["train"], (x_kind, y_kind, weighted)


def test_dataset_digests_are_the_reference_systems():
    """The same data gets the same digest whichever library logged it (mlflow is a test-only peer)."""
    digest_utils = pytest.importorskip("mlflow.data.digest_utils")
    from tracklet.autolog.datasets import dataset_input

    X, y = _data(200)
    df = pd.DataFrame(X, columns=["b", "a", "c"]).assign(s=["x", "y"] * 100, mixed=[1] * 199 + ["z"])
    assert dataset_input(X, y).dataset.digest == digest_utils.compute_numpy_digest(X, y)
    assert dataset_input(df, y).dataset.digest == digest_utils.compute_pandas_digest(df)
    sparse = pytest.importorskip("scipy.sparse")
    S = sparse.random(3000, 7, density=0.3, format="csr", random_state=0)
    assert dataset_input(S).dataset.digest == digest_utils.compute_numpy_digest(S.toarray())


# ---------------------------------------------------------------------- options the integrations ignored


def test_xgboost_importance_warning_is_silenced_by_silent():
    xgb = pytest.importorskip("xgboost")
    X, y = _data()

    def fit():
        xgb.train({"booster": "gblinear", "nthread": 1}, xgb.DMatrix(X, label=y), 2)

    tracklet.xgboost.autolog(importance_types=["gain"], log_models=False)
    with pytest.warns(AutologWarning, match="no 'gain' feature importance"):
        fit()
    tracklet.xgboost.autolog(importance_types=["gain"], log_models=False, silent=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit()
    assert [w for w in caught if issubclass(w.category, AutologWarning)] == []


def test_sklearn_api_logs_the_objective_actually_trained():
    xgb = pytest.importorskip("xgboost")
    lgb = pytest.importorskip("lightgbm")
    X, y = _data(90)
    y3 = np.arange(90) % 3
    tracklet.autolog(log_models=False)
    lgb.LGBMClassifier(n_estimators=2, verbose=-1).fit(X, y)
    lgb.LGBMRegressor(n_estimators=2, verbose=-1).fit(X, y.astype(float))
    xgb.XGBClassifier(n_estimators=2, nthread=1).fit(X, y3)  # get_params() said binary:logistic before fit
    assert [r.data.params["objective"] for r in runs()] == ["binary", "regression", "multi:softprob"]


# ---------------------------------------------------------------------- datasets


def test_post_training_metrics_record_the_eval_dataset():
    pytest.importorskip("sklearn")
    import sklearn.metrics
    from sklearn.linear_model import LogisticRegression

    X, y = _data()
    X_train, X_test, y_train, y_test = X[:40], X[40:], y[:40], y[40:]
    tracklet.sklearn.autolog(log_models=False)
    model = LogisticRegression().fit(X_train, y_train)
    sklearn.metrics.accuracy_score(y_test, model.predict(X_test))
    model.predict(X_test)  # the same object again: recorded once
    (run,) = runs()
    got = inputs_of(run.info.run_id)
    assert [(n, c) for n, c, _ in got] == [("dataset", "train"), ("X_test", "eval")]
    assert "accuracy_score_X_test" in run.data.metrics


def test_xgboost_eval_set_equal_to_the_training_data_is_kept():
    xgb = pytest.importorskip("xgboost")
    X, y = _data()
    tracklet.xgboost.autolog(log_models=False)
    xgb.XGBClassifier(n_estimators=2, nthread=1).fit(X, y, eval_set=[(X, y)], verbose=False)
    (run,) = runs()
    got = inputs_of(run.info.run_id)
    assert sorted((n, c) for n, c, _ in got) == [("train", "train"), ("validation_0", "eval")]
    assert got[0][2] == got[1][2]  # the same data, the same digest
    assert "validation_0-logloss" in run.data.metrics


def test_search_child_runs_carry_the_parents_system_tags():
    pytest.importorskip("sklearn")
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV

    X, y = _data()
    tracklet.sklearn.autolog(log_models=False)
    GridSearchCV(LogisticRegression(), {"C": [0.1, 1.0]}, cv=2).fit(X, y)
    all_runs = runs()
    (parent,) = [r for r in all_runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in all_runs if r is not parent]
    system = {k: v for k, v in parent.data.tags.items() if k == "mlflow.user" or k.startswith("mlflow.source.")}
    assert "mlflow.user" in system and "mlflow.source.name" in system
    assert len(children) == 2
    for child in children:
        assert {k: child.data.tags.get(k) for k in system} == system
        assert child.data.tags["mlflow.parentRunId"] == parent.info.run_id


# ---------------------------------------------------------------------- params in a user's run


def test_a_user_param_conflict_loses_no_other_param_and_is_named_once():
    pytest.importorskip("sklearn")
    from sklearn.linear_model import LogisticRegression

    X, y = _data()
    tracklet.sklearn.autolog(log_models=False)
    with tracklet.start_run() as run:
        tracklet.log_param("C", 5)
        with pytest.warns(AutologWarning, match=r"\['C'\]") as caught:
            LogisticRegression(C=1.0).fit(X, y)
    params = client().get_run(run.info.run_id).data.params
    assert params["C"] == "5" and params["max_iter"] == "100" and params["solver"] == "lbfgs"
    assert len([w for w in caught if issubclass(w.category, AutologWarning)]) == 1


def test_a_second_autologged_fit_in_a_user_run_gets_a_child_run():
    pytest.importorskip("sklearn")
    from sklearn.linear_model import LogisticRegression

    X, y = _data()
    tracklet.sklearn.autolog(log_models=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", AutologWarning)  # no collision, nothing to warn about
        with tracklet.start_run() as user_run:
            LogisticRegression(C=1.0).fit(X, y)
            LogisticRegression(C=2.0).fit(X, y)
            assert tracklet.active_run().info.run_id == user_run.info.run_id
    parent, child = runs()
    assert parent.info.run_id == user_run.info.run_id and parent.data.params["C"] == "1.0"
    assert child.data.params["C"] == "2.0" and child.info.status == "FINISHED"
    assert child.data.tags["mlflow.parentRunId"] == user_run.info.run_id
    assert child.data.tags["tracklet.autolog.nestedFit"] == "true"
    assert child.data.tags["mlflow.autologging"] == "sklearn"
    assert "training_score" in child.data.metrics
    assert json.loads(json.dumps(parent.data.metrics))  # the first fit's metrics stayed on the user's run
