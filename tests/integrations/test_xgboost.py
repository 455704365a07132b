"""XGBoost autologging on tiny real fits: what the store holds afterwards."""

from __future__ import annotations

import json
import warnings

import pytest

xgb = pytest.importorskip("xgboost")
np = pytest.importorskip("numpy")
pd = pytest.importorskip("pandas")

import tracklet  # noqa: E402
from tracklet.autolog.session import AutologWarning  # noqa: E402


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    X = pd.DataFrame(rng.normal(size=(240, 5)), columns=[f"feat_{i}" for i in range(5)])
    y = (X["feat_0"] + 0.5 * X["feat_1"] + rng.normal(scale=0.8, size=240) > 0).astype(int)
    return X.iloc[:180], y.iloc[:180], X.iloc[180:], y.iloc[180:]


@pytest.fixture
def dmats(data):
    Xt, yt, Xv, yv = data
    return xgb.DMatrix(Xt, label=yt), xgb.DMatrix(Xv, label=yv)


PARAMS = {
    "objective": "binary:logistic",
    "eval_metric": ["logloss", "auc"],
    "max_depth": 2,
    "eta": 0.3,
    "nthread": 1,
}


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


def test_train_logs_params_metrics_and_artifacts(dmats):
    dtrain, dvalid = dmats
    tracklet.xgboost.autolog(log_models=False)
    evals_result = {}
    booster = xgb.train(
        PARAMS,
        dtrain,
        num_boost_round=4,
        evals=[(dtrain, "train"), (dvalid, "valid")],
        evals_result=evals_result,
        verbose_eval=False,
    )
    run = last_run()
    assert run.info.status == "FINISHED"
    assert run.data.tags["mlflow.autologging"] == "xgboost"
    p = run.data.params
    assert p["max_depth"] == "2" and p["eta"] == "0.3" and p["eval_metric"] == "['logloss', 'auc']"
    assert p["num_boost_round"] == "4" and p["verbose_eval"] == "False" and p["early_stopping_rounds"] == "None"
    assert "maximize" in p and "dtrain" not in p and "callbacks" not in p
    # per-iteration metrics: step = 0-based round, values = the user's evals_result (still filled)
    for data_name in ("train", "valid"):
        for metric in ("logloss", "auc"):
            got = history(run.info.run_id, f"{data_name}-{metric}")
            assert_history(got, evals_result[data_name][metric])
    assert "best_iteration" not in run.data.metrics
    assert artifacts(run.info.run_id) == {"feature_importance_weight.json", "feature_importance_weight.png"}
    imp = json.loads(open(client().download_artifacts(run.info.run_id, "feature_importance_weight.json")).read())
    assert imp == pytest.approx(booster.get_score(importance_type="weight"))
    assert set(imp) <= {f"feat_{i}" for i in range(5)}  # DataFrame column names


def test_early_stopping_convention(dmats):
    dtrain, dvalid = dmats
    tracklet.xgboost.autolog(log_models=False)
    evals_result = {}
    booster = xgb.train(
        {**PARAMS, "eta": 1.0, "max_depth": 4},
        dtrain,
        num_boost_round=200,
        evals=[(dtrain, "train"), (dvalid, "valid")],
        early_stopping_rounds=3,
        evals_result=evals_result,
        verbose_eval=False,
    )
    run = last_run()
    n = len(evals_result["valid"]["auc"])
    assert n < 200  # it did stop early
    best = booster.best_iteration
    assert run.data.metrics["best_iteration"] == best
    assert run.data.metrics["stopped_iteration"] == n - 1
    assert run.data.params["early_stopping_rounds"] == "3"
    valid_auc = history(run.info.run_id, "valid-auc")
    assert [s for s, _ in valid_auc] == list(range(n)) + [n]  # one extra step past the last round
    assert valid_auc[-1][1] == pytest.approx(evals_result["valid"]["auc"][best])
    assert run.data.metrics["valid-auc"] == pytest.approx(evals_result["valid"]["auc"][best])


def test_ranking_metric_names_custom_metric_and_every_n(data):
    Xt, yt, _, _ = data
    qid = np.repeat(np.arange(18), 10)
    dtrain = xgb.DMatrix(Xt, label=yt, qid=qid)

    def my_error(predt, dmat):
        return "my_error", float(np.mean((predt > 0.5) != dmat.get_label()))

    tracklet.xgboost.autolog(log_models=False, log_every_n_iter=2)
    xgb.train(
        {"objective": "rank:ndcg", "eval_metric": ["ndcg@3"], "nthread": 1},
        dtrain,
        num_boost_round=5,
        evals=[(dtrain, "train")],
        custom_metric=my_error,
        verbose_eval=False,
    )
    run = last_run()
    assert [s for s, _ in history(run.info.run_id, "train-ndcg_at_3")] == [0, 2, 4]
    assert [s for s, _ in history(run.info.run_id, "train-my_error")] == [0, 2, 4]
    assert run.data.params["custom_metric"] == "my_error"


