"""LightGBM autologging on tiny real fits: what the store holds afterwards."""

from __future__ import annotations

import json
import warnings

import pytest

lgb = pytest.importorskip("lightgbm")
np = pytest.importorskip("numpy")
pd = pytest.importorskip("pandas")

import tracklet  # noqa: E402
from tracklet.autolog.session import AutologWarning  # noqa: E402

# lightgbm 4.7 deprecates eval_set for eval_X/eval_y, which older 4.x don't have
pytestmark = pytest.mark.filterwarnings("ignore:The argument 'eval_set' is deprecated")


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(300, 5)), columns=[f"feat_{i}" for i in range(5)])
    y = (X["feat_0"] + 0.5 * X["feat_1"] + rng.normal(scale=0.8, size=300) > 0).astype(int)
    return X.iloc[:240], y.iloc[:240], X.iloc[240:], y.iloc[240:]


PARAMS = {
    "objective": "binary",
    "metric": ["binary_logloss", "auc"],
    "num_leaves": 4,
    "learning_rate": 0.3,
    "min_data_in_leaf": 5,
    "num_threads": 1,
    "verbose": -1,
}


def datasets(data):
    Xt, yt, Xv, yv = data
    dtrain = lgb.Dataset(Xt, label=yt)
    return dtrain, lgb.Dataset(Xv, label=yv, reference=dtrain)


def client():
    return tracklet.MlflowClient()


def last_run():
    run = tracklet.last_active_run()
    assert run is not None
    return client().get_run(run.info.run_id)


def history(run_id, key):
    return [(m.step, m.value) for m in sorted(client().get_metric_history(run_id, key), key=lambda m: m.step)]


def assert_history(got, values):
    """`got` is [(step, value), ...]: steps 0..n-1 exactly, values approximately (pytest.approx takes no tuples)."""
    assert [step for step, _ in got] == list(range(len(values)))
    assert [value for _, value in got] == pytest.approx(list(values))


def artifacts(run_id, path=None):
    return {f.path for f in client().list_artifacts(run_id, path)}


def read_json(run_id, path):
    with open(client().download_artifacts(run_id, path)) as f:
        return json.load(f)


def test_train_logs_params_metrics_and_importance(data):
    dtrain, dvalid = datasets(data)
    tracklet.lightgbm.autolog(log_models=False)
    evals = {}
    booster = lgb.train(
        PARAMS,
        dtrain,
        num_boost_round=4,
        valid_sets=[dtrain, dvalid],
        valid_names=["train", "valid"],
        callbacks=[lgb.record_evaluation(evals)],
    )
    run = last_run()
    assert run.info.status == "FINISHED" and run.data.tags["mlflow.autologging"] == "lightgbm"
    p = run.data.params
    assert p["num_leaves"] == "4" and p["metric"] == "['binary_logloss', 'auc']"
    assert p["num_boost_round"] == "4" and p["keep_training_booster"] == "False"
    for name in ("train", "valid"):
        for metric in ("binary_logloss", "auc"):
            assert_history(history(run.info.run_id, f"{name}-{metric}"), evals[name][metric])
    assert "best_iteration" not in run.data.metrics
    assert artifacts(run.info.run_id) == {
        f"feature_importance_{t}.{e}" for t in ("split", "gain") for e in ("json", "png")
    }
    split = read_json(run.info.run_id, "feature_importance_split.json")
    assert split == dict(
        zip([f"feat_{i}" for i in range(5)], booster.feature_importance("split").tolist(), strict=True)
    )


def test_early_stopping_convention_is_zero_based(data):
    dtrain, dvalid = datasets(data)
    tracklet.lightgbm.autolog(log_models=False)
    evals = {}
    booster = lgb.train(
        {**PARAMS, "learning_rate": 1.0, "num_leaves": 16},
        dtrain,
        num_boost_round=200,
        valid_sets=[dvalid],
        valid_names=["valid"],
        callbacks=[lgb.early_stopping(3, verbose=False), lgb.record_evaluation(evals)],
    )
    run = last_run()
    n = len(evals["valid"]["auc"])
    assert n < 200
    best = booster.best_iteration - 1  # LightGBM's is 1-based
    assert run.data.metrics["best_iteration"] == best
    assert run.data.metrics["stopped_iteration"] == n - 1
    hist = history(run.info.run_id, "valid-binary_logloss")
    assert [s for s, _ in hist] == list(range(n)) + [n]
    assert hist[-1][1] == pytest.approx(evals["valid"]["binary_logloss"][best])


