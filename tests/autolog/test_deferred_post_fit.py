"""Deferred post-fit recording (tracklet/autolog/deferred.py) with real scikit-learn fits on tiny data.

Most tests hold the post-fit worker with a gate task submitted before the fit, so the fit's own task is
certainly still pending when the test reads: a read that did not wait for it would miss what it records. The
gate opens from a timer thread while the main thread is blocked in the read (or the refit) under test; the
outcome never depends on the timing, only how long the test takes.
"""

from __future__ import annotations

import copy
import os
import subprocess
import sys
import threading
import warnings

import pytest

pytest.importorskip("sklearn")

import numpy as np  # noqa: E402
from sklearn.ensemble import RandomForestClassifier  # noqa: E402
from sklearn.linear_model import LogisticRegression, SGDClassifier  # noqa: E402
from sklearn.metrics import log_loss  # noqa: E402
from sklearn.neural_network import MLPClassifier  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402

import tracklet  # noqa: E402
import tracklet.pyfunc  # noqa: E402
import tracklet.sklearn  # noqa: E402
from tracklet.autolog import AutologWarning, deferred  # noqa: E402
from tracklet.tracking.current import get_client  # noqa: E402

TRAINING = {
    "training_accuracy_score",
    "training_f1_score",
    "training_log_loss",
    "training_precision_score",
    "training_recall_score",
    "training_roc_auc",
    "training_score",
}
PLOTS = {"training_confusion_matrix.png", "training_roc_curve.png", "training_precision_recall_curve.png"}


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 4))
    y = (X[:, 0] + 0.5 * rng.normal(size=80) > 0).astype(int)
    return X, y


@pytest.fixture
def hold():
    """``gate = hold()`` keeps the post-fit worker busy until ``gate.set()`` (at the latest at teardown): tasks
    submitted meanwhile stay pending. Call it after ``autolog()``, which waits for pending tasks."""
    events = []

    def start() -> threading.Event:
        event = threading.Event()
        events.append(event)
        deferred.submit(event.wait)
        return event

    yield start
    for event in events:
        event.set()


def open_soon(event: threading.Event, seconds: float = 0.3) -> None:
    """Open the gate from another thread once the main thread is (presumably) blocked in the call under test."""
    timer = threading.Timer(seconds, event.set)
    timer.daemon = True
    timer.start()


def stored(run_id: str):
    """The run as the store holds it right now (no barrier: what a read that did not wait would see)."""
    return get_client().store.get_run(run_id)


def last_run_id() -> str:
    from tracklet.tracking import fluent

    return fluent._last_run_id.get()


def artifacts(run_id: str) -> set[str]:
    return {f.path for f in get_client().list_artifacts(run_id)}


# ---------------------------------------------------------------------- read-your-writes


def test_fit_returns_before_its_records_and_get_run_waits_for_them(data, hold):
    tracklet.autolog(log_models=False)
    gate = hold()
    RandomForestClassifier(n_estimators=3, random_state=0).fit(*data)
    assert tracklet.active_run() is None  # off the run stack at once, as without deferral
    run_id = last_run_id()
    early = stored(run_id)
    assert early.info.status == "RUNNING" and not TRAINING & set(early.data.metrics)  # really deferred
    open_soon(gate)
    run = tracklet.get_run(run_id)
    assert run.info.status == "FINISHED" and TRAINING <= set(run.data.metrics)
    assert {"estimator.html", *PLOTS} <= artifacts(run_id)


def test_last_active_run_and_search_runs_wait(data, hold):
    tracklet.autolog(log_models=False)
    gate = hold()
    LogisticRegression().fit(*data)
    open_soon(gate)
    run = tracklet.last_active_run()
    assert run.info.status == "FINISHED" and TRAINING <= set(run.data.metrics)
    LogisticRegression(C=0.5).fit(*data)  # pending again: no gate now, search waits for the worker itself
    found = tracklet.search_runs(output_format="list", filter_string="params.C = '0.5'")
    assert len(found) == 1 and found[0].info.status == "FINISHED" and TRAINING <= set(found[0].data.metrics)
    client_found = get_client().search_runs(["0"], "params.C = '0.5'")
    assert TRAINING <= set(client_found[0].data.metrics)


def test_model_artifacts_and_runs_uri_load_wait(data, hold, tmp_path):
    tracklet.autolog()
    gate = hold()
    with tracklet.start_run() as user_run:  # logged into the user's run, left open
        model = LogisticRegression().fit(*data)
        run_id = user_run.info.run_id
        assert "mlflow.log-model.history" not in stored(run_id).data.tags  # the model is not logged yet
        open_soon(gate)
        loaded = tracklet.pyfunc.load_model(f"runs:/{run_id}/model")
        np.testing.assert_array_equal(loaded.predict(data[0]), model.predict(data[0]))
        assert {"model", "estimator.html"} <= artifacts(run_id)
        local = get_client().download_artifacts(run_id, "estimator.html", str(tmp_path))
        assert os.path.getsize(local) > 0
        assert tracklet.get_run(run_id).info.status == "RUNNING"  # the user's run: not ended by us
    run = tracklet.get_run(run_id)
    assert run.info.status == "FINISHED" and TRAINING <= set(run.data.metrics)


