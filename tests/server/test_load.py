"""Under load: several worker processes on one SQLite file lose no metric point; autolog over REST batches."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import urllib.request

import pytest

import tracklet
from tests.server.test_cli import free_port, wait_healthy
from tracklet.tracking.entities import Metric
from tracklet.tracking.stores.rest import RestStore

T0 = 1_700_000_000_000


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_two_workers_on_one_database_lose_nothing(tmp_path, backend):
    if backend == "postgres":
        from tests.stores.conftest import POSTGRES_ENV, _reset_postgres

        uri = os.environ.get(POSTGRES_ENV) or pytest.skip(f"{POSTGRES_ENV} is not set")
        _reset_postgres(uri)
    else:
        uri = f"sqlite:///{tmp_path / 'shared.db'}"
    port = free_port()
    args = [sys.executable, "-m", "tracklet", "server", "--port", str(port), "--workers", "2"]
    args += ["--backend-store-uri", uri, "--artifacts-destination", str(tmp_path / "a")]
    proc = subprocess.Popen(args, cwd=tmp_path, stderr=subprocess.PIPE, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc)
        setup = RestStore(url)
        shared = setup.create_run("0", "u", T0, [], "shared").info.run_id
        own = [setup.create_run("0", "u", T0, [], f"w{i}").info.run_id for i in range(4)]
        errors = []

        def worker(n: int) -> None:
            store = RestStore(url)  # its own connection: requests spread over both workers
            try:
                for batch in range(25):
                    steps = range(batch * 20, batch * 20 + 20)
                    store.log_batch(shared, [Metric("all", float(n), T0, n * 1000 + s) for s in steps], [], [])
                    store.log_batch(own[n], [Metric("mine", float(s), T0, s) for s in steps], [], [])
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(exc)
            finally:
                store.close()

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        history = setup.get_metric_history(shared, "all")
        assert len(history) == 4 * 25 * 20
        assert sorted(m.step for m in history) == sorted(n * 1000 + s for n in range(4) for s in range(500))
        for run_id in own:
            assert [m.step for m in setup.get_metric_history(run_id, "mine")] == list(range(500))
        setup.close()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(30)


def test_autolog_over_rest_batches_per_iteration_metrics(backing_store, destination):
    xgb = pytest.importorskip("xgboost")
    np = pytest.importorskip("numpy")
    from tests.server.conftest import LiveServer
    from tracklet.server import create_app
    from tracklet.tracking.artifacts.local import LocalArtifactRepository

    app = create_app(backing_store, LocalArtifactRepository(str(destination)), expose_prometheus=True)
    with LiveServer(app) as url:
        tracklet.set_tracking_uri(url)
        tracklet.xgboost.autolog(log_models=False)
        rng = np.random.default_rng(0)
        X, y = rng.random((200, 4)), rng.random(200)
        dtrain = xgb.DMatrix(X, label=y)
        xgb.train({"max_depth": 2}, dtrain, num_boost_round=60, evals=[(dtrain, "train")])
        run = tracklet.last_active_run()
        tracklet.xgboost.autolog(disable=True)
        assert len(backing_store.get_metric_history(run.info.run_id, "train-rmse")) == 60
        text = urllib.request.urlopen(f"{url}/metrics").read().decode()

    def count(route: str) -> int:
        prefix = f'tracklet_http_requests_total{{method="POST",route="/api/2.0/mlflow/runs/{route}",status="200"}} '
        return sum(int(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(prefix))

    assert count("log-metric") == 0
    assert 1 <= count("log-batch") <= 10  # 60 iterations, a handful of requests
