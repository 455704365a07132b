"""Accessibility in a real browser: keyboard-only use of the runs table, and axe-core scans (vendored
tests/ui/vendor/axe.min.js, no Node needed) with no serious or critical violations, contrast included."""

from __future__ import annotations

from pathlib import Path

import tracklet
from tests.ui.conftest import open_runs, seed_runs, wait_runs

AXE = Path(__file__).parent / "vendor" / "axe.min.js"


def axe_violations(page) -> list[str]:
    """Serious and critical axe-core violations of the page as shown, one line each."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(content=AXE.read_text(encoding="utf-8"))
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} -- {[n['target'] for n in v['nodes']][:5]}"
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def _focused(page) -> dict:
    return page.evaluate(
        "() => { const e = document.activeElement;"
        " return {id: e.id, tag: e.tagName, text: e.textContent.trim(), cls: e.className,"
        " row: e.closest('tr') ? e.closest('tr').dataset.runId || null : null}; }"
    )


def test_keyboard_reaches_the_filter_applies_it_and_reaches_the_rows(ui_server, page):
    eid = ui_server.store.create_experiment("keys", None, [])
    ids = seed_runs(ui_server.store, eid, 4)
    open_runs(page, ui_server.url, eid)
    page.keyboard.press("Tab")
    assert _focused(page)["id"] == "skip-link"
    page.keyboard.press("Enter")
    assert _focused(page)["id"] == "main"
    page.keyboard.press("Tab")
    assert _focused(page)["id"] == "run-filter"
    page.keyboard.type("params.lr = '0.1'")
    page.keyboard.press("Enter")
    page.wait_for_url("**filter=*")
    wait_runs(page)
    assert _focused(page)["id"] == "run-filter"  # still in the box after the table reloaded
    assert page.locator("tr[data-run-id]").count() == 2

    # Tab onwards: through the toolbar and the header to the first row's checkbox, then its run link
    seen = []
    for _ in range(30):
        page.keyboard.press("Tab")
        f = _focused(page)
        seen.append(f)
        if f["row"] and f["tag"] == "A":
            break
    row_stops = [f for f in seen if f["row"]]
    assert row_stops[0]["tag"] == "INPUT" and row_stops[0]["row"] == ids[3]  # the newest run with lr 0.1
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Space")  # select the row from the keyboard
    assert page.locator(f"tr[data-run-id='{ids[3]}'] input[type=checkbox]").is_checked()
    assert f"sel={ids[3]}" in page.evaluate("location.hash")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")  # open the run
    page.wait_for_url(f"**/#/runs/{ids[3]}")

    # sort headers are buttons: Enter sorts
    open_runs(page, ui_server.url, eid)
    page.locator("th button.sort", has_text="acc").focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**sort=metrics.acc*")
    wait_runs(page)
    assert page.locator("th[aria-sort=ascending]").count() == 1
    assert page.console_errors == []


def test_axe_finds_no_serious_violations_on_the_ui_pages(ui_server, page):
    eid = ui_server.store.create_experiment("axe", None, [])
    tracklet.set_experiment("axe")
    with tracklet.start_run(run_name="parent") as parent:
        with tracklet.start_run(run_name="child", nested=True):
            tracklet.log_metric("acc", 0.5)
    ids = seed_runs(ui_server.store, eid, 5)

    open_runs(page, ui_server.url, eid, f"sel={ids[0]},{ids[1]}&open={parent.info.run_id}")
    page.wait_for_selector("tr.child")
    page.locator(".col-picker summary").click()  # the open column picker too
    assert axe_violations(page) == []

    page.get_by_label("Filter runs").fill("metrics.acc >> 1")
    page.get_by_label("Filter runs").press("Enter")
    page.wait_for_selector("#filter-error:not([hidden])")
    assert axe_violations(page) == []

    page.get_by_role("button", name="New").click()
    page.get_by_role("button", name="Rename axe").click()
    page.get_by_label("Show deleted").check()
    assert axe_violations(page) == []

    page.goto(f"{ui_server.url}/#/compare?runs={ids[0]},{ids[1]}")
    page.wait_for_selector(".compare-page[data-state=ready]")
    assert axe_violations(page) == []