def test_end_run_of_the_users_run_waits_for_the_fit_logged_into_it(data, hold):
    tracklet.autolog(log_models=False)
    gate = hold()
    with tracklet.start_run() as user_run:
        LogisticRegression().fit(*data)
        open_soon(gate)
    # end_run flushed after the fit's task: FINISHED with everything, never FINISHED without it
    run = stored(user_run.info.run_id)
    assert run.info.status == "FINISHED" and TRAINING <= set(run.data.metrics)


# ---------------------------------------------------------------------- the same estimator again


def test_a_warm_start_refit_of_the_same_forest_waits_for_its_records(data, hold):
    X, y = data
    tracklet.autolog(log_models=False)
    gate = hold()
    forest = RandomForestClassifier(n_estimators=3, warm_start=True, random_state=0).fit(X, y)
    first_id = last_run_id()
    after_first = copy.deepcopy(forest)
    forest.set_params(n_estimators=6)
    open_soon(gate)
    forest.fit(X, y)  # adds trees in place: waits for the first fit's task, which measures 3 trees
    second_id = last_run_id()
    after_second = copy.deepcopy(forest)  # copies: predictions of the fitted forest itself would be tracked
    expected_first = log_loss(y, after_first.predict_proba(X))
    expected_second = log_loss(y, after_second.predict_proba(X))
    assert expected_first != pytest.approx(expected_second)
    first, second = tracklet.get_run(first_id), tracklet.get_run(second_id)
    assert first.data.metrics["training_log_loss"] == pytest.approx(expected_first)
    assert first.data.params["n_estimators"] == "3"
    assert second.data.metrics["training_log_loss"] == pytest.approx(expected_second)


def test_training_that_changes_the_model_in_place_waits(data, hold):
    """MLP's warm_start and SGD's partial_fit update the fitted arrays in place: a shallow snapshot shares them,
    so only waiting keeps the first fit's metrics those of the first model."""
    X, y = data
    tracklet.autolog(log_models=False)
    gate = hold()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn's ConvergenceWarning
        mlp = MLPClassifier(hidden_layer_sizes=(4,), max_iter=3, warm_start=True, random_state=0).fit(X, y)
        mlp_id, mlp_then = last_run_id(), copy.deepcopy(mlp)
        sgd = SGDClassifier(loss="log_loss", max_iter=5, tol=None, random_state=0).fit(X, y)
        sgd_id, sgd_then = last_run_id(), copy.deepcopy(sgd)
        open_soon(gate)
        mlp.fit(X, y)  # waits for the MLP's task
        sgd.partial_fit(X, y)  # waits for the SGD's task
    for run_id, then, now in ((mlp_id, mlp_then, copy.deepcopy(mlp)), (sgd_id, sgd_then, copy.deepcopy(sgd))):
        recorded = tracklet.get_run(run_id).data.metrics["training_log_loss"]
        assert recorded == pytest.approx(log_loss(y, then.predict_proba(X)))
        assert recorded != pytest.approx(log_loss(y, now.predict_proba(X)))


def test_set_params_after_fit_does_not_change_what_is_recorded(data, hold):
    tracklet.autolog()
    gate = hold()
    pipe = Pipeline([("clf", LogisticRegression(C=1.0))]).fit(*data)
    run_id = last_run_id()
    pipe.set_params(clf__C=123.0)  # reaches the step object the fit trained
    gate.set()
    model = tracklet.sklearn.load_model(f"runs:/{run_id}/model")
    assert model.named_steps["clf"].C == 1.0
    assert tracklet.get_run(run_id).data.params["clf__C"] == "1.0"


def test_other_fits_do_not_wait(data, hold):
    tracklet.autolog(log_models=False)
    gate = hold()
    LogisticRegression().fit(*data)
    LogisticRegression(C=0.5).fit(*data)  # another instance: returns with the first task still held
    assert deferred.pending() == 3  # the gate and both fits' tasks
    gate.set()
    runs = tracklet.search_runs(output_format="list")
    assert len(runs) == 2 and all(TRAINING <= set(r.data.metrics) for r in runs)


# ---------------------------------------------------------------------- errors, the switch, threads


def test_strict_mode_raises_a_task_failure_at_the_next_wait_point(data, hold, monkeypatch):
    import tracklet.autolog.sklearn as sk

    def broken_html(call, est):
        raise RuntimeError("our bug in the post-fit recording")

    monkeypatch.setattr(sk, "_log_html", broken_html)
    tracklet.autolog(log_models=False)
    gate = hold()
    model = LogisticRegression().fit(*data)  # returns normally: the failure happens later
    run_id = last_run_id()
    open_soon(gate)
    with pytest.raises(RuntimeError, match="our bug"):
        tracklet.flush_async_logging()
    tracklet.flush_async_logging()  # raised once
    run = tracklet.get_run(run_id)
    assert run.info.status == "FINISHED" and TRAINING <= set(run.data.metrics)  # what ran before it is kept
    model.fit(*data)
    with pytest.raises(RuntimeError, match="our bug"):
        model.fit(*data)  # the next fit is a wait point too (before it trains)


