"""scikit-learn autologging: tiny real fits, asserting on what the store holds."""

from __future__ import annotations

import copy
import json
import os
import pickle
import threading

import pytest

pytest.importorskip("sklearn")

import numpy as np  # noqa: E402
import yaml  # noqa: E402
from sklearn import metrics as skm  # noqa: E402
from sklearn.cluster import KMeans  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402
from sklearn.linear_model import LinearRegression, LogisticRegression  # noqa: E402
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score  # noqa: E402  (imported BEFORE autolog)
from sklearn.model_selection import GridSearchCV, cross_val_score  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.tree import DecisionTreeRegressor  # noqa: E402

import tracklet  # noqa: E402
import tracklet.sklearn  # noqa: E402
from tracklet.exceptions import InvalidParameterValue  # noqa: E402

_ORIGINAL = {"accuracy_score": accuracy_score}  # in a dict: autolog re-binds module-level names only


@pytest.fixture(scope="module")
def binary():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = (X[:, 0] + 0.5 * rng.normal(size=60) > 0).astype(int)
    return X, y


@pytest.fixture(scope="module")
def multiclass():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(60, 3))
    y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5).astype(int)
    return X, y


@pytest.fixture(scope="module")
def regression():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(50, 3))
    return X, X @ np.array([1.0, -2.0, 0.5]) + 0.1 * rng.normal(size=50)


def all_runs():
    tracklet.flush_async_logging()
    return tracklet.search_runs(output_format="list", order_by=["start_time ASC"])


def only_run():
    runs = all_runs()
    assert len(runs) == 1, [r.data.tags.get("estimator_name") for r in runs]
    return runs[0]


def artifacts(run, path=""):
    root = run.info.artifact_uri.replace("file://", "")
    return sorted(os.listdir(os.path.join(root, path)))


def read_artifact(run, path):
    with open(os.path.join(run.info.artifact_uri.replace("file://", ""), path)) as f:
        return f.read()


def test_binary_classifier_run(binary):
    X, y = binary
    tracklet.autolog()
    model = LogisticRegression(C=0.5).fit(X, y)
    tracklet.autolog(disable=True)  # the checks below call metrics on the model's predictions
    run = only_run()
    assert run.info.status == "FINISHED"
    tags, params, metrics = run.data.tags, run.data.params, run.data.metrics
    assert tags["mlflow.autologging"] == "sklearn" and tags["estimator_name"] == "LogisticRegression"
    assert tags["estimator_class"] == "sklearn.linear_model._logistic.LogisticRegression"
    assert params["C"] == "0.5" and params["max_iter"] == "100"
    y_pred, proba = model.predict(X), model.predict_proba(X)
    expected = {
        "training_accuracy_score": skm.accuracy_score(y, y_pred),
        "training_precision_score": skm.precision_score(y, y_pred, average="weighted"),
        "training_recall_score": skm.recall_score(y, y_pred, average="weighted"),
        "training_f1_score": skm.f1_score(y, y_pred, average="weighted"),
        "training_log_loss": skm.log_loss(y, proba),
        "training_roc_auc": skm.roc_auc_score(y, proba[:, 1]),
        "training_score": model.score(X, y),
    }
    assert metrics == pytest.approx(expected)
    assert artifacts(run) == [
        "estimator.html",
        "model",
        "training_confusion_matrix.png",
        "training_precision_recall_curve.png",
        "training_roc_curve.png",
    ]
    assert "LogisticRegression" in read_artifact(run, "estimator.html")
    mlmodel = yaml.safe_load(read_artifact(run, "model/MLmodel"))
    assert "signature" in mlmodel and "input_example.json" not in artifacts(run, "model")
    loaded = tracklet.sklearn.load_model(f"runs:/{run.info.run_id}/model")
    np.testing.assert_array_equal(loaded.predict(X), y_pred)
    (dataset,) = run.inputs.dataset_inputs
    assert dict((t.key, t.value) for t in dataset.tags) == {"mlflow.data.context": "train"}
    assert json.loads(dataset.dataset.profile)["features_shape"] == [60, 3]