def test_importance_types_and_multiclass_linear(data):
    Xt, yt, _, _ = data
    y3 = (Xt["feat_0"] > 0.5).astype(int) + (Xt["feat_0"] > -0.5).astype(int)
    tracklet.xgboost.autolog(log_models=False, importance_types=["weight", "gain", "total_cover"])
    xgb.train({"objective": "multi:softprob", "num_class": 3, "nthread": 1}, xgb.DMatrix(Xt, label=y3), 3)
    run_id = last_run().info.run_id
    assert artifacts(run_id) == {
        f"feature_importance_{t}.{e}" for t in ("weight", "gain", "total_cover") for e in ("json", "png")
    }
    # gblinear: per-class weights (lists); "gain" does not exist for it and is skipped
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        xgb.train(
            {"objective": "multi:softprob", "num_class": 3, "booster": "gblinear", "nthread": 1},
            xgb.DMatrix(Xt, label=y3),
            3,
        )
    run_id = last_run().info.run_id
    assert "feature_importance_gain.json" not in artifacts(run_id)
    imp = json.loads(open(client().download_artifacts(run_id, "feature_importance_weight.json")).read())
    assert set(imp) == {f"feat_{i}" for i in range(5)} and all(len(v) == 3 for v in imp.values())


def test_train_logs_model_signature_and_example(dmats, data):
    dtrain, dvalid = dmats
    tracklet.xgboost.autolog(log_input_examples=True)
    booster = xgb.train(PARAMS, dtrain, num_boost_round=3, evals=[(dvalid, "valid")], verbose_eval=False)
    run_id = last_run().info.run_id
    assert "model" in artifacts(run_id)
    mlmodel = open(client().download_artifacts(run_id, "model/MLmodel")).read()
    assert "signature" in mlmodel and "feat_0" in mlmodel and "xgboost" in mlmodel
    loaded = tracklet.xgboost.load_model(f"runs:/{run_id}/model")
    Xv = data[2]
    assert np.allclose(loaded.predict(xgb.DMatrix(Xv)), booster.predict(xgb.DMatrix(Xv)))
    assert np.allclose(
        tracklet.pyfunc.load_model(f"runs:/{run_id}/model").predict(Xv), booster.predict(xgb.DMatrix(Xv))
    )


def test_sklearn_classifier(data):
    Xt, yt, Xv, yv = data
    tracklet.xgboost.autolog()
    model = xgb.XGBClassifier(
        n_estimators=30,
        max_depth=3,
        learning_rate=1.0,
        early_stopping_rounds=3,
        eval_metric="logloss",
        n_jobs=1,
    )
    model.fit(Xt, yt, eval_set=[(Xt, yt), (Xv, yv)], verbose=False)
    run = last_run()
    p = run.data.params
    assert p["n_estimators"] == "30" and p["max_depth"] == "3" and p["early_stopping_rounds"] == "3"
    assert p["num_boost_round"] == "30"  # added by the inner train(); no key appears twice
    hist = history(run.info.run_id, "validation_1-logloss")
    n = len(model.evals_result()["validation_1"]["logloss"])
    assert [s for s, _ in hist] == list(range(n)) + [n]
    assert run.data.metrics["best_iteration"] == model.best_iteration
    assert "validation_0-logloss" in run.data.metrics
    assert {"model", "feature_importance_weight.json"} <= artifacts(run.info.run_id)
    loaded = tracklet.xgboost.load_model(f"runs:/{run.info.run_id}/model")
    assert type(loaded) is xgb.XGBClassifier
    assert np.allclose(loaded.predict_proba(Xv), model.predict_proba(Xv))


def test_sklearn_regressor_and_ranker(data):
    Xt, yt, Xv, yv = data
    tracklet.xgboost.autolog(log_models=False)
    xgb.XGBRegressor(n_estimators=3, n_jobs=1).fit(Xt, yt.astype(float), eval_set=[(Xv, yv)], verbose=False)
    run = last_run()
    assert [s for s, _ in history(run.info.run_id, "validation_0-rmse")] == [0, 1, 2]
    ranker = xgb.XGBRanker(n_estimators=3, n_jobs=1, eval_metric="ndcg@2")
    ranker.fit(
        Xt,
        yt,
        qid=np.repeat(np.arange(18), 10),
        eval_set=[(Xt, yt)],
        eval_qid=[np.repeat(np.arange(18), 10)],
        verbose=False,
    )
    run = last_run()
    assert run.data.params["eval_metric"] == "ndcg@2"
    assert [s for s, _ in history(run.info.run_id, "validation_0-ndcg_at_2")] == [0, 1, 2]


