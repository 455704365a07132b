"""Web UI fixtures: a real uvicorn server on 127.0.0.1 over a fresh SQLite store, and a real headless Chromium.

The browser is Debian's ``chromium`` driven by the ``playwright`` package (``executable_path``, no browser
download). Without one the UI tests skip, unless ``TRACKLET_TEST_REQUIRE_BROWSER=1`` (set by ``.ci/run``) makes
that a failure.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

pytest.importorskip("starlette")
pytest.importorskip("uvicorn")

import tracklet  # noqa: E402
import tracklet.xgboost  # noqa: E402,F401  (the namespace imports no framework until autolog is used)
from tests.server.conftest import LiveServer  # noqa: E402
from tracklet.server import create_app  # noqa: E402
from tracklet.tracking.artifacts.local import LocalArtifactRepository  # noqa: E402
from tracklet.tracking.stores.sql import SqlStore  # noqa: E402

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def _chromium() -> str | None:
    return os.environ.get("TRACKLET_TEST_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the whole session."""
    required = os.environ.get("TRACKLET_TEST_REQUIRE_BROWSER") == "1"
    executable = _chromium()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if required:
            raise
        pytest.skip("the playwright package is not installed")
    if executable is None:
        if required:
            pytest.fail("TRACKLET_TEST_REQUIRE_BROWSER=1 but no chromium executable was found")
        pytest.skip("no chromium executable (apt-get install chromium)")
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=executable, headless=True, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture
def ui_server(tmp_path):
    """A live tracklet server (SQLite + local proxied artifacts); ``.url`` for the browser, and the process's
    tracking URI pointed at it so runs logged through the Python API go over REST to the same server."""
    store = SqlStore(f"sqlite:///{tmp_path / 'ui.db'}", "mlflow-artifacts:/")
    artifacts = tmp_path / "mlartifacts"
    artifacts.mkdir()
    app = create_app(store, LocalArtifactRepository(str(artifacts)))
    previous = tracklet.get_tracking_uri()
    with LiveServer(app) as url:
        tracklet.set_tracking_uri(url)
        try:
            yield _Server(url, store)
        finally:
            if tracklet.active_run() is not None:
                tracklet.end_run()
            tracklet.set_tracking_uri(previous)
    store.close()


class _Server:
    def __init__(self, url: str, store):
        self.url = url
        self.store = store


@pytest.fixture
def page(browser):
    """A fresh browser page (own context); console errors are collected in ``page.console_errors``."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, accept_downloads=True)
    p = context.new_page()
    p.set_default_timeout(15_000)
    p.console_errors = []
    p.on("console", lambda msg: p.console_errors.append(msg.text) if msg.type == "error" else None)
    p.on("pageerror", lambda exc: p.console_errors.append(str(exc)))
    yield p
    context.close()


def seed_runs(store, experiment_id: str, n: int, *, prefix: str = "run", start: int = 1_700_000_000_000, tags=None):
    """Log ``n`` finished runs fast, straight into the server's store (one create + one log_batch each).

    Run i: name ``<prefix>-<i:04d>``, started ``start + i`` seconds, metric ``acc = i / n`` and ``loss = 1 - acc``,
    params ``lr`` (``0.1``/``0.01`` alternating) and ``idx`` (i). Returns the run ids in order of i."""
    from tracklet.tracking.entities import Metric, Param, RunTag

    ids = []
    for i in range(n):
        t0 = start + i * 1000
        run = store.create_run(
            experiment_id, "tester", t0, [RunTag(k, v) for k, v in (tags or {}).items()], f"{prefix}-{i:04d}"
        )
        rid = run.info.run_id
        acc = i / n
        store.log_batch(
            rid,
            [Metric("acc", acc, t0, 0), Metric("loss", 1 - acc, t0, 0)],
            [Param("lr", "0.1" if i % 2 else "0.01"), Param("idx", str(i))],
            [],
        )
        store.update_run_info(rid, "FINISHED", t0 + 500 + i, None)
        ids.append(rid)
    return ids


def xgboost_runs(experiment_name: str, etas=(0.3, 0.1), rounds: int = 8) -> list[str]:
    """Real autologged XGBoost fits (tiny data) into the current tracking URI, one run per eta; run ids."""
    xgb = pytest.importorskip("xgboost")
    np = pytest.importorskip("numpy")

    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 4))
    y = (X[:, 0] + 0.5 * X[:, 1] + rng.normal(scale=0.8, size=200) > 0).astype(int)
    dtrain, dvalid = xgb.DMatrix(X[:150], label=y[:150]), xgb.DMatrix(X[150:], label=y[150:])
    tracklet.set_experiment(experiment_name)
    tracklet.xgboost.autolog(log_models=False)
    ids = []
    try:
        for eta in etas:
            params = {
                "objective": "binary:logistic",
                "eval_metric": "logloss",
                "max_depth": 2,
                "eta": eta,
                "nthread": 1,
            }
            xgb.train(params, dtrain, num_boost_round=rounds, evals=[(dtrain, "train"), (dvalid, "valid")])
            ids.append(tracklet.last_active_run().info.run_id)
    finally:
        tracklet.xgboost.autolog(disable=True)
    return ids


def open_runs(page, url: str, experiment_ids, query: str = ""):
    """Open the runs table of ``experiment_ids`` and wait until it has rendered (or shown its error)."""
    ids = ",".join(experiment_ids) if not isinstance(experiment_ids, str) else experiment_ids
    page.goto(f"{url}/#/experiments/{ids}" + (f"?{query}" if query else ""))
    wait_runs(page)


def wait_runs(page):
    """Wait until the runs table rendered for the current URL has loaded (or shown its error)."""
    page.wait_for_function(
        "() => { const r = document.querySelector('.runs-page');"
        " return r && r.dataset.state !== 'loading' && r.dataset.hash === location.hash; }"
    )


def table_names(page) -> list[str]:
    """The run names of the table's rows, top to bottom."""
    return page.locator(".runs-table tbody tr[data-run-id] td.name a:first-of-type").all_inner_texts()


def script_errors(page) -> list[str]:
    """Console errors other than the browser's note about an HTTP error answer (a test that provokes a 4xx
    expects that one)."""
    return [e for e in page.console_errors if not e.startswith("Failed to load resource")]


def screenshot(page, name: str, full_page: bool = False) -> Path:
    """Save a screenshot the README links to (docs/screenshots/<name>.png)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path