def test_multiclass_classifier_with_sample_weight(multiclass):
    X, y = multiclass
    w = np.linspace(0.5, 2.0, len(y))
    tracklet.autolog()
    model = LogisticRegression().fit(X, y, sample_weight=w)
    tracklet.autolog(disable=True)
    run = only_run()
    y_pred, proba = model.predict(X), model.predict_proba(X)
    m = run.data.metrics
    assert m["training_accuracy_score"] == pytest.approx(skm.accuracy_score(y, y_pred, sample_weight=w))
    assert m["training_f1_score"] == pytest.approx(skm.f1_score(y, y_pred, average="weighted", sample_weight=w))
    assert m["training_log_loss"] == pytest.approx(skm.log_loss(y, proba, sample_weight=w))
    assert m["training_roc_auc"] == pytest.approx(
        skm.roc_auc_score(y, proba, multi_class="ovr", average="weighted", sample_weight=w)
    )
    assert m["training_score"] == pytest.approx(model.score(X, y, sample_weight=w))
    assert "training_roc_curve.png" not in artifacts(run)  # curves only for binary problems


def test_pos_label_gives_binary_averages(binary):
    X, y = binary
    tracklet.sklearn.autolog(pos_label=1, log_models=False)
    model = LogisticRegression().fit(X, y)
    tracklet.autolog(disable=True)
    run = only_run()
    assert run.data.metrics["training_precision_score"] == pytest.approx(skm.precision_score(y, model.predict(X)))
    assert "model" not in artifacts(run)


def test_regressor_metrics(regression):
    X, y = regression
    tracklet.autolog(log_input_examples=True)
    model = LinearRegression().fit(X, y)
    tracklet.autolog(disable=True)
    run = only_run()
    y_pred = model.predict(X)
    mse = skm.mean_squared_error(y, y_pred)
    assert run.data.metrics == pytest.approx(
        {
            "training_mean_squared_error": mse,
            "training_root_mean_squared_error": np.sqrt(mse),
            "training_mean_absolute_error": skm.mean_absolute_error(y, y_pred),
            "training_r2_score": skm.r2_score(y, y_pred),
            "training_score": model.score(X, y),
        }
    )
    assert artifacts(run) == ["estimator.html", "model"]
    assert "input_example.json" in artifacts(run, "model")
    example = json.loads(read_artifact(run, "model/input_example.json"))  # a numpy example: a list of rows
    assert np.allclose(example, X[:5])


def test_pipeline_logs_one_run_with_step_params(binary):
    X, y = binary
    tracklet.autolog()
    Pipeline([("sc", StandardScaler()), ("lr", LogisticRegression(C=2.0))]).fit(X, y)
    run = only_run()
    assert run.data.tags["estimator_name"] == "Pipeline"
    assert run.data.params["lr__C"] == "2.0" and run.data.params["sc__with_mean"] == "True"


def test_preprocessing_alone_is_not_a_run_but_other_transformers_are(binary):
    X, _ = binary
    tracklet.autolog()
    StandardScaler().fit(X)
    StandardScaler().fit_transform(X)
    assert all_runs() == []
    PCA(n_components=2).fit_transform(X)
    run = only_run()
    assert run.data.tags["estimator_name"] == "PCA" and "training_score" in run.data.metrics


def test_clusterer_without_labels(binary):
    X, _ = binary
    tracklet.autolog(log_models=False)
    km = KMeans(n_clusters=2, n_init=2, random_state=0).fit(X)
    tracklet.autolog(disable=True)
    run = only_run()
    assert run.data.metrics["training_score"] == pytest.approx(km.score(X))
    assert run.data.params["n_clusters"] == "2"