def test_outside_strict_mode_a_task_failure_is_one_warning(data, monkeypatch):
    import tracklet.autolog.sklearn as sk

    monkeypatch.delenv("TRACKLET_AUTOLOG_STRICT")
    monkeypatch.setattr(sk, "_log_html", lambda call, est: 1 / 0)
    tracklet.autolog(log_models=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        LogisticRegression().fit(*data)
        LogisticRegression(C=0.5).fit(*data)
        tracklet.flush_async_logging()
    ours = [w for w in caught if issubclass(w.category, AutologWarning)]
    assert len(ours) == 1 and "ZeroDivisionError" in str(ours[0].message)


def test_the_switch_records_inside_fit(data, hold, monkeypatch):
    monkeypatch.setenv("TRACKLET_AUTOLOG_DEFER_POST_FIT", "false")
    tracklet.autolog(log_models=False)
    hold()  # the worker stays busy: a deferred task would stay pending
    RandomForestClassifier(n_estimators=3, random_state=0).fit(*data)  # the worker is held: nothing goes there
    run = stored(last_run_id())
    assert run.info.status == "FINISHED" and TRAINING <= set(run.data.metrics)
    assert deferred.pending() == 1  # the gate only


def test_two_threads_fitting_at_once_each_get_their_own_complete_run(data):
    tracklet.autolog(log_models=False)
    barrier = threading.Barrier(2)
    errors = []

    def fit(model):
        try:
            barrier.wait()
            model.fit(*data)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [
        threading.Thread(target=fit, args=(m,))
        for m in (LogisticRegression(), RandomForestClassifier(n_estimators=3, random_state=0))
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    runs = tracklet.search_runs(output_format="list")
    assert sorted(r.data.tags["estimator_name"] for r in runs) == ["LogisticRegression", "RandomForestClassifier"]
    for r in runs:
        assert r.info.status == "FINISHED" and TRAINING <= set(r.data.metrics)
        assert {"estimator.html", *PLOTS} <= artifacts(r.info.run_id)


# ---------------------------------------------------------------------- exit and fork (fresh processes)

_EXIT_SCRIPT = """
import sys, time
import numpy as np
import tracklet
from tracklet.autolog import deferred
tracklet.set_tracking_uri(sys.argv[1])
tracklet.autolog(log_models=True)
from sklearn.ensemble import RandomForestClassifier
X = np.random.default_rng(0).normal(size=(80, 4))
y = (X[:, 0] > 0).astype(int)
deferred.submit(lambda: time.sleep(0.3))  # the fit's task is still queued when the script ends
RandomForestClassifier(n_estimators=3, random_state=0).fit(X, y)
print(deferred.pending())
"""


def test_a_script_that_exits_right_after_fit_keeps_the_whole_run(tmp_path):
    uri = f"sqlite:///{tmp_path}/exit.db"
    env = dict(os.environ, TRACKLET_AUTOLOG_STRICT="1")
    done = subprocess.run([sys.executable, "-c", _EXIT_SCRIPT, uri], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert int(done.stdout.split()[-1]) >= 1  # the fit returned before its records were written
    client = tracklet.TrackletClient(uri)
    (run,) = client.search_runs(["0"])
    assert run.info.status == "FINISHED" and TRAINING <= set(run.data.metrics)
    assert {"estimator.html", "model", *PLOTS} <= {f.path for f in client.list_artifacts(run.info.run_id)}


_FORK_SCRIPT = """
import os, sys, threading
import numpy as np
import tracklet
from tracklet.autolog import deferred
tracklet.set_tracking_uri(sys.argv[1])
tracklet.autolog(log_models=False)
from sklearn.linear_model import LogisticRegression
X = np.random.default_rng(0).normal(size=(80, 4))
y = (X[:, 0] > 0).astype(int)
gate = threading.Event()
deferred.submit(gate.wait)
LogisticRegression().fit(X, y)
threading.Timer(0.3, gate.set).start()
pid = os.fork()  # waits for the pending tasks first
if pid == 0:
    LogisticRegression(C=0.5).fit(X, y)  # the child's own worker and run
    run = tracklet.last_active_run()
    ok = run.info.status == "FINISHED" and "training_score" in run.data.metrics and run.data.params["C"] == "0.5"
    os._exit(7 if ok else 3)
print(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
"""


def test_fork_while_a_task_is_pending_does_not_hang_the_child(tmp_path):
    uri = f"sqlite:///{tmp_path}/fork.db"
    env = dict(os.environ, TRACKLET_AUTOLOG_STRICT="1")
    done = subprocess.run(
        [sys.executable, "-c", _FORK_SCRIPT, uri], capture_output=True, text=True, env=env, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split()[-1] == "7", done.stderr[-3000:]
    runs = tracklet.TrackletClient(uri).search_runs(["0"])
    assert len(runs) == 2 and all(r.info.status == "FINISHED" for r in runs)