def test_cv_one_run_with_mean_and_std(dmats):
    dtrain, _ = dmats
    tracklet.xgboost.autolog()
    result = xgb.cv(
        {"objective": "binary:logistic", "eval_metric": "logloss", "nthread": 1},
        dtrain,
        num_boost_round=4,
        nfold=3,
        as_pandas=False,
    )
    run = last_run()
    assert run.data.params["nfold"] == "3" and run.data.params["num_boost_round"] == "4"
    assert_history(history(run.info.run_id, "test-logloss-mean"), result["test-logloss-mean"])
    assert_history(history(run.info.run_id, "train-logloss-std"), result["train-logloss-std"])
    assert "model" not in artifacts(run.info.run_id) and "best_iteration" not in run.data.metrics


def test_cv_early_stopping(dmats):
    dtrain, _ = dmats
    tracklet.xgboost.autolog()
    result = xgb.cv(
        {"objective": "binary:logistic", "eval_metric": "logloss", "eta": 1.0, "max_depth": 5, "nthread": 1},
        dtrain,
        num_boost_round=100,
        nfold=3,
        early_stopping_rounds=2,
        as_pandas=False,
    )
    run = last_run()
    best = len(result["test-logloss-mean"]) - 1  # cv() truncates its result to the best round
    assert run.data.metrics["best_iteration"] == best
    hist = history(run.info.run_id, "test-logloss-mean")
    stopped = int(run.data.metrics["stopped_iteration"])
    assert stopped > best and hist[-1] == (stopped + 1, pytest.approx(result["test-logloss-mean"][best]))


def test_user_callbacks_and_continued_training(dmats):
    dtrain, dvalid = dmats
    seen = []

    class Recorder(xgb.callback.TrainingCallback):
        def after_iteration(self, model, epoch, evals_log):
            seen.append(epoch)
            return False

    tracklet.xgboost.autolog(log_models=False)
    user_callbacks = [Recorder()]
    first = xgb.train(PARAMS, dtrain, 3, evals=[(dvalid, "valid")], callbacks=user_callbacks, verbose_eval=False)
    assert seen == [0, 1, 2] and len(user_callbacks) == 1  # their list is not mutated
    xgb.train(PARAMS, dtrain, 2, evals=[(dvalid, "valid")], xgb_model=first, verbose_eval=False)
    run = last_run()
    assert [s for s, _ in history(run.info.run_id, "valid-logloss")] == [3, 4]  # steps continue


def test_round_a_stopping_user_callback_cut_short_is_still_logged(dmats):
    dtrain, dvalid = dmats

    class Stop(xgb.callback.TrainingCallback):  # xgboost skips later callbacks once one returns True
        def after_iteration(self, model, epoch, evals_log):
            return epoch == 2

    tracklet.xgboost.autolog(log_models=False)
    xgb.train(PARAMS, dtrain, 10, evals=[(dvalid, "valid")], callbacks=[Stop()], verbose_eval=False)
    assert [s for s, _ in history(last_run().info.run_id, "valid-auc")] == [0, 1, 2]


def test_user_callback_error_propagates_and_run_fails(dmats):
    dtrain, _ = dmats

    class Boom(xgb.callback.TrainingCallback):
        def after_iteration(self, model, epoch, evals_log):
            raise RuntimeError("user boom")

    tracklet.xgboost.autolog(log_models=False)
    with pytest.raises(RuntimeError, match="user boom"):
        xgb.train(PARAMS, dtrain, 3, evals=[(dtrain, "train")], callbacks=[Boom()], verbose_eval=False)
    assert last_run().info.status == "FAILED"


def test_failing_store_does_not_change_training(dmats, monkeypatch):
    dtrain, dvalid = dmats
    kwargs = dict(num_boost_round=6, evals=[(dtrain, "train"), (dvalid, "valid")], verbose_eval=False)
    expected = xgb.train(PARAMS, dtrain, **kwargs)
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
    tracklet.xgboost.autolog(log_models=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = xgb.train(PARAMS, dtrain, **kwargs)
    assert got.save_raw("json") == expected.save_raw("json")
    ours = [w for w in caught if issubclass(w.category, AutologWarning)]
    assert len(ours) == 1, [str(w.message) for w in ours]


def test_datasets_and_disable(dmats):
    dtrain, dvalid = dmats
    tracklet.xgboost.autolog(log_models=False)
    xgb.train(PARAMS, dtrain, 2, evals=[(dtrain, "train"), (dvalid, "valid")], verbose_eval=False)
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
    assert got == {("train", "train", 180), ("valid", "eval", 60)}
    assert all(len(i.dataset.digest) == 8 for i in captured)
    tracklet.xgboost.autolog(disable=True)
    xgb.train(PARAMS, dtrain, 2)
    assert tracklet.last_active_run().info.run_id == run.info.run_id  # no new run
