"""The runs table in a real browser: listing, filter (and its inline error), sorting, paging, columns, nesting, CSV."""

from __future__ import annotations

import csv
import io

import tracklet
from tests.ui.conftest import open_runs, screenshot, script_errors, seed_runs, table_names, wait_runs, xgboost_runs


def _wait_range(page, prefix: str):
    """Wait until the pager of a rendered table reads ``prefix``..."""
    page.wait_for_function(
        "p => (document.querySelector('.runs-page[data-state=ready] .pager .range') || {}).textContent?.startsWith(p)",
        arg=prefix,
    )


def test_table_lists_runs_with_status_and_columns(ui_server, page):
    eid = ui_server.store.create_experiment("listing", None, [])
    seed_runs(ui_server.store, eid, 5)
    open_runs(page, ui_server.url, eid)
    assert table_names(page) == [f"run-{i:04d}" for i in reversed(range(5))]  # newest first
    headers = [h.strip() for h in page.locator(".runs-table thead th").all_inner_texts()]
    assert headers[1:7] == ["Status", "Run name", "Started", "Duration", "Autolog", "User"]
    assert headers[7:] == ["metric acc", "metric loss", "param idx", "param lr"]  # keys found on the page
    first = page.locator(".runs-table tbody tr").first
    assert first.locator(".status").inner_text() == "Finished"
    assert first.locator("td").nth(4).inner_text() == "504ms"  # run 4 lasted 500 + 4 ms
    assert page.locator("h1").inner_text() == "Runs of listing"
    first.locator("td.name a").click()
    page.wait_for_url("**/#/runs/*")
    assert page.console_errors == []


def test_autologged_xgboost_runs_show_their_framework_and_metrics(ui_server, page):
    ids = xgboost_runs("xgb ui")
    eid = tracklet.get_experiment_by_name("xgb ui").experiment_id
    open_runs(page, ui_server.url, eid, "cols=metrics.valid-logloss,params.eta")
    rows = page.locator(".runs-table tbody tr[data-run-id]")
    assert rows.count() == 2
    assert [rows.nth(i).get_attribute("data-run-id") for i in range(2)] == ids[::-1]
    texts = rows.first.locator("td").all_inner_texts()
    assert "xgboost" in texts  # the Autolog column: the mlflow.autologging tag
    assert texts[-1] == "0.1"  # params.eta of the newest run
    assert float(texts[-2]) > 0  # its last valid-logloss
    assert page.console_errors == []


def test_filter_applies_and_a_bad_filter_shows_the_servers_error_inline(ui_server, page):
    eid = ui_server.store.create_experiment("filtering", None, [])
    seed_runs(ui_server.store, eid, 10)
    open_runs(page, ui_server.url, eid)
    box = page.get_by_label("Filter runs")
    box.fill("metrics.acc >= 0.5 and params.lr = '0.1'")
    box.press("Enter")
    page.wait_for_url("**filter=*")
    wait_runs(page)
    assert table_names(page) == ["run-0009", "run-0007", "run-0005"]
    assert page.evaluate("document.activeElement.id") == "run-filter"  # the focus stays in the box

    box = page.get_by_label("Filter runs")
    box.fill("metrics.acc >= 0.5 or params.lr = '0.1'")
    box.press("Enter")
    wait_runs(page)
    assert page.locator(".runs-page").get_attribute("data-state") == "error"
    error = page.locator("#filter-error")
    assert error.get_attribute("role") == "alert"
    text = error.inner_text()
    assert "OR is not supported" in text and "at position 19" in text
    assert page.locator("#filter-error mark").inner_text() == "or"  # the offending token, marked
    assert page.get_by_label("Filter runs").get_attribute("aria-invalid") == "true"
    assert "could not be applied" in page.locator(".table-box").inner_text()
    assert page.locator("#sidebar li.exp").count() >= 1  # the rest of the page still works
    screenshot(page, "runs-filter-error")

    box = page.get_by_label("Filter runs")
    box.fill("params.idx IN ('2', '3')")
    page.get_by_role("button", name="Apply").click()
    wait_runs(page)
    assert table_names(page) == ["run-0003", "run-0002"]
    assert page.locator("#filter-error").is_hidden()
    assert script_errors(page) == []


