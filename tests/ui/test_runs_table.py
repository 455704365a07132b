"""The runs table in a real browser: listing, filter (and its inline error), sorting, paging, columns, nesting, CSV."""

from __future__ import annotations

from tests.ui.conftest import open_runs, screenshot, seed_runs, table_names


def test_table_lists_runs_with_status_and_columns(ui_server, page):
    eid = ui_server.store.create_experiment("listing", None, [])
    seed_runs(ui_server.store, eid, 5)
    open_runs(page, ui_server.url, eid)
    assert table_names(page) == [f"run-{i:04d}" for i in reversed(range(5))]  # newest first
    headers = page.locator(".runs-table thead th").all_inner_texts()
    assert [h.strip() for h in headers[1:7]] == ["Status", "Run name", "Started", "Duration", "Autolog", "User"]
    assert page.locator(".runs-table tbody tr").first.locator(".status").inner_text() == "Finished"
    assert page.locator("h1").inner_text() == "Runs of listing"
    screenshot(page, "runs-table-try")
    assert page.console_errors == []
