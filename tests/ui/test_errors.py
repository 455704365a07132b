"""The UI never shows a blank page: what the server rejects (or a server that is gone) is shown where the content
would be, with the server's message, and the rest of the page keeps working."""

from __future__ import annotations

from tests.server.conftest import LiveServer
from tests.ui.conftest import open_runs, script_errors, seed_runs, table_names, wait_runs
from tracklet.server import create_app
from tracklet.tracking.artifacts.local import LocalArtifactRepository


def test_a_deep_link_with_a_rejected_filter_shows_the_error_and_recovers(ui_server, page):
    eid = ui_server.store.create_experiment("bad link", None, [])
    seed_runs(ui_server.store, eid, 3)
    open_runs(page, ui_server.url, eid, "filter=params.lr+%3E+%270.1%27")  # > on a param: not allowed
    assert page.locator(".runs-page").get_attribute("data-state") == "error"
    error = page.locator("#filter-error")
    assert "operator > is not valid for param 'lr'" in error.inner_text()
    assert "at position" in error.inner_text()
    assert page.locator("h1").inner_text() == "Runs of bad link"  # the heading, toolbar and sidebar are still there
    page.get_by_role("button", name="Clear filter").click()
    wait_runs(page)
    assert table_names(page) == ["run-0002", "run-0001", "run-0000"]
    assert script_errors(page) == []


def test_a_bad_page_token_shows_the_error_with_a_way_back(ui_server, page):
    eid = ui_server.store.create_experiment("bad token", None, [])
    seed_runs(ui_server.store, eid, 3)
    open_runs(page, ui_server.url, eid, "page=not-a-token")
    box = page.locator(".runs-page .error-box")
    assert box.get_attribute("role") == "alert"
    assert "Invalid page_token" in box.inner_text() and "INVALID_PARAMETER_VALUE" in box.inner_text()
    page.get_by_role("link", name="Show the first page, unsorted and unfiltered").click()
    wait_runs(page)
    assert len(table_names(page)) == 3
    assert script_errors(page) == []


def test_a_server_that_went_away_is_reported_not_a_blank_page(tmp_path, browser, page):
    from tracklet.tracking.stores.sql import SqlStore

    store = SqlStore(f"sqlite:///{tmp_path / 'gone.db'}", "mlflow-artifacts:/")
    eid = store.create_experiment("going away", None, [])
    seed_runs(store, eid, 2)
    app = create_app(store, LocalArtifactRepository(str(tmp_path / "artifacts")))
    with LiveServer(app) as url:
        open_runs(page, url, eid)
        assert len(table_names(page)) == 2
    store.close()
    page.get_by_label("Filter runs").fill("metrics.acc > 0")
    page.get_by_label("Filter runs").press("Enter")
    wait_runs(page)
    box = page.locator(".runs-page .table-box .error-box")
    assert "Could not load the runs" in box.inner_text()
    assert "could not be reached" in box.inner_text() and "NETWORK_ERROR" in box.inner_text()
    assert page.locator("h1").is_visible() and page.get_by_label("Filter runs").is_visible()
