"""The web UI with 10,000 runs in one experiment, measured in a real headless Chromium.

    python bench/bench_ui.py                    # 10,000 runs, 5 rounds
    python bench/bench_ui.py --runs 2000 --repeat 3

Builds a SQLite store with ``--runs`` finished runs (5 params, 5 metrics, 3 tags each) in one experiment, serves
it with the tracking server's app under uvicorn on 127.0.0.1, and prints one JSON line per figure,
``{"figure", "value", "unit", "rounds", ...}``, medians over ``--repeat`` rounds, each in a fresh browser context
(cold cache):

* ``page_weight_bytes`` -- bytes of every asset of the first load (HTML, CSS, JS modules, icon; the API's JSON
  answers are counted apart in ``first_load_api_bytes``), plus ``page_weight_gzip_bytes``: the same files gzipped
  (what a compressing proxy would send);
* ``first_paint_ms`` / ``first_contentful_paint_ms`` -- the browser's paint timings of ``/#/experiments/<id>``;
* ``table_rendered_ms`` -- navigation start to the runs table's first page (100 runs) rendered (the page's
  ``tracklet:runs-table-rendered`` performance mark);
* ``next_page_ms``, ``sort_by_metric_ms``, ``filter_ms`` -- a click (Next; a metric header; a filter applied) to
  the table rendered again, through the server.

The charts' figures (1M points) are in ``bench/bench_ui_charts.py``. To add browser figures over this 10k-run
store, append a function ``fn(page, base_url, experiment_id) -> dict[str, float]`` to ``EXTRA_FIGURES``: it runs
once per round on a page that shows the runs table, and its values are reported as medians like the others.

Needs the ``playwright`` package and Debian's ``chromium`` (or ``TRACKLET_TEST_CHROMIUM``).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from tests.server.conftest import LiveServer  # noqa: E402  (uvicorn on 127.0.0.1, a free port, in a thread)
from tracklet.server import create_app  # noqa: E402
from tracklet.tracking.artifacts.local import LocalArtifactRepository  # noqa: E402
from tracklet.tracking.entities import Metric, Param, RunTag  # noqa: E402
from tracklet.tracking.stores.sql import SqlStore  # noqa: E402

EXTRA_FIGURES: list = []  # fn(page, base_url, experiment_id) -> {figure: value}; see the module docstring

READY = (
    "() => { const r = document.querySelector('.runs-page');"
    " return r && r.dataset.state === 'ready' && r.dataset.hash === location.hash; }"
)
LAST_RENDER = (
    "() => { const m = performance.getEntriesByName('tracklet:runs-table-rendered');"
    " return m[m.length - 1].startTime; }"
)


def build_store(directory: str, runs: int) -> tuple[SqlStore, str]:
    store = SqlStore(f"sqlite:///{directory}/bench.db", "mlflow-artifacts:/")
    eid = store.create_experiment("ten thousand", None, [])
    t0 = 1_700_000_000_000
    for i in range(runs):
        start = t0 + i * 1000
        run = store.create_run(eid, "bench", start, [RunTag("team", "ab"[i % 2])], f"run-{i:05d}")
        rid = run.info.run_id
        store.log_batch(
            rid,
            [Metric(f"m{k}", ((i * 7919 + k * 104729) % 10007) / 10007, start, 0) for k in range(5)],
            [Param(f"p{k}", str((i + k) % 7)) for k in range(5)],
            [RunTag("mlflow.autologging", "xgboost"), RunTag("stage", "bench")],
        )
        store.update_run_info(rid, "FINISHED", start + 500 + i % 1000, None)
    return store, eid


def launch():
    from playwright.sync_api import sync_playwright

    executable = (
        os.environ.get("TRACKLET_TEST_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    )
    if not executable:
        raise SystemExit("no chromium executable found (apt-get install chromium)")
    pw = sync_playwright().start()
    return pw, pw.chromium.launch(executable_path=executable, headless=True, args=["--no-sandbox"])


def first_load(browser, url: str, eid: str) -> dict:
    """One cold load of the runs table, with what it transferred and its paint timings."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    responses = []
    page.on("response", lambda r: responses.append(r) if r.url.startswith(url) else None)
    page.goto(f"{url}/#/experiments/{eid}")
    page.wait_for_function(READY, timeout=120_000)
    timings = page.evaluate(
        """() => {
      const paint = Object.fromEntries(performance.getEntriesByType('paint').map((e) => [e.name, e.startTime]));
      const mark = performance.getEntriesByName('tracklet:runs-table-rendered')[0];
      return {fp: paint['first-paint'], fcp: paint['first-contentful-paint'], table: mark.startTime,
              rows: document.querySelectorAll('.runs-table tbody tr[data-run-id]').length};
    }"""
    )
    assets = api = gz = 0
    for response in responses:
        body = response.body()
        if "/ajax-api/" in response.url:
            api += len(body)
        else:
            assets += len(body)
            gz += len(gzip.compress(body, 6))
    out = {
        "page_weight_bytes": assets,
        "page_weight_gzip_bytes": gz,
        "first_load_api_bytes": api,
        "first_paint_ms": timings["fp"],
        "first_contentful_paint_ms": timings["fcp"],
        "table_rendered_ms": timings["table"],
        "rows": timings["rows"],
        "requests": len(responses),
    }
    out.update(interactions(page))
    for fn in EXTRA_FIGURES:
        out.update(fn(page, url, eid))
    context.close()
    return out


def _timed(page, action) -> float:
    """ms from just before ``action()`` to the table rendered for the URL it leads to."""
    before = page.evaluate("performance.now()")
    action()
    page.wait_for_function(f"() => location.hash !== '' && ({READY})()", timeout=120_000)
    return page.evaluate(LAST_RENDER) - before


def interactions(page) -> dict:
    out = {}
    start = page.evaluate("location.hash")
    out["next_page_ms"] = _timed(page, lambda: page.get_by_role("button", name="Next").click())
    page.goto(page.url.split("#")[0] + start)
    page.wait_for_function(READY)
    out["sort_by_metric_ms"] = _timed(page, lambda: page.locator("th button.sort", has_text="m1").click())
    box = page.get_by_label("Filter runs")
    box.fill("metrics.m1 > 0.5 and params.p1 = '3'")
    out["filter_ms"] = _timed(page, lambda: box.press("Enter"))
    return out


def emit(figure: str, values: list[float], unit: str, **extra) -> None:
    record = {"figure": figure, "value": round(statistics.median(values), 1), "unit": unit, "rounds": len(values)}
    record.update(extra)
    print(json.dumps(record), flush=True)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    workdir = tempfile.mkdtemp(prefix="tracklet-bench-ui-")
    try:
        t = time.perf_counter()
        store, eid = build_store(workdir, args.runs)
        emit("seed_runs_s", [time.perf_counter() - t], "s", runs=args.runs)
        app = create_app(store, LocalArtifactRepository(os.path.join(workdir, "artifacts")))
        with LiveServer(app) as url:
            urllib.request.urlopen(url + "/health").read()
            pw, browser = launch()
            try:
                rounds = [first_load(browser, url, eid) for _ in range(args.repeat)]
            finally:
                browser.close()
                pw.stop()
        units = {"bytes": "bytes", "_ms": "ms"}
        for figure in rounds[0]:
            if figure in ("rows", "requests"):
                continue
            unit = next((u for suffix, u in units.items() if figure.endswith(suffix)), "")
            emit(figure, [r[figure] for r in rounds], unit, runs=args.runs, rows_shown=rounds[0]["rows"])
        store.close()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
