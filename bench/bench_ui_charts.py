"""Metric charts with a 1,000,000-point metric: the server's downsampled answer, and the chart in a real browser.

    python bench/bench_ui_charts.py                 # 1M points, 7 rounds
    python bench/bench_ui_charts.py --points 200000 --repeat 5

Builds a SQLite store with one run whose metric ``loss`` has ``--points`` steps (one spike), serves it with
``tracklet server``'s app under uvicorn on 127.0.0.1, and prints one JSON line per figure,
``{"figure", "value", "unit", "rounds", ...}`` (medians over ``--repeat`` rounds):

* ``server_full_ms`` / ``server_full_bytes`` -- ``metrics/get-history-bulk-interval`` over the whole history,
  ``max_results`` = what a 900-pixel chart asks for (1,800), time to the full body and its size;
* ``server_zoom_ms`` / ``server_zoom_bytes`` -- the same for a 10% step range (a zoom);
* ``chart_draw_ms`` -- in headless Chromium, ``createChart`` to drawn (fetch + uPlot draw), the page already loaded;
* ``chart_zoom_ms`` -- a zoom on that chart: detail fetch for the range + redraw;
* ``chart_points`` -- points the chart drew (the spike is checked to be among them).

Needs the ``playwright`` package and Debian's ``chromium`` (or ``TRACKLET_TEST_CHROMIUM``) for the browser figures.
"""

from __future__ import annotations

import argparse
import json
import math
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
from tracklet.tracking.entities import Metric  # noqa: E402
from tracklet.tracking.stores.sql import SqlStore  # noqa: E402

CHART_WIDTH_PX = 900

TIMED = """async ({series, range, width}) => {
  const m = await import("./static/chart.js");
  let div = document.getElementById("bench-chart");
  if (div) div.remove();
  div = document.createElement("div");
  div.id = "bench-chart";
  div.style.width = width + "px";
  document.body.prepend(div);
  const ready = () => new Promise((resolve) => {
    const check = () => div.dataset.state === "ready" ? resolve() : requestAnimationFrame(check);
    check();
  });
  const t0 = performance.now();
  const chart = m.createChart(div, {title: "loss", series, xAxis: "step", range: null});
  await ready();
  await new Promise(requestAnimationFrame);  // the frame that paints it
  const draw = performance.now() - t0;
  const t1 = performance.now();
  const zoomed = chart.setRange(range);
  await zoomed;
  await ready();
  await new Promise(requestAnimationFrame);
  const zoom = performance.now() - t1;
  const u = div.uplot;
  const ys = u.data[1].filter((v) => v !== null);
  let max = -Infinity;
  for (const y of ys) if (y > max) max = y;
  const out = {draw, zoom, points: u.data[0].length, max};
  chart.destroy();
  return out;
}"""


def build_store(directory: str, points: int, spike_step: int) -> tuple[SqlStore, str]:
    store = SqlStore(f"sqlite:///{directory}/bench.db", "mlflow-artifacts:/")
    run = store.create_run("0", "bench", 1_700_000_000_000, [], "million")
    for start in range(0, points, 1000):
        batch = [
            Metric("loss", 50.0 if s == spike_step else 1 + 0.5 * math.sin(s / 20_000), 1_700_000_000_000 + s, s)
            for s in range(start, min(points, start + 1000))
        ]
        store.log_batch(run.info.run_id, batch, [], [])
    return store, run.info.run_id


def timed_get(url: str) -> tuple[float, int]:
    t0 = time.perf_counter()
    with urllib.request.urlopen(url) as r:
        body = r.read()
    return (time.perf_counter() - t0) * 1000, len(body)


def emit(figure: str, values: list[float], unit: str, **extra) -> None:
    row = {"figure": figure, "value": round(statistics.median(values), 2), "unit": unit, "rounds": len(values)}
    print(json.dumps({**row, **extra}), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    spike = int(args.points * 0.654321)
    tmp = tempfile.mkdtemp(prefix="bench-ui-charts-")
    try:
        t0 = time.perf_counter()
        store, run_id = build_store(tmp, args.points, spike)
        print(
            json.dumps(
                {
                    "figure": "setup_log_batch_s",
                    "value": round(time.perf_counter() - t0, 1),
                    "unit": "s",
                    "points": args.points,
                }
            ),
            flush=True,
        )
        os.makedirs(f"{tmp}/art")
        with LiveServer(create_app(store, LocalArtifactRepository(f"{tmp}/art"))) as url:
            api = f"{url}/ajax-api/2.0/mlflow/metrics/get-history-bulk-interval?run_ids={run_id}&metric_key=loss"
            lo, hi = int(args.points * 0.6), int(args.points * 0.7)
            full, zoom = [], []
            for _ in range(args.repeat):  # interleaved
                full.append(timed_get(f"{api}&max_results={2 * CHART_WIDTH_PX}"))
                zoom.append(timed_get(f"{api}&max_results={2 * CHART_WIDTH_PX}&start_step={lo}&end_step={hi}"))
            emit("server_full_ms", [t for t, _ in full], "ms", points=args.points)
            emit("server_full_bytes", [b for _, b in full], "bytes")
            emit("server_zoom_ms", [t for t, _ in zoom], "ms", step_range=[lo, hi])
            emit("server_zoom_bytes", [b for _, b in zoom], "bytes")
            browser_figures(url, run_id, (lo, hi), args.repeat)
        store.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def browser_figures(url: str, run_id: str, step_range: tuple[int, int], repeat: int) -> None:
    executable = (
        os.environ.get("TRACKLET_TEST_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        executable = None
    if executable is None:
        print(json.dumps({"figure": "chart_draw_ms", "skipped": "no playwright/chromium"}), flush=True)
        return
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, headless=True, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(url + "/")
        page.wait_for_selector("header.topbar")
        series = [{"label": "loss", "runId": run_id, "key": "loss"}]
        results = [
            page.evaluate(TIMED, {"series": series, "range": list(step_range), "width": CHART_WIDTH_PX})
            for _ in range(repeat + 1)
        ]
        results = results[1:]  # the first round also loads uPlot: left out
        browser.close()
    if any(r["max"] != 50.0 for r in results):
        raise SystemExit("the spike was not drawn")
    emit("chart_draw_ms", [r["draw"] for r in results], "ms", width_px=CHART_WIDTH_PX)
    emit("chart_zoom_ms", [r["zoom"] for r in results], "ms", step_range=list(step_range))
    emit("chart_points", [r["points"] for r in results], "points")


if __name__ == "__main__":
    main()
