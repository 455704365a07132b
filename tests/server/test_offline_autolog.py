"""An autologged xgboost fit whose tracking server is killed mid-training and restarted; and the batching
logger's memory bound while the server hangs."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from collections import Counter

import pytest

from tests.server.test_offline import HANDSHAKE, Server, base_env, journals, serve_handshakes, step_counts, the_run
from tracklet.tracking.client import TrackletClient

XGB_FIT = (
    HANDSHAKE
    + """
import numpy as np
import tracklet
tracklet.autolog()
import xgboost as xgb

class Pause(xgb.callback.TrainingCallback):
    def after_iteration(self, model, epoch, evals_log):
        if epoch in (100, 200):
            handshake(f"at{epoch}")
        return False

rng = np.random.default_rng(0)
X = rng.normal(size=(400, 5))
y = (X[:, 0] + rng.normal(scale=0.5, size=400) > 0).astype(float)
dtrain, dvalid = xgb.DMatrix(X[:300], label=y[:300]), xgb.DMatrix(X[300:], label=y[300:])
params = {"objective": "binary:logistic", "eval_metric": ["logloss", "auc"], "max_depth": 2, "nthread": 1}
xgb.train(params, dtrain, 300, evals=[(dtrain, "train"), (dvalid, "valid")], callbacks=[Pause()], verbose_eval=False)
print(tracklet.last_active_run().info.run_id)
"""
)


def test_autologged_xgboost_survives_a_server_kill_and_restart(tmp_path):
    pytest.importorskip("xgboost")
    server = Server(tmp_path).start()
    try:
        (tmp_path / "markers").mkdir()
        (tmp_path / "train.py").write_text(XGB_FIT)
        env = base_env(tmp_path, server.url, MARKERS=tmp_path / "markers", TRACKLET_SPOOL_EXIT_TIMEOUT=120)
        proc = subprocess.Popen(
            [sys.executable, str(tmp_path / "train.py")],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        serve_handshakes(tmp_path, proc, {"at100": server.kill, "at200": server.start})
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err
        run = the_run(server.url)
        assert run.info.status == "FINISHED" and run.data.tags["mlflow.autologging"] == "xgboost"
        assert run.data.params["max_depth"] == "2"
        for key in ("train-logloss", "train-auc", "valid-logloss", "valid-auc"):
            assert step_counts(server.url, run.info.run_id, key) == Counter(range(300)), key
        paths = {f.path for f in TrackletClient(server.url).list_artifacts(run.info.run_id)}
        assert {"model", "feature_importance_weight.json"} <= paths
        assert journals(tmp_path) == []
    finally:
        server.stop()


def test_queue_is_bounded_while_the_server_hangs_and_every_point_arrives_once(tmp_path, monkeypatch):
    """The server is replaced by a socket that accepts and never answers: the writer thread waits on its
    request while the training loop goes on; past TRACKLET_ASYNC_MAX_QUEUED entries go to the journal, not
    to memory. Then the real server comes back on the same port and everything arrives exactly once."""
    from tracklet.tracking.batching import close_logger, logger_for
    from tracklet.tracking.stores.rest import RestStore

    monkeypatch.setenv("TRACKLET_SPOOL_DIR", str(tmp_path / "spool"))
    monkeypatch.setenv("TRACKLET_ASYNC_MAX_QUEUED", "50")
    monkeypatch.setenv("TRACKLET_HTTP_REQUEST_TIMEOUT", "3")
    server = Server(tmp_path).start()
    store = RestStore(server.url)
    try:
        run_id = TrackletClient(server.url).create_run("0").info.run_id
        server.kill()
        hang = socket.socket()
        hang.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        hang.bind(("127.0.0.1", server.port))
        hang.listen(64)  # connections complete in the kernel; nobody reads or answers
        logger = logger_for(store)
        from tracklet.tracking.entities import Metric

        for step in range(3000):
            logger.submit(run_id, [Metric("loss", float(step), 1000 + step, step)])
        assert logger.peak_queued <= 50
        assert logger.spilled > 0
        done = threading.Event()
        threading.Thread(target=lambda: (logger.flush(), done.set()), daemon=True).start()
        done.wait(30)  # the hung request times out; its batch is spooled as "maybe sent"
        hang.close()
        server.start()
        assert store.spool().wait(120)
        assert step_counts(server.url, run_id, "loss") == Counter(range(3000))
    finally:
        close_logger(store)
        store.close()
        server.stop()
