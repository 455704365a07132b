"""The experiments sidebar in a real browser: create, rename, delete/restore, search, several in one table."""

from __future__ import annotations

from tests.ui.conftest import open_runs, script_errors, seed_runs, table_names


def _item(page, name):
    return page.locator("#sidebar li.exp", has=page.locator("a.exp-name", has_text=name))


def test_create_rename_delete_restore(ui_server, page):
    page.goto(ui_server.url + "/")
    page.wait_for_selector("#sidebar li.exp")
    page.get_by_role("button", name="New").click()
    page.get_by_label("New experiment name").fill("churn model")
    page.get_by_label("New experiment name").press("Enter")
    page.wait_for_selector(".runs-page[data-state=ready] h1:has-text('Runs of churn model')")
    exp = ui_server.store.get_experiment_by_name("churn model")
    assert exp is not None
    assert f"#/experiments/{exp.experiment_id}" in page.url

    # a duplicate name: the server's error shows in the form
    page.get_by_role("button", name="New").click()
    page.get_by_label("New experiment name").fill("churn model")
    page.get_by_role("button", name="Create", exact=True).click()
    page.wait_for_selector(".exp-create .form-error:has-text('already exists')")
    page.get_by_role("button", name="Cancel").click()

    page.get_by_role("button", name="Rename churn model").click()
    box = page.get_by_label("New name for churn model")
    box.fill("churn model v2")
    box.press("Enter")
    page.wait_for_selector("#sidebar a.exp-name:text-is('churn model v2')")
    assert ui_server.store.get_experiment(exp.experiment_id).name == "churn model v2"
    page.wait_for_selector("h1:has-text('Runs of churn model v2')")  # the open table follows the rename

    page.get_by_role("button", name="Delete churn model v2").click()
    page.wait_for_selector("#sidebar .exp-status:has-text('Deleted')")
    assert _item(page, "churn model v2").count() == 0
    assert ui_server.store.get_experiment(exp.experiment_id).lifecycle_stage == "deleted"

    page.get_by_label("Show deleted").check()
    page.wait_for_selector("#sidebar li.exp.deleted")
    page.get_by_role("button", name="Restore churn model v2").click()
    page.wait_for_selector("#sidebar .exp-status:has-text('Restored')")
    assert ui_server.store.get_experiment(exp.experiment_id).lifecycle_stage == "active"
    assert script_errors(page) == []  # the duplicate name's 400 is the only failed request


def test_search_and_several_experiments_in_one_table(ui_server, page):
    store = ui_server.store
    a = store.create_experiment("alpha", None, [])
    b = store.create_experiment("beta", None, [])
    store.create_experiment("gamma", None, [])
    seed_runs(store, a, 2, prefix="a")
    seed_runs(store, b, 2, prefix="b", start=1_800_000_000_000)

    open_runs(page, ui_server.url, a)
    page.get_by_label("Search experiments").fill("ET")  # case-insensitive, server-side
    page.wait_for_function("document.querySelectorAll('#sidebar li.exp').length === 1")
    assert page.locator("#sidebar a.exp-name").all_inner_texts() == ["beta"]
    page.get_by_label("Search experiments").fill("")
    page.wait_for_function("document.querySelectorAll('#sidebar li.exp').length === 4")

    page.get_by_label("Show runs of beta").check()
    page.wait_for_url(f"**/#/experiments/{a},{b}")
    page.wait_for_selector(".runs-page[data-state=ready] h1:has-text('2 experiments')")
    assert table_names(page) == ["b-0001", "b-0000", "a-0001", "a-0000"]
    assert "Experiment" in page.locator(".runs-table thead").inner_text()
    assert page.locator("#sidebar li.exp.current").count() == 2

    page.get_by_label("Show runs of alpha").uncheck()
    page.wait_for_url(f"**/#/experiments/{b}")
    page.wait_for_selector(".runs-page[data-state=ready] h1:text-is('Runs of beta')")
    assert table_names(page) == ["b-0001", "b-0000"]
    assert page.console_errors == []