def test_sort_by_a_metric_column_reorders_on_the_server(ui_server, page):
    eid = ui_server.store.create_experiment("sorting", None, [])
    ids = seed_runs(ui_server.store, eid, 6)
    # make acc disagree with start order: acc of run i becomes (i * 5) % 6 / 6
    from tracklet.tracking.entities import Metric

    for i, rid in enumerate(ids):
        ui_server.store.log_metric(rid, Metric("acc", ((i * 5) % 6) / 6, 1, 1))
    open_runs(page, ui_server.url, eid)
    page.locator("th button.sort", has_text="acc").click()
    page.wait_for_url("**sort=metrics.acc%3Aasc*")
    wait_runs(page)
    by_acc = sorted(range(6), key=lambda i: (i * 5) % 6)
    assert table_names(page) == [f"run-{i:04d}" for i in by_acc]
    assert page.locator("th[aria-sort=ascending]").inner_text().replace("\n", "") == "metric acc▲"
    page.locator("th button.sort", has_text="acc").click()
    page.wait_for_url("**sort=metrics.acc%3Adesc*")
    wait_runs(page)
    assert table_names(page) == [f"run-{i:04d}" for i in reversed(by_acc)]
    assert page.console_errors == []


def test_paging_over_250_runs_with_tokens_and_deep_link(ui_server, page):
    eid = ui_server.store.create_experiment("paging", None, [])
    seed_runs(ui_server.store, eid, 250)
    open_runs(page, ui_server.url, eid, "sort=metrics.acc:desc")
    names = table_names(page)
    assert len(names) == 100 and names[0] == "run-0249" and names[-1] == "run-0150"
    assert page.locator(".pager .range").inner_text() == "Runs 1–100"
    page.get_by_role("button", name="Next").click()
    page.wait_for_url("**page=*")
    wait_runs(page)
    assert table_names(page)[0] == "run-0149"
    assert page.locator(".pager .range").inner_text() == "Runs 101–200"
    page.get_by_role("button", name="Next").click()
    _wait_range(page, "Runs 201")
    names = table_names(page)
    assert len(names) == 50 and names[-1] == "run-0000"
    assert page.locator(".pager .range").inner_text() == "Runs 201–250 (last page)"
    assert page.get_by_role("button", name="Next").is_disabled()
    page.get_by_role("button", name="Previous").click()
    _wait_range(page, "Runs 101–200")
    assert table_names(page)[0] == "run-0149"
    page.reload()  # the page token is in the URL: a reload shows the same page
    wait_runs(page)
    assert table_names(page)[0] == "run-0149"
    page.get_by_role("button", name="First page").click()
    _wait_range(page, "Runs 1–100")
    assert table_names(page)[0] == "run-0249"
    assert page.console_errors == []


def test_column_picker_chooses_columns_kept_in_the_url(ui_server, page):
    eid = ui_server.store.create_experiment("columns", None, [])
    ids = seed_runs(ui_server.store, eid, 3)
    tracklet.MlflowClient().set_tag(ids[0], "team", "vision")
    open_runs(page, ui_server.url, eid)
    page.locator(".col-picker summary").click()
    page.locator(".col-panel").get_by_label("team").check()
    page.locator(".col-panel").get_by_label("loss").uncheck()
    headers = page.locator(".runs-table thead th").all_inner_texts()
    assert "tag team" in headers and "metric loss" not in headers
    assert "cols=metrics.acc%2Cparams.idx%2Cparams.lr%2Ctags.team" in page.evaluate("location.hash")
    page.reload()
    wait_runs(page)
    headers = page.locator(".runs-table thead th").all_inner_texts()
    assert headers[-4:] == ["metric acc", "param idx", "param lr", "tag team"]
    assert page.locator(f"tr[data-run-id='{ids[0]}'] td").last.inner_text() == "vision"
    assert page.console_errors == []


