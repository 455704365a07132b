"""The metric chart module (static/chart.js) in a real browser: series overlay, zoom with a detail fetch,
spikes kept through the server's downsampling of a 1,000,000-point metric, and the x-axis modes."""

from __future__ import annotations

import math

import pytest

import tracklet
from tests.server.conftest import LiveServer
from tests.ui.conftest import screenshot
from tracklet.server import create_app
from tracklet.tracking.artifacts.local import LocalArtifactRepository
from tracklet.tracking.entities import Metric
from tracklet.tracking.stores.sql import SqlStore

MILLION = 1_000_000
SPIKE_STEP, SPIKE_VALUE = 654_321, 50.0

MOUNT = """async (opts) => {
  const m = await import("./static/chart.js");
  let div = document.getElementById("chart-under-test");
  if (!div) {
    div = document.createElement("div");
    div.id = "chart-under-test";
    div.style.width = "900px";
    document.body.prepend(div);
  }
  window.rangeChanges = [];
  window.chartHandle = m.createChart(div, {...opts, onRangeChange: (r) => window.rangeChanges.push(r)});
}"""


def log_million(store, run_id: str, key: str = "loss") -> None:
    """1,000,000 points of a smooth curve with one spike, written through the store's log_batch (1000 a call)."""
    for start in range(0, MILLION, 1000):
        batch = []
        for step in range(start, start + 1000):
            value = SPIKE_VALUE if step == SPIKE_STEP else 1.0 + 0.5 * math.sin(step / 20_000)
            batch.append(Metric(key, value, 1_700_000_000_000 + step, step))
        store.log_batch(run_id, batch, [], [])


@pytest.fixture(scope="module")
def million_server(tmp_path_factory):
    """A server over a store holding one run with a 1,000,000-point metric (built once: it takes a while)."""
    tmp = tmp_path_factory.mktemp("million")
    store = SqlStore(f"sqlite:///{tmp / 'm.db'}", "mlflow-artifacts:/")
    run = store.create_run("0", "tester", 1_700_000_000_000, [], "million")
    log_million(store, run.info.run_id)
    (tmp / "art").mkdir()
    with LiveServer(create_app(store, LocalArtifactRepository(str(tmp / "art")))) as url:
        yield url, run.info.run_id
    store.close()


def mount(page, url: str, **opts) -> None:
    page.goto(url + "/")
    page.wait_for_selector("header.topbar")
    page.evaluate(MOUNT, opts)
    page.wait_for_selector("#chart-under-test[data-state=ready]")


def drawn(page, selector: str = "#chart-under-test") -> dict:
    """What uPlot holds: series count (without the x series), x scale, and per series min/max/count."""
    return page.evaluate(
        """(selector) => {
      const u = document.querySelector(selector).uplot;
      const xs = u.data[0];
      const ys = u.data.slice(1).map((col) => col.filter((v) => v !== null));
      return {
        series: u.series.length - 1,
        xmin: u.scales.x.min, xmax: u.scales.x.max,
        dataXmin: xs[0], dataXmax: xs[xs.length - 1], points: xs.length,
        ymax: ys.map((c) => Math.max(...c)), ymin: ys.map((c) => Math.min(...c)),
      };
    }""",
        selector,
    )


def drag_select(page, frac_lo: float, frac_hi: float, selector: str = "#chart-under-test") -> None:
    box = page.locator(selector + " .u-over").bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * frac_lo, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * (frac_lo + frac_hi) / 2, y, steps=4)
    page.mouse.move(box["x"] + box["width"] * frac_hi, y, steps=4)
    page.mouse.up()


def test_overlay_draws_one_series_per_run(ui_server, page):
    ids = []
    for n in range(3):
        with tracklet.start_run(run_name=f"r{n}") as run:
            for step in range(0, 50, 1 + n):  # different steps per run: the chart aligns them
                tracklet.log_metric("acc", n + step / 100, step=step)
            ids.append(run.info.run_id)
    series = [{"label": f"r{n}", "runId": rid, "key": "acc"} for n, rid in enumerate(ids)]
    mount(page, ui_server.url, title="acc", series=series, xAxis="step", range=None)
    got = drawn(page)
    assert got["series"] == 3
    assert page.get_attribute("#chart-under-test", "data-series") == "3"
    assert got["dataXmin"] == 0 and got["dataXmax"] == 49
    assert [round(v, 6) for v in got["ymax"]] == [0.49, 1.48, 2.48]
    assert page.console_errors == []


def test_time_and_relative_axes(ui_server, page):
    with tracklet.start_run() as run:
        client = tracklet.MlflowClient()
        start = run.info.start_time
        for step in range(10):
            client.log_metric(run.info.run_id, "m", step, timestamp=start + 1000 * step, step=step)
    series = [{"label": "m", "runId": run.info.run_id, "key": "m"}]
    mount(page, ui_server.url, title="m", series=series, xAxis="relative", range=None)
    got = drawn(page)
    assert (got["dataXmin"], got["dataXmax"]) == (0, 9)  # seconds since the run started
    mount(page, ui_server.url, title="m", series=series, xAxis="time", range=None)
    got = drawn(page)
    assert got["dataXmin"] == start / 1000 and got["dataXmax"] == start / 1000 + 9


