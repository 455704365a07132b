"""autolog() warms the store's modules up in a background thread; the first fit must lose nothing by it, even
when the fit starts while the warm-up is still importing and the process exits right after the fit."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import tracklet

_SCRIPT = """
import os, sys
import numpy as np
from sklearn.linear_model import LogisticRegression  # framework first: autolog() installs at once
import tracklet
tracklet.set_tracking_uri(sys.argv[1])
tracklet.autolog(log_models=True)
X = np.random.default_rng(0).normal(size=(60, 3))
y = (X[:, 0] > 0).astype(int)
LogisticRegression(C=0.5).fit(X, y)  # the warm-up thread may still be importing the store
sys.stdout.flush()
if sys.argv[2] == "hard":
    os._exit(0)  # no atexit handlers: the fit must have written everything before returning (no deferral)
"""


@pytest.mark.parametrize("exit_kind", ["normal", "hard"])
def test_first_fit_right_after_autolog_then_exit_keeps_the_whole_run(tmp_path, exit_kind):
    uri = f"sqlite:///{tmp_path}/t.db"
    env = dict(os.environ, TRACKLET_AUTOLOG_STRICT="1")
    if exit_kind == "hard":  # a process killed right after fit keeps the whole run only when fit records it all
        env["TRACKLET_AUTOLOG_DEFER_POST_FIT"] = "false"
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT, uri, exit_kind], capture_output=True, text=True, timeout=300, env=env
    )
    assert done.returncode == 0, done.stderr
    tracklet.set_tracking_uri(uri)  # the isolation fixture resets it after the test
    client = tracklet.TrackletClient(uri)
    (run,) = client.search_runs(["0"])
    assert run.info.status == "FINISHED"
    assert run.data.params["C"] == "0.5"
    assert "training_accuracy_score" in run.data.metrics
    assert run.data.tags["mlflow.autologging"] == "sklearn"
    paths = {f.path for f in client.list_artifacts(run.info.run_id)}
    assert "estimator.html" in paths
    model = tracklet.sklearn.load_model(f"runs:/{run.info.run_id}/model")
    assert model.predict(__import__("numpy").zeros((1, 3))).shape == (1,)


def test_warm_up_imports_the_store_for_the_uri_in_effect(tmp_path):
    code = """
import sys, threading, tracklet
tracklet.set_tracking_uri(sys.argv[1])
tracklet.autolog()
for t in threading.enumerate():
    if t.name == "tracklet-autolog-warm-up":
        t.join()
print("sql" if "tracklet.tracking.stores.sql" in sys.modules else "no-sql",
      "file" if "tracklet.tracking.stores.file" in sys.modules else "no-file")
"""
    for uri, expected in ((str(tmp_path / "mlruns"), "file"), (f"sqlite:///{tmp_path}/w.db", "sql")):
        out = subprocess.run([sys.executable, "-c", code, uri], capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        assert expected in out.stdout.split(), out.stdout
    assert not [p for p in os.listdir(tmp_path) if p.startswith(("mlruns", "w.db"))], "autolog() created the store"


def test_a_fork_while_the_warm_up_imports_does_not_hang_the_child(tmp_path):
    """``os.fork()`` right after ``autolog()`` waits for the warm-up imports, so the child never inherits an
    import lock held by a thread it does not have (it would hang importing the same modules)."""
    code = f"""
import os, tracklet
tracklet.set_tracking_uri({("sqlite:///" + str(tmp_path / "f.db"))!r})
tracklet.autolog()
import sklearn
pid = os.fork()
if pid == 0:
    import sqlalchemy, tracklet.tracking.stores.sql
    os._exit(7)
print(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "7"