def test_grid_search_parent_and_child_runs(binary):
    X, y = binary
    tracklet.sklearn.autolog(max_tuning_runs=2)
    search = GridSearchCV(LogisticRegression(), {"C": [0.01, 0.1, 1.0]}, cv=2).fit(X, y)
    runs = all_runs()
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(parents) == 1 and len(children) == 2  # no run for the internal fits
    parent = parents[0]
    assert parent.data.params["best_C"] == str(search.best_params_["C"])
    assert "estimator" in parent.data.params and "C" not in parent.data.params  # deep=False for searches
    assert parent.data.metrics["best_cv_score"] == pytest.approx(search.best_score_)
    assert {"cv_results.csv", "best_estimator", "model"} <= set(artifacts(parent))
    assert read_artifact(parent, "cv_results.csv").splitlines()[0].startswith("mean_fit_time")
    ranks = search.cv_results_["rank_test_score"]
    best_two = {str(search.cv_results_["params"][i]["C"]) for i in np.argsort(ranks)[:2]}
    assert {c.data.params["C"] for c in children} == best_two
    for child in children:
        assert child.data.tags["mlflow.parentRunId"] == parent.info.run_id
        assert child.data.tags["mlflow.autologging"] == "sklearn" and child.info.status == "FINISHED"
        assert child.data.params["max_iter"] == "100"  # seed estimator params under the candidate's
        assert {"mean_test_score", "std_test_score", "rank_test_score", "mean_fit_time"} <= set(child.data.metrics)
        assert not any(k.startswith("split") for k in child.data.metrics)


def test_max_tuning_runs_none_logs_every_candidate_and_negative_is_rejected(binary):
    X, y = binary
    with pytest.raises(InvalidParameterValue, match="max_tuning_runs"):
        tracklet.sklearn.autolog(max_tuning_runs=-1)
    tracklet.sklearn.autolog(max_tuning_runs=None, log_models=False)
    GridSearchCV(DecisionTreeRegressor(), {"max_depth": [1, 2, 3]}, cv=2).fit(X, y)
    assert len(all_runs()) == 4


def test_threaded_search_and_cross_validation_create_no_extra_runs(binary):
    import joblib

    X, y = binary
    tracklet.autolog(log_models=False)
    with joblib.parallel_backend("threading", n_jobs=2):
        GridSearchCV(LogisticRegression(), {"C": [0.1, 1.0]}, cv=2, n_jobs=2).fit(X, y)
    assert len(all_runs()) == 3  # the search and its 2 child runs
    scores = cross_val_score(LogisticRegression(), X, y, cv=2)  # imported before autolog()
    with joblib.parallel_backend("threading", n_jobs=2):
        cross_val_score(LogisticRegression(), X, y, cv=2, n_jobs=2)
    assert len(scores) == 2 and len(all_runs()) == 3


def test_two_threads_fitting_at_once_get_their_own_runs(regression):
    X, y = regression
    tracklet.autolog(log_models=False)
    errors = []

    def fit(depth):
        try:
            DecisionTreeRegressor(max_depth=depth).fit(X, y)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=fit, args=(d,)) for d in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(r.data.params["max_depth"] for r in all_runs()) == ["1", "2"]


def test_post_training_metrics(binary):
    X, y = binary
    X_train, y_train, X_test, y_test = X[:40], y[:40], X[40:], y[40:]
    tracklet.autolog()
    model = LogisticRegression().fit(X_train, y_train)
    y_pred = model.predict(X_test)
    proba = model.predict_proba(X_test)
    acc = accuracy_score(y_test, y_pred)  # the name was imported before autolog()
    accuracy_score(y_test, y_pred)  # again: a second key
    f1 = skm.f1_score(y_test, y_pred)
    auc = roc_auc_score(y_test, proba[:, 1])
    score = model.score(X_test, y_test)
    accuracy_score(y_test, y_test)  # not a prediction of a tracked model: not logged
    X_test = X_test.copy()  # a different object under the same name
    y_pred2 = model.predict(X_test)
    f1_score(y_test, y_pred2)
    metrics = only_run().data.metrics
    post = {k: v for k, v in metrics.items() if not k.startswith("training_")}
    assert post == pytest.approx(
        {
            "accuracy_score_X_test": acc,
            "accuracy_score-2_X_test": acc,
            "f1_score_X_test": f1,
            "roc_auc_score_X_test": auc,
            "LogisticRegression_score_X_test": score,
            "f1_score_X_test-2": f1,
        }
    )
    info = json.loads(read_artifact(only_run(), "metric_info.json"))
    assert info["accuracy_score_X_test"] == "accuracy_score(y_true=y_test, y_pred=y_pred)"
    assert info["LogisticRegression_score_X_test"] == "LogisticRegression.score(X=X_test, y=y_test)"


