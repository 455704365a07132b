"""The UI is served at / and its assets load in a real browser without script errors."""

from __future__ import annotations

from tests.ui.conftest import wait_runs


def test_index_loads_without_script_errors(ui_server, page):
    page.goto(ui_server.url + "/")
    page.wait_for_selector("header.topbar")
    assert page.title().endswith("tracklet")
    wait_runs(page)  # the home view is the newest experiment's runs table
    assert page.url.endswith("#/experiments/0")
    assert page.locator("h1").inner_text() == "Runs of Default"
    assert page.console_errors == []


def test_unknown_route_and_unknown_experiment_show_a_message(ui_server, page):
    page.goto(ui_server.url + "/#/nowhere")
    page.wait_for_selector("#main:has-text('Page not found')")
    page.goto(ui_server.url + "/#/experiments/424242")
    wait_runs(page)
    box = page.locator(".runs-page .error-box")
    assert box.get_attribute("role") == "alert"
    assert "RESOURCE_DOES_NOT_EXIST" in box.inner_text() or "INVALID" in box.inner_text()