def linear_run(points: int) -> str:
    """A run whose ``loss`` is its step, for steps 0..points-1 (one log_batch over REST)."""
    with tracklet.start_run() as run:
        metrics = [Metric("loss", float(s), 1_700_000_000_000 + s, s) for s in range(points)]
        tracklet.MlflowClient().log_batch(run.info.run_id, metrics=metrics)
    return run.info.run_id


def test_zoom_fetches_detail_for_the_step_range(ui_server, page):
    series = [{"label": "loss", "runId": linear_run(1000), "key": "loss"}]
    mount(page, ui_server.url, title="loss", series=series, xAxis="step", range=None)
    assert page.get_attribute("#chart-under-test", "data-step-range") == ""
    fetches = int(page.get_attribute("#chart-under-test", "data-fetches"))
    with page.expect_request(lambda r: "get-history-bulk-interval" in r.url and "start_step" in r.url) as req:
        drag_select(page, 0.25, 0.5)
    assert "end_step" in req.value.url
    page.wait_for_function(
        f"document.getElementById('chart-under-test').dataset.fetches == {fetches + 1}"
        " && document.getElementById('chart-under-test').dataset.state == 'ready'"
    )
    lo, hi = map(int, page.get_attribute("#chart-under-test", "data-step-range").split(","))
    assert 0 < lo < hi < 999
    got = drawn(page)
    assert lo <= got["dataXmin"] and got["dataXmax"] <= hi  # only the zoomed range was fetched and drawn
    assert got["xmin"] >= lo - 1 and got["xmax"] <= hi + 1
    changes = page.evaluate("window.rangeChanges")
    assert len(changes) == 1 and changes[0][0] <= changes[0][1]
    # reset zoom: the whole history again, and the page is told the range is gone
    page.click("#chart-under-test .tk-chart-reset")
    page.wait_for_function("document.getElementById('chart-under-test').dataset.stepRange === ''")
    page.wait_for_selector("#chart-under-test[data-state=ready]")
    got = drawn(page)
    assert (got["dataXmin"], got["dataXmax"]) == (0, 999)
    assert page.evaluate("window.rangeChanges")[-1] is None


def test_deep_linked_range_draws_only_that_range(ui_server, page):
    series = [{"label": "loss", "runId": linear_run(500), "key": "loss"}]
    mount(page, ui_server.url, title="loss", series=series, xAxis="step", range=[100, 200])
    got = drawn(page)
    assert (got["dataXmin"], got["dataXmax"]) == (100, 200)
    assert (got["xmin"], got["xmax"]) == (100, 200)


def test_spike_in_a_million_points_survives_downsampling(million_server, page):
    """On the run page: the downsampled answer is small, the chart draws the spike, and zooming keeps it."""
    url, run_id = million_server
    chart = ".tk-chart-box[data-metric=loss]"
    with page.expect_response(lambda r: "get-history-bulk-interval" in r.url) as resp:
        page.goto(f"{url}/#/runs/{run_id}?tab=charts")
        page.wait_for_selector(chart + "[data-state=ready]")
    assert len(resp.value.json()["metrics"]) <= 2500
    got = drawn(page, chart)
    assert got["points"] <= 2500
    assert got["ymax"] == [SPIKE_VALUE]  # the one spike among 1M points is drawn
    assert got["dataXmin"] == 0 and got["dataXmax"] == MILLION - 1
    screenshot(page, "chart-million-points")
    # zoom around the spike: detail for that range, the spike still there, the range in the URL
    drag_select(page, 0.6, 0.7, chart)
    page.wait_for_function(f"document.querySelector('{chart}').dataset.stepRange !== ''")
    page.wait_for_selector(chart + "[data-state=ready]")
    lo, hi = map(int, page.get_attribute(chart, "data-step-range").split(","))
    assert lo < SPIKE_STEP < hi and hi - lo < MILLION / 5
    got = drawn(page, chart)
    assert got["ymax"] == [SPIKE_VALUE] and lo <= got["dataXmin"] and got["dataXmax"] <= hi
    assert "range=" in page.url
    assert page.console_errors == []


def test_deep_linked_time_range_maps_to_steps(ui_server, page):
    """A wall-time range: the overview tells which steps it covers, then only those (plus one each side) come."""
    base = 1_700_000_000_000
    with tracklet.start_run() as run:
        metrics = [Metric("loss", float(s), base + 1000 * s, s) for s in range(100)]
        tracklet.MlflowClient().log_batch(run.info.run_id, metrics=metrics)
    series = [{"label": "loss", "runId": run.info.run_id, "key": "loss"}]
    window = [base / 1000 + 20.5, base / 1000 + 40.5]
    mount(page, ui_server.url, title="loss", series=series, xAxis="time", range=window)
    page.wait_for_function("document.getElementById('chart-under-test').dataset.stepRange !== ''")
    page.wait_for_selector("#chart-under-test[data-state=ready]")
    assert page.get_attribute("#chart-under-test", "data-step-range") == "20,41"
    got = drawn(page)
    assert (got["xmin"], got["xmax"]) == tuple(window)
    assert (got["dataXmin"], got["dataXmax"]) == (base / 1000 + 20, base / 1000 + 41)
    assert page.evaluate("window.rangeChanges") == []  # restoring a deep link is not a change