def test_post_training_metrics_can_be_turned_off(binary):
    X, y = binary
    tracklet.sklearn.autolog(log_post_training_metrics=False, log_models=False)
    model = LogisticRegression().fit(X, y)
    accuracy_score(y, model.predict(X))
    assert not any(not k.startswith("training_") for k in only_run().data.metrics)


def test_patched_methods_pickle_and_copy_like_methods(binary):
    import cloudpickle

    X, y = binary
    tracklet.autolog(log_models=False)
    model = LogisticRegression().fit(X, y)
    for dumps, loads in ((pickle.dumps, pickle.loads), (cloudpickle.dumps, cloudpickle.loads)):
        np.testing.assert_array_equal(loads(dumps(model.predict))(X), model.predict(X))
    copied = copy.deepcopy(model.predict)
    assert copied.__self__ is not model
    np.testing.assert_array_equal(copied(X), model.predict(X))
    assert pickle.loads(pickle.dumps(LogisticRegression.fit)).__qualname__ == "LogisticRegression.fit"


def test_patched_metric_functions_pickle_copy_and_revert():
    tracklet.autolog()
    assert accuracy_score is not _ORIGINAL["accuracy_score"]  # this module's name was re-bound
    assert pickle.loads(pickle.dumps(skm.accuracy_score)) is _ORIGINAL["accuracy_score"]
    scorer = skm.get_scorer("accuracy")  # deep-copies a scorer holding the wrapper
    assert copy.deepcopy(skm.accuracy_score) is skm.accuracy_score and scorer is not None
    tracklet.autolog(disable=True)
    assert (
        globals()["accuracy_score"] is _ORIGINAL["accuracy_score"] and skm.accuracy_score is _ORIGINAL["accuracy_score"]
    )


def test_nothing_is_logged_after_disable(binary):
    X, y = binary
    tracklet.autolog()
    tracklet.sklearn.autolog(disable=True)
    LogisticRegression().fit(X, y)
    assert all_runs() == []


def test_halving_search_and_search_without_refit(binary):
    from sklearn.experimental import enable_halving_search_cv  # noqa: F401
    from sklearn.model_selection import HalvingGridSearchCV

    X, y = binary
    tracklet.sklearn.autolog(max_tuning_runs=2, log_models=False)
    HalvingGridSearchCV(DecisionTreeRegressor(random_state=0), {"max_depth": [1, 2, 3, 4]}, cv=2, min_resources=20).fit(
        X, y
    )
    runs = all_runs()
    (parent,) = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert parent.data.tags["estimator_name"] == "HalvingGridSearchCV" and len(children) == 2
    assert {"iter", "n_resources", "mean_test_score"} <= set(children[0].data.metrics)
    tracklet.sklearn.autolog()
    GridSearchCV(LogisticRegression(), {"C": [0.1, 1.0]}, cv=2, refit=False).fit(X, y)
    (parent,) = [
        r
        for r in all_runs()
        if "mlflow.parentRunId" not in r.data.tags and r.data.tags["estimator_name"] == "GridSearchCV"
    ]
    assert parent.info.status == "FINISHED" and "best_C" in parent.data.params
    assert "model" not in artifacts(parent) and not any(k.startswith("training_") for k in parent.data.metrics)