def test_early_stopping_from_params_ndcg_and_custom_feval(data):
    Xt, yt, Xv, yv = data
    group = [10] * 24
    dtrain = lgb.Dataset(Xt, label=yt, group=group)
    dvalid = lgb.Dataset(Xv, label=yv, group=[10] * 6, reference=dtrain)

    def my_metric(preds, ds):
        return "my_metric", float(np.mean(preds)), False

    tracklet.lightgbm.autolog(log_models=False, log_every_n_iter=2)
    booster = lgb.train(
        {
            "objective": "lambdarank",
            "metric": "ndcg",
            "eval_at": [3],
            "early_stopping_round": 50,
            "num_threads": 1,
            "verbose": -1,
            "min_data_in_leaf": 5,
        },
        dtrain,
        num_boost_round=5,
        valid_sets=[dvalid],
        valid_names=["valid"],
        feval=my_metric,
    )
    run = last_run()
    steps = [s for s, _ in history(run.info.run_id, "valid-ndcg_at_3")]
    assert steps[:3] == [0, 2, 4]  # every 2nd round (plus the best round again at step 5)
    assert run.data.metrics["best_iteration"] == booster.best_iteration - 1
    assert [s for s, _ in history(run.info.run_id, "valid-my_metric")][:3] == [0, 2, 4]
    assert run.data.params["feval"] == "my_metric" and run.data.params["early_stopping_round"] == "50"


def test_train_logs_model_that_reloads(data):
    dtrain, dvalid = datasets(data)
    tracklet.lightgbm.autolog(log_input_examples=True)
    booster = lgb.train(PARAMS, dtrain, num_boost_round=3, valid_sets=[dvalid])
    run_id = last_run().info.run_id
    mlmodel = open(client().download_artifacts(run_id, "model/MLmodel")).read()
    assert "lightgbm" in mlmodel and "signature" in mlmodel and "feat_0" in mlmodel
    Xv = data[2]
    loaded = tracklet.lightgbm.load_model(f"runs:/{run_id}/model")
    assert np.allclose(loaded.predict(Xv), booster.predict(Xv))
    assert np.allclose(np.ravel(tracklet.pyfunc.load_model(f"runs:/{run_id}/model").predict(Xv)), booster.predict(Xv))


def test_sklearn_classifier(data):
    Xt, yt, Xv, yv = data
    tracklet.lightgbm.autolog()
    model = lgb.LGBMClassifier(n_estimators=40, num_leaves=8, learning_rate=1.0, n_jobs=1, verbose=-1)
    model.fit(Xt, yt, eval_set=[(Xt, yt), (Xv, yv)], callbacks=[lgb.early_stopping(3, verbose=False)])
    run = last_run()
    p = run.data.params
    assert p["n_estimators"] == "40" and p["num_leaves"] == "8" and p["learning_rate"] == "1.0"
    assert p["num_boost_round"] == "40"  # added by the inner train(); no key twice
    n = len(model.evals_result_["valid_1"]["binary_logloss"])
    assert [s for s, _ in history(run.info.run_id, "valid_1-binary_logloss")] == list(range(n)) + [n]
    assert "training-binary_logloss" in run.data.metrics  # the train set passed as an eval set
    assert run.data.metrics["best_iteration"] == model.best_iteration_ - 1
    assert {"model", "feature_importance_gain.png"} <= artifacts(run.info.run_id)
    loaded = tracklet.lightgbm.load_model(f"runs:/{run.info.run_id}/model")
    assert type(loaded) is lgb.LGBMClassifier
    assert np.allclose(loaded.predict_proba(Xv), model.predict_proba(Xv))


def test_sklearn_regressor_and_ranker(data):
    Xt, yt, Xv, yv = data
    tracklet.lightgbm.autolog(log_models=False)
    lgb.LGBMRegressor(n_estimators=3, n_jobs=1, verbose=-1).fit(Xt, yt.astype(float), eval_set=[(Xv, yv)])
    run = last_run()
    assert [s for s, _ in history(run.info.run_id, "valid_0-l2")] == [0, 1, 2]
    lgb.LGBMRanker(n_estimators=3, n_jobs=1, verbose=-1, min_child_samples=5).fit(
        Xt, yt, group=[10] * 24, eval_set=[(Xv, yv)], eval_group=[[10] * 6], eval_at=[2]
    )
    run = last_run()
    assert run.data.params["min_child_samples"] == "5"
    assert [s for s, _ in history(run.info.run_id, "valid_0-ndcg_at_2")] == [0, 1, 2]


def test_cv_one_run_with_mean_and_std(data):
    dtrain, _ = datasets(data)
    tracklet.lightgbm.autolog()
    result = lgb.cv({**PARAMS, "metric": "binary_logloss"}, dtrain, num_boost_round=4, nfold=3)
    run = last_run()
    assert run.data.params["nfold"] == "3"
    assert_history(history(run.info.run_id, "valid-binary_logloss-mean"), result["valid binary_logloss-mean"])
    assert_history(history(run.info.run_id, "valid-binary_logloss-std"), result["valid binary_logloss-stdv"])
    assert "model" not in artifacts(run.info.run_id) and "best_iteration" not in run.data.metrics


