"""Comparing runs in a real browser: params side by side with differences highlighted, latest metrics, overlaid
charts (one series per run), the param-vs-metric scatter, and the state kept in the URL."""

from __future__ import annotations

import tracklet
from tests.ui.conftest import open_runs, screenshot, xgboost_runs


def _wait_compare(page):
    page.wait_for_selector(".compare-page[data-state=ready]")


def test_compare_two_autologged_runs(ui_server, page):
    a, b, _ = xgboost_runs("compare", etas=(0.3, 0.1, 0.03))
    eid = tracklet.get_experiment_by_name("compare").experiment_id
    open_runs(page, ui_server.url, eid, "cols=metrics.valid-logloss,params.eta,params.max_depth")
    compare = page.get_by_role("button", name="Compare 0 selected")
    assert compare.is_disabled()
    page.locator(f"tr[data-run-id='{a}'] input[type=checkbox]").check()
    page.locator(f"tr[data-run-id='{b}'] input[type=checkbox]").check()
    assert f"sel={a}%2C{b}" in page.evaluate("location.hash")
    screenshot(page, "runs-table")
    page.get_by_role("button", name="Compare 2 selected").click()
    page.wait_for_url(f"**/#/compare?runs={a}%2C{b}")
    _wait_compare(page)

    eta = page.locator("#compare-params tr[data-key=eta]")
    assert eta.get_attribute("class") == "diff"
    assert "differs" in eta.inner_text()
    assert eta.locator("td").all_inner_texts() == ["0.3", "0.1"]
    assert page.locator("#compare-params tr[data-key=max_depth]").get_attribute("class") == "same"
    assert page.locator("#compare-metrics tr[data-key=valid-logloss] td").count() == 2

    charts = page.locator(".chart-card")
    assert charts.count() >= 2  # train-logloss, valid-logloss, ...
    for i in range(charts.count()):
        card = charts.nth(i)
        page.wait_for_function("el => el.dataset.state === 'ready'", arg=card.element_handle())
        assert card.get_attribute("data-series") == "2"  # one series per run, overlaid
    assert page.locator(".scatter svg").get_attribute("data-points") == "2"
    assert page.locator("#scatter-x").input_value() == "eta"  # the first param that differs
    screenshot(page, "compare", full_page=True)

    page.get_by_label("Show only differing rows", exact=False).first.check()
    assert "diff=1" in page.evaluate("location.hash")
    assert page.locator("#compare-params tr[data-key=max_depth]").is_hidden()
    page.locator("#scatter-y").select_option("train-logloss")
    page.reload()
    _wait_compare(page)
    assert page.locator("#compare-params tr[data-key=max_depth]").is_hidden()
    assert page.locator("#compare-params tr[data-key=eta]").is_visible()
    assert page.locator("#scatter-y").input_value() == "train-logloss"
    assert page.console_errors == []


def test_compare_reports_a_missing_run_and_still_shows_the_others(ui_server, page):
    with tracklet.start_run(run_name="kept") as run:
        tracklet.log_param("p", "1")
        tracklet.log_metric("m", 0.5)
    page.goto(f"{ui_server.url}/#/compare?runs={run.info.run_id},0123456789abcdef0123456789abcdef")
    _wait_compare(page)
    assert "Run 0123456789abcdef0123456789abcdef could not be loaded" in page.locator(".compare-page").inner_text()
    assert page.locator("#compare-params tr[data-key=p] td").all_inner_texts() == ["1"]