def test_nested_runs_are_grouped_under_their_parent(ui_server, page):
    tracklet.set_experiment("nesting")
    with tracklet.start_run(run_name="search") as parent:
        for name in ("trial-1", "trial-2"):
            with tracklet.start_run(run_name=name, nested=True):
                tracklet.log_metric("score", 1.0)
    with tracklet.start_run(run_name="single"):
        pass
    eid = parent.info.experiment_id
    open_runs(page, ui_server.url, eid)
    assert table_names(page) == ["single", "search"]  # children are under their parent, not top level
    row = page.locator(f"tr[data-run-id='{parent.info.run_id}']")
    assert "(2 child runs)" in row.inner_text()
    expander = row.get_by_role("button", name="Expand child runs of search")
    assert expander.get_attribute("aria-expanded") == "false"
    expander.click()
    page.wait_for_selector("tr.child")
    assert table_names(page) == ["single", "search", "trial-2", "trial-1"]
    assert "open=" in page.evaluate("location.hash")
    page.reload()  # expanded parents are part of the URL
    page.wait_for_selector("tr.child")
    assert page.locator("tr.child").count() == 2
    page.get_by_role("button", name="Collapse child runs of search").click()
    assert page.locator("tr.child").count() == 0
    assert page.console_errors == []


def _download(page, scope: str) -> list[list[str]]:
    page.locator("#csv-scope").select_option(scope)
    with page.expect_download() as info:
        page.get_by_role("button", name="Download CSV").click()
    path = info.value.path()
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.reader(io.StringIO(f.read())))


def test_csv_download_of_this_page_and_of_all_matching_runs(ui_server, page):
    eid = ui_server.store.create_experiment("csv", None, [])
    ids = seed_runs(ui_server.store, eid, 130)
    tracklet.MlflowClient().set_tag(ids[129], "note", 'has "quotes", commas')
    open_runs(page, ui_server.url, eid, "cols=metrics.acc,params.lr,tags.note")
    rows = _download(page, "page")
    assert rows[0] == [
        "run_id",
        "Status",
        "Run name",
        "Started",
        "Duration",
        "Autolog",
        "User",
        "metrics.acc",
        "params.lr",
        "tags.note",
    ]
    assert len(rows) == 1 + 100
    assert rows[1][0] == ids[129] and rows[1][2] == "run-0129" and rows[1][-1] == 'has "quotes", commas'
    assert rows[1][1] == "FINISHED" and rows[1][4] == "0.629"  # duration in seconds
    assert float(rows[1][7]) == 129 / 130

    page.get_by_label("Filter runs").fill("params.lr = '0.1'")
    page.get_by_label("Filter runs").press("Enter")
    page.wait_for_url("**filter=*")
    wait_runs(page)
    rows = _download(page, "all")
    assert len(rows) == 1 + 65  # every matching run, over all pages
    assert {r[8] for r in rows[1:]} == {"0.1"}
    assert page.console_errors == []


def test_deep_link_restores_filter_sort_columns_and_selection(ui_server, page):
    eid = ui_server.store.create_experiment("deep link", None, [])
    ids = seed_runs(ui_server.store, eid, 6)
    query = f"filter=params.lr+%3D+%270.1%27&sort=metrics.acc:desc&cols=metrics.acc,params.idx&sel={ids[1]},{ids[3]}"
    open_runs(page, ui_server.url, eid, query)
    assert page.get_by_label("Filter runs").input_value() == "params.lr = '0.1'"
    assert table_names(page) == ["run-0005", "run-0003", "run-0001"]
    assert page.locator("th[aria-sort=descending]").inner_text().replace("\n", "") == "metric acc▼"
    assert [t.replace("\n▼", "") for t in page.locator(".runs-table thead th").all_inner_texts()[-2:]] == [
        "metric acc",
        "param idx",
    ]
    for i in (1, 3):
        assert page.locator(f"tr[data-run-id='{ids[i]}'] input[type=checkbox]").is_checked()
    assert page.locator(f"tr[data-run-id='{ids[5]}'] input[type=checkbox]").is_checked() is False
    assert page.get_by_role("button", name="Compare 2 selected").is_enabled()

    # a new filter is a new history entry: Back restores the previous view
    page.get_by_label("Filter runs").fill("params.lr = '0.01'")
    page.get_by_label("Filter runs").press("Enter")
    page.wait_for_url("**%270.01%27*")
    wait_runs(page)
    assert table_names(page) == ["run-0004", "run-0002", "run-0000"]
    page.go_back()
    wait_runs(page)
    assert page.get_by_label("Filter runs").input_value() == "params.lr = '0.1'"
    assert table_names(page) == ["run-0005", "run-0003", "run-0001"]
    assert page.console_errors == []