def test_cv_early_stopping(data):
    dtrain, _ = datasets(data)
    tracklet.lightgbm.autolog()
    result = lgb.cv(
        {**PARAMS, "metric": "binary_logloss", "learning_rate": 1.0, "num_leaves": 16},
        dtrain,
        num_boost_round=100,
        nfold=3,
        callbacks=[lgb.early_stopping(2, verbose=False)],
    )
    run = last_run()
    best = len(result["valid binary_logloss-mean"]) - 1  # cv() truncates its result to the best round
    assert run.data.metrics["best_iteration"] == best
    stopped = int(run.data.metrics["stopped_iteration"])
    hist = history(run.info.run_id, "valid-binary_logloss-mean")
    assert stopped > best and hist[-1] == (
        stopped + 1,
        pytest.approx(result["valid binary_logloss-mean"][best]),
    )


def test_continued_training_and_user_callbacks(data):
    dtrain, dvalid = datasets(data)
    seen = []

    def recorder(env):
        seen.append(env.iteration)

    tracklet.lightgbm.autolog(log_models=False)
    callbacks = [recorder]
    first = lgb.train({**PARAMS}, dtrain, 3, valid_sets=[dvalid], valid_names=["valid"], callbacks=callbacks)
    assert seen == [0, 1, 2] and callbacks == [recorder]
    dtrain, dvalid = datasets(data)  # datasets free their raw data once used
    lgb.train({**PARAMS}, dtrain, 2, valid_sets=[dvalid], valid_names=["valid"], init_model=first)
    run = last_run()
    assert [s for s, _ in history(run.info.run_id, "valid-auc")] == [3, 4]  # steps continue


def test_positional_callbacks(data):
    dtrain, dvalid = datasets(data)
    seen = []
    tracklet.lightgbm.autolog(log_models=False)
    lgb.train(PARAMS, dtrain, 2, [dvalid], ["valid"], None, None, False, [lambda env: seen.append(env.iteration)])
    assert seen == [0, 1]
    assert [s for s, _ in history(last_run().info.run_id, "valid-auc")] == [0, 1]


def test_user_callback_error_propagates(data):
    dtrain, dvalid = datasets(data)

    def boom(env):
        raise RuntimeError("user boom")

    tracklet.lightgbm.autolog(log_models=False)
    with pytest.raises(RuntimeError, match="user boom"):
        lgb.train(PARAMS, dtrain, 3, valid_sets=[dvalid], callbacks=[boom])
    assert last_run().info.status == "FAILED"


def test_failing_store_does_not_change_training(data, monkeypatch):
    kwargs = dict(num_boost_round=6, valid_names=["valid"])
    dtrain, dvalid = datasets(data)
    expected = lgb.train(PARAMS, dtrain, valid_sets=[dvalid], **kwargs)
    monkeypatch.delenv("TRACKLET_AUTOLOG_STRICT", raising=False)
    monkeypatch.delenv("MLFLOW_AUTOLOGGING_TESTING", raising=False)
    store = client().store
    real = store.log_batch

    def flaky(run_id, metrics=(), params=(), tags=()):  # the store breaks from round 3 on
        if any(m.step >= 3 for m in metrics):
            raise OSError("disk on fire")
        return real(run_id, metrics, params, tags)

    monkeypatch.setattr(store, "log_batch", flaky)
    from tracklet.tracking.batching import logger_for

    logger = logger_for(store, create=False)
    if logger is not None:  # it holds the bound method
        monkeypatch.setattr(logger, "_log_batch", flaky)
    tracklet.lightgbm.autolog(log_models=False)
    dtrain, dvalid = datasets(data)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = lgb.train(PARAMS, dtrain, valid_sets=[dvalid], **kwargs)
    assert got.model_to_string() == expected.model_to_string()
    ours = [w for w in caught if issubclass(w.category, AutologWarning)]
    assert len(ours) == 1, [str(w.message) for w in ours]


def test_datasets_and_disable(data):
    dtrain, dvalid = datasets(data)
    tracklet.lightgbm.autolog(log_models=False)
    lgb.train(PARAMS, dtrain, 2, valid_sets=[dtrain, dvalid], valid_names=["train", "valid"])
    run = last_run()
    captured = client().get_run(run.info.run_id).inputs.dataset_inputs
    got = {
        (
            i.dataset.name,
            {t.key: t.value for t in i.tags}["mlflow.data.context"],
            json.loads(i.dataset.profile)["num_rows"],
        )
        for i in captured
    }
    assert got == {("train", "train", 240), ("valid", "eval", 60)}
    assert all(len(i.dataset.digest) == 8 for i in captured)
    tracklet.lightgbm.autolog(disable=True)
    lgb.train(PARAMS, lgb.Dataset(data[0], label=data[1]), 2)
    assert tracklet.last_active_run().info.run_id == run.info.run_id
