"""The run page in a real browser: header, params, metrics, tags and note editing (persisted, read back
through the Python client), metric charts with the x-axis switch and a deep-linked zoom, the artifact
browser with previews and downloads, dataset inputs, logged models, and an autologged xgboost run."""

from __future__ import annotations

import struct
import zlib

import pytest

import tracklet
from tests.ui.conftest import screenshot

NOTE = "mlflow.note.content"


def png(width: int = 4, height: int = 3) -> bytes:
    """A small valid RGB PNG (a red-to-blue gradient), written without an imaging library."""
    raw = b"".join(b"\x00" + bytes(c for x in range(width) for c in (255 * x // width, 0, 255)) for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


@pytest.fixture
def manual_run(ui_server, tmp_path):
    """A parent run with params, stepped metrics, tags, a note and artifacts of every previewed kind; and a child."""
    image = tmp_path / "curve.png"
    image.write_bytes(png())
    blob = tmp_path / "weights.bin"
    blob.write_bytes(bytes(range(256)) * 4)
    with tracklet.start_run(run_name="manual-run") as run:
        tracklet.log_params({"lr": "0.01", "optimizer": "adam", "layers": "3"})
        for step in range(20):
            tracklet.log_metrics({"loss": 1 / (step + 1), "acc": step / 20}, step=step)
        tracklet.set_tags({"team": "vision", "stage": "dev"})
        tracklet.set_tag(NOTE, "# Findings\nLoss **drops** fast.")
        tracklet.log_text("epoch 1 ok\nepoch 2 ok\n", "logs/train.log")
        tracklet.log_dict({"batch_size": 32, "nested": {"a": [1, 2]}}, "config.json")
        tracklet.log_artifact(str(image), "plots")
        tracklet.log_text('name,score\nalpha,1.5\n"b, quoted",2\n', "data/scores.csv")
        tracklet.log_text("<h1>Report</h1><script>parent.document.title='pwned'</script>", "report.html")
        tracklet.log_artifact(str(blob))
        with tracklet.start_run(run_name="child-run", nested=True) as child:
            tracklet.log_metric("loss", 0.5)
    return run.info.run_id, child.info.run_id


def open_run(page, url: str, run_id: str, query: str = "") -> None:
    page.goto(f"{url}/#/runs/{run_id}{query}")
    page.wait_for_selector(".tk-run-header")


def test_run_page_shows_header_params_metrics_and_tags(ui_server, page, manual_run):
    run_id, child_id = manual_run
    open_run(page, ui_server.url, run_id)
    assert page.inner_text(".tk-run-name") == "manual-run"
    assert "FINISHED" in page.inner_text(".tk-facts")
    assert page.get_attribute(".tk-facts a[href^='#/experiments/']", "href") == "#/experiments/0"
    params = page.locator(".tk-params tbody tr").all_inner_texts()
    assert [p.split("\t") for p in params] == [["layers", "3"], ["lr", "0.01"], ["optimizer", "adam"]]
    metrics = {r.split("\t")[0]: r.split("\t")[1:] for r in page.locator(".tk-metrics tbody tr").all_inner_texts()}
    assert metrics == {"acc": ["0.95", "19"], "loss": ["0.05", "19"]}  # latest value and its step
    tags = page.locator(".tk-tags tbody tr").all_inner_texts()
    assert any(t.startswith("team\tvision") for t in tags)
    assert not any(t.startswith(NOTE) for t in tags)  # the note is shown as a note, not a tag
    assert page.inner_text(".tk-note h3") == "Findings"
    assert page.inner_text(".tk-note strong") == "drops"
    page.wait_for_selector(".tk-facts a[href^='#/experiments/']:text('Default')")  # experiment name fetched
    screenshot(page, "run-page")
    # the child: one metric point charts fine, and it links to its parent
    open_run(page, ui_server.url, child_id, "?tab=charts")
    page.wait_for_selector(".tk-chart-box[data-metric=loss][data-state=ready]")
    assert page.evaluate("document.querySelector('.tk-chart-box').uplot.data") == [[0], [0.5]]
    page.click(".tk-parent")
    page.wait_for_function(f"document.querySelector('.tk-run')?.dataset.runId === '{run_id}'")
    assert page.inner_text(".tk-run-name") == "manual-run"
    assert page.console_errors == []


def test_tags_and_note_edits_persist(ui_server, page, manual_run):
    run_id, _ = manual_run
    client = tracklet.MlflowClient()
    open_run(page, ui_server.url, run_id)
    # edit an existing tag
    row = page.locator(".tk-tags tr[data-key='team']")
    row.locator(".tk-tag-edit").click()
    row.locator(".tk-tag-input").fill("audio")
    row.locator(".tk-tag-save").click()
    page.wait_for_selector(".tk-tags tr[data-key='team'] td:text-is('audio')")
    # add one, delete one
    page.fill(".tk-new-tag-key", "reviewed")
    page.fill(".tk-new-tag-value", "yes")
    page.click(".tk-add-tag")
    page.wait_for_selector(".tk-tags tr[data-key='reviewed']")
    page.click(".tk-tags tr[data-key='stage'] .tk-tag-delete")
    page.wait_for_selector(".tk-tags tr[data-key='stage']", state="detached")
    # the note: Markdown renders; HTML in it stays text (no element, no script)
    page.click(".tk-edit-note")
    note = (
        "Try **lr 0.1** next, see [the paper](https://example.org/p) not [this](javascript:alert(1)).\n\n"
        "<img src=x onerror=\"document.title='pwned'\">\n\n- a\n- b"
    )
    page.fill(".tk-note-input", note)
    page.click(".tk-save-note")
    page.wait_for_selector(".tk-note strong")
    assert page.inner_text(".tk-note strong") == "lr 0.1"
    assert page.locator(".tk-note img").count() == 0
    assert "<img src=x" in page.inner_text(".tk-note")
    assert page.locator(".tk-note li").count() == 2
    assert page.locator(".tk-note a").count() == 1  # the javascript: link stays text
    assert page.get_attribute(".tk-note a", "href") == "https://example.org/p"
    assert "[this](javascript:alert(1))" in page.inner_text(".tk-note")
    assert page.title() == "tracklet"
    tags = client.get_run(run_id).data.tags
    assert tags["team"] == "audio" and tags["reviewed"] == "yes" and "stage" not in tags
    assert tags[NOTE] == note
    # persisted: a reload shows the same
    page.reload()
    page.wait_for_selector(".tk-note strong")
    assert page.inner_text(".tk-tags tr[data-key='team'] .tk-tag-value") == "audio"
    assert page.console_errors == []


def test_a_rejected_tag_edit_shows_the_error(ui_server, page, manual_run):
    run_id, _ = manual_run
    open_run(page, ui_server.url, run_id)
    page.click(".tk-add-tag")  # an empty key: the server refuses it
    page.wait_for_selector("#tags [role=alert]")
    alert = page.inner_text("#tags [role=alert]")
    assert "The tag was not changed" in alert and "INVALID_PARAMETER_VALUE" in alert


def test_charts_tab_axis_switch_and_deep_linked_zoom(ui_server, page, manual_run):
    run_id, _ = manual_run
    open_run(page, ui_server.url, run_id)
    page.click(".tk-tab[data-tab=charts]")
    page.wait_for_selector(".tk-chart-box[data-metric=loss][data-state=ready]")
    page.wait_for_selector(".tk-chart-box[data-metric=acc][data-state=ready]")
    assert "tab=charts" in page.url
    assert page.locator(".tk-chart-box").count() == 2
    assert page.evaluate("document.querySelector('.tk-chart-box[data-metric=loss]').uplot.series.length") == 2
    assert page.get_attribute(".tk-chart-box[data-metric=loss]", "data-series") == "1"
    # zoom one chart: the range goes into the URL and the other chart follows
    box = page.locator(".tk-chart-box[data-metric=loss] .u-over").bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.2, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.6, y, steps=5)
    page.mouse.up()
    page.wait_for_function("location.hash.includes('range=')")
    page.wait_for_function(
        "document.querySelector('.tk-chart-box[data-metric=acc]').dataset.stepRange !== ''"
        " && document.querySelector('.tk-chart-box[data-metric=acc]').dataset.state === 'ready'"
    )
    screenshot(page, "run-charts")
    zoomed = page.url
    lo, hi = (float(v) for v in zoomed.split("range=")[1].split("&")[0].replace("%2C", ",").split(","))
    assert 0 < lo < hi < 19
    # the deep link restores the zoom
    page.goto("about:blank")
    page.goto(zoomed)
    page.wait_for_selector(".tk-chart-box[data-metric=loss][data-state=ready]")
    scale = page.evaluate(
        "(() => { const u = document.querySelector('.tk-chart-box[data-metric=loss]').uplot;"
        " return [u.scales.x.min, u.scales.x.max, u.data[0][0], u.data[0][u.data[0].length-1]]; })()"
    )
    assert scale[0] == pytest.approx(lo) and scale[1] == pytest.approx(hi)
    assert lo - 1 <= scale[2] and scale[3] <= hi + 1  # only the zoomed steps were fetched
    # the x-axis switch: relative time, in the URL, range dropped
    page.select_option(".tk-x-axis", "relative")
    page.wait_for_function("location.hash.includes('x=relative') && !location.hash.includes('range=')")
    page.wait_for_selector(".tk-chart-box[data-metric=loss][data-state=ready]")
    assert page.evaluate("document.querySelector('.tk-chart-box[data-metric=loss]').uplot.series[0].label") == (
        "relative time"
    )
    # a metric link from the overview opens its chart alone
    page.click(".tk-tab[data-tab=overview]")
    page.click(".tk-metrics a:text-is('acc')")
    page.wait_for_selector(".tk-chart-box[data-metric=acc][data-state=ready]")
    assert page.locator(".tk-chart-box").count() == 1
    assert page.console_errors == []


def test_artifact_browser_previews(ui_server, page, manual_run):
    run_id, _ = manual_run
    open_run(page, ui_server.url, run_id, "?tab=artifacts")
    tree = page.locator(".tk-tree")
    tree.locator("li[data-path='config.json'] > button").click()
    page.wait_for_selector(".tk-preview-body[data-state=ready]")
    assert '"batch_size": 32' in page.inner_text(".tk-preview-body pre")  # pretty-printed JSON
    assert "artifact=config.json" in page.url
    # lazily expanded directories
    assert tree.locator("li[data-path='logs/train.log']").count() == 0
    tree.locator("li[data-path='logs'] > button").click()
    tree.locator("li[data-path='logs/train.log'] > button").click()
    page.wait_for_selector(".tk-preview-body[data-state=ready] pre:has-text('epoch 2 ok')")
    tree.locator("li[data-path='data'] > button").click()
    tree.locator("li[data-path='data/scores.csv'] > button").click()
    page.wait_for_selector(".tk-preview-body[data-state=ready] table")
    assert page.locator(".tk-preview-body th").all_inner_texts() == ["name", "score"]
    assert page.locator(".tk-preview-body tbody tr").all_inner_texts() == ["alpha\t1.5", "b, quoted\t2"]
    tree.locator("li[data-path='plots'] > button").click()
    tree.locator("li[data-path='plots/curve.png'] > button").click()
    page.wait_for_function("document.querySelector('.tk-preview-image')?.naturalWidth === 4")
    tree.locator("li[data-path='report.html'] > button").click()
    frame = page.wait_for_selector(".tk-preview-body[data-state=ready] iframe")
    assert frame.get_attribute("sandbox") == ""  # no scripts, no same-origin access
    page.wait_for_function("document.querySelector('.tk-preview-html').contentDocument === null")
    assert page.frame_locator(".tk-preview-html").locator("h1").inner_text() == "Report"
    assert page.title() == "tracklet"
    tree.locator("li[data-path='weights.bin'] > button").click()
    page.wait_for_selector(".tk-preview-body[data-state=ready]:has-text('Binary file')")
    # a deep link opens the directories on the way to the file
    open_run(page, ui_server.url, run_id, "?tab=artifacts&artifact=data/scores.csv")
    page.wait_for_selector(".tk-preview-body[data-state=ready] table")
    assert page.locator(".tk-tree .tk-selected").get_attribute("data-path") == "data/scores.csv"
    # the only complaint is Chromium refusing the HTML artifact's script
    assert [e for e in page.console_errors if "Blocked script execution in 'about:srcdoc'" not in e] == []
    assert len(page.console_errors) == 1


def test_download_an_artifact(ui_server, page, manual_run, tmp_path):
    run_id, _ = manual_run
    open_run(page, ui_server.url, run_id, "?tab=artifacts&artifact=weights.bin")
    with page.expect_download() as download:
        page.click(".tk-download")
    target = tmp_path / "downloaded.bin"
    download.value.save_as(target)
    assert download.value.suggested_filename == "weights.bin"
    assert target.read_bytes() == bytes(range(256)) * 4
    # every file in the tree has its own download link too
    page.locator(".tk-tree li[data-path='logs'] > button").click()
    with page.expect_download() as download:
        page.click(".tk-tree li[data-path='logs/train.log'] .tk-tree-download")
    download.value.save_as(tmp_path / "train.log")
    assert (tmp_path / "train.log").read_text() == "epoch 1 ok\nepoch 2 ok\n"


def test_unknown_run_shows_an_error(ui_server, page):
    page.goto(f"{ui_server.url}/#/runs/{'f' * 32}")
    page.wait_for_selector("[role=alert]")
    assert "not found" in page.inner_text("[role=alert]").lower() or "does not exist" in page.inner_text("[role=alert]")


def test_autologged_xgboost_run(ui_server, page):
    xgb = pytest.importorskip("xgboost")
    np = pytest.importorskip("numpy")
    import tracklet.xgboost

    rng = np.random.default_rng(0)
    x, y = rng.random((80, 3)), rng.integers(0, 2, 80)  # random labels: validation loss turns up early
    tracklet.xgboost.autolog()
    train, val = xgb.DMatrix(x[:60], label=y[:60]), xgb.DMatrix(x[60:], label=y[60:])
    xgb.train(
        {"objective": "binary:logistic", "max_depth": 3, "eta": 0.5},
        train,
        100,
        evals=[(train, "train"), (val, "val")],
        early_stopping_rounds=3,
        verbose_eval=False,
    )
    run = tracklet.last_active_run()
    data = tracklet.MlflowClient().get_run(run.info.run_id).data
    assert data.metrics["stopped_iteration"] < 99  # early stopping did stop
    open_run(page, ui_server.url, run.info.run_id)
    summary = dict(r.split("\t") for r in page.locator(".tk-autolog tr").all_inner_texts())
    assert summary["Framework"] == "xgboost"
    assert summary["Model"] == "xgboost.core.Booster"
    assert summary["Best iteration"] == str(int(data.metrics["best_iteration"]))
    assert summary["Stopped iteration"] == str(int(data.metrics["stopped_iteration"]))
    inputs = page.locator(".tk-inputs tbody tr").all_inner_texts()
    assert [r.split("\t")[:2] for r in inputs] == [["train", "train"], ["val", "eval"]]
    page.wait_for_selector(".tk-logged-models tbody tr")
    assert "m-" in page.inner_text(".tk-logged-models tbody")
    # the MLmodel preview: flavors and the signature
    page.click(".tk-tab[data-tab=artifacts]")
    page.locator(".tk-tree li[data-path='model'] > button").click()
    page.locator(".tk-tree li[data-path='model/MLmodel'] > button").click()
    page.wait_for_selector(".tk-preview-body[data-state=ready] .tk-mlmodel")
    flavors = page.locator(".tk-mlmodel table").nth(1).locator("tbody tr").all_inner_texts()
    assert [f.split("\t")[0] for f in flavors] == ["python_function", "xgboost"]
    assert "model_class: xgboost.core.Booster" in flavors[1]
    signature = page.inner_text(".tk-mlmodel")
    assert "tensor float64 [-1, 3]" in signature and "tensor float32 [-1]" in signature
    screenshot(page, "run-mlmodel")
    assert page.console_errors == []


def test_axe_finds_no_serious_violations_on_the_run_page(ui_server, page, manual_run):
    from tests.ui.test_a11y import axe_violations

    run_id, _ = manual_run
    open_run(page, ui_server.url, run_id)
    page.wait_for_selector(".tk-logged-models, #logged-models p")
    page.click(".tk-edit-note")  # the note editor too
    assert axe_violations(page) == []
    page.click(".tk-tab[data-tab=charts]")
    page.wait_for_selector(".tk-chart-box[data-metric=loss][data-state=ready]")
    assert axe_violations(page) == []
    page.click(".tk-tab[data-tab=artifacts]")
    page.locator(".tk-tree li[data-path='data'] > button").click()
    page.locator(".tk-tree li[data-path='data/scores.csv'] > button").click()
    page.wait_for_selector(".tk-preview-body[data-state=ready] table")
    assert axe_violations(page) == []
