"""The UI is served at / and its assets load in a real browser without script errors."""

from __future__ import annotations


def test_index_loads_without_script_errors(ui_server, page):
    page.goto(ui_server.url + "/")
    page.wait_for_selector("header.topbar")
    assert page.title() == "tracklet"
    assert page.console_errors == []
