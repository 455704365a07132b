// The run page: #/runs/<run_id>?tab=overview|charts|artifacts&x=step|time|relative&metric=&range=&artifact=
// Header (name, status, times, experiment and parent links), then three tabs: the overview (autolog summary,
// note, params, metrics, tags, dataset inputs, logged models), metric charts, and the artifact browser.

import { apiGet, apiPost } from "../api.js";
import { createChart } from "../chart.js";
import { current, href, updateQuery } from "../router.js";
import { errorBox, h } from "../dom.js";
import { durationMs, formatDuration, formatNumber, formatTime } from "../format.js";
import { renderArtifactBrowser, renderMarkdown } from "../preview.js";

const NOTE = "mlflow.note.content";
const PARENT = "mlflow.parentRunId";
const TABS = [
  ["overview", "Overview"],
  ["charts", "Charts"],
  ["artifacts", "Artifacts"],
];
const X_AXES = [
  ["step", "Step"],
  ["time", "Wall time"],
  ["relative", "Relative time"],
];

let charts = []; // the charts of the page on screen, destroyed when it is re-rendered

function ensureStyles() {
  if (document.getElementById("tk-run-css")) return;
  document.head.append(h("link", { id: "tk-run-css", rel: "stylesheet", href: "static/run.css" }));
}

function kv(list) {
  const out = {};
  for (const { key, value } of list || []) out[key] = value;
  return out;
}

function section(title, id, ...body) {
  return h("section", { class: "tk-section", id }, h("h3", {}, title), ...body);
}

function kvTable(rows, header, className = "") {
  return h(
    "table",
    { class: "tk-table " + className },
    header ? h("thead", {}, h("tr", {}, header.map((c) => h("th", { scope: "col" }, c)))) : null,
    h(
      "tbody",
      {},
      rows.map((r) => h("tr", {}, r.map((c) => h("td", {}, c)))),
    ),
  );
}

/** Render the run page for `runId` into `el`. */
export async function renderRun(el, { params, query }) {
  ensureStyles();
  for (const c of charts) c.destroy();
  charts = [];
  const runId = params.runId;
  const path = current().path;
  let run;
  try {
    ({ run } = await apiGet("runs/get", { run_id: runId }));
  } finally {
    // the user went elsewhere while this loaded: that view owns `el` now (nor is this error theirs)
    if (current().path !== path) return; // eslint-disable-line no-unsafe-finally
  }
  const page = h("div", { class: "tk-run", dataset: { runId } });
  el.replaceChildren(page);
  const state = { run, query };
  page.append(header(run));
  const tab = TABS.some(([t]) => t === query.get("tab")) ? query.get("tab") : "overview";
  const tabBar = h("div", { class: "tk-tabs", role: "tablist" });
  const panel = h("div", { class: "tk-tab-panel", role: "tabpanel" });
  for (const [name, label] of TABS) {
    const button = h("button", { type: "button", role: "tab", class: "tk-tab", dataset: { tab: name } }, label);
    button.setAttribute("aria-selected", String(name === tab));
    button.addEventListener("click", () => {
      updateQuery({ tab: name === "overview" ? null : name });
      for (const b of tabBar.children) b.setAttribute("aria-selected", String(b === button));
      showTab(panel, name, state);
    });
    tabBar.append(button);
  }
  page.append(tabBar, panel);
  showTab(panel, tab, state);
}

function showTab(panel, tab, state) {
  for (const c of charts) c.destroy();
  charts = [];
  panel.replaceChildren();
  state.query = current().query;
  if (tab === "charts") renderCharts(panel, state);
  else if (tab === "artifacts") renderArtifacts(panel, state);
  else renderOverview(panel, state);
}

function header(run) {
  const info = run.info;
  const tags = kv(run.data.tags);
  const experiment = h("a", { href: href("/experiments/" + info.experiment_id) }, "experiment " + info.experiment_id);
  apiGet("experiments/get", { experiment_id: info.experiment_id })
    .then((r) => (experiment.textContent = r.experiment.name))
    .catch(() => {});
  const facts = [
    ["Status", h("span", { class: "tk-status tk-status-" + info.status.toLowerCase() }, info.status)],
    ["Started", formatTime(info.start_time)],
    ["Duration", formatDuration(durationMs(info.start_time, info.end_time, info.status))],
    ["Experiment", experiment],
    ["Run ID", h("code", {}, info.run_id)],
  ];
  if (tags[PARENT]) {
    const parent = h("a", { href: href("/runs/" + tags[PARENT]), class: "tk-parent" }, tags[PARENT]);
    facts.push(["Parent run", parent]);
  }
  if (tags["mlflow.user"]) facts.push(["User", tags["mlflow.user"]]);
  if (tags["mlflow.source.name"]) facts.push(["Source", tags["mlflow.source.name"]]);
  return h(
    "header",
    { class: "tk-run-header" },
    h("h2", { class: "tk-run-name" }, info.run_name || info.run_id),
    h(
      "dl",
      { class: "tk-facts" },
      facts.map(([k, v]) => h("div", {}, h("dt", {}, k), h("dd", {}, v))),
    ),
  );
}

// ------------------------------------------------------------------ overview

function renderOverview(panel, state) {
  const { run } = state;
  const grid = h("div", { class: "tk-overview" });
  panel.append(grid);
  const summary = autologSummary(run);
  const note = noteSection(state);
  if (summary) grid.append(summary);
  else note.classList.add("tk-wide"); // alone on its row
  grid.append(note);
  const params = (run.data.params || []).slice().sort((a, b) => a.key.localeCompare(b.key));
  grid.append(
    section(
      `Parameters (${params.length})`,
      "params",
      params.length
        ? kvTable(params.map((p) => [p.key, p.value]), ["Name", "Value"], "tk-params")
        : h("p", { class: "muted" }, "None."),
    ),
  );
  const metrics = (run.data.metrics || []).slice().sort((a, b) => a.key.localeCompare(b.key));
  grid.append(
    section(
      `Metrics (${metrics.length})`,
      "metrics",
      metrics.length
        ? kvTable(
            metrics.map((m) => [
              h("a", { href: href(current().path, { tab: "charts", metric: m.key }) }, m.key),
              formatNumber(m.value),
              String(m.step),
            ]),
            ["Name", "Latest value", "Step"],
            "tk-metrics",
          )
        : h("p", { class: "muted" }, "None."),
    ),
  );
  for (const wide of [tagsSection(state), inputsSection(run), loggedModelsSection(run)]) {
    wide.classList.add("tk-wide");
    grid.append(wide);
  }
}

/** Framework, model class and early-stopping facts recorded by tracklet's autolog integrations. */
function autologSummary(run) {
  const tags = kv(run.data.tags);
  const metrics = Object.fromEntries((run.data.metrics || []).map((m) => [m.key, m.value]));
  const framework = tags["mlflow.autologging"];
  if (!framework) return null;
  let modelClass = tags.estimator_class || tags.estimator_name || "";
  let flavors = [];
  try {
    const history = JSON.parse(tags["mlflow.log-model.history"] || "[]");
    for (const entry of history) {
      flavors = Object.keys(entry.flavors || {});
      for (const [name, conf] of Object.entries(entry.flavors || {})) {
        if (name !== "python_function" && conf && conf.model_class && !modelClass) modelClass = conf.model_class;
      }
    }
  } catch {
    /* a hand-written tag that isn't JSON: no model facts */
  }
  const rows = [["Framework", framework]];
  if (modelClass) rows.push(["Model", modelClass]);
  if (flavors.length) rows.push(["Model flavors", flavors.join(", ")]);
  // each integration's early-stopping names (boosting: *_iteration; keras/gluon: *_epoch), all 0-based
  for (const [key, label] of [
    ["best_iteration", "Best iteration"],
    ["stopped_iteration", "Stopped iteration"],
    ["best_epoch", "Best epoch"],
    ["restored_epoch", "Restored epoch"],
    ["stopped_epoch", "Stopped epoch"],
  ]) {
    if (metrics[key] !== undefined) rows.push([label, formatNumber(metrics[key])]);
  }
  return section("Autolog", "autolog", kvTable(rows, null, "tk-autolog"));
}

async function reloadRun(state) {
  state.run = (await apiGet("runs/get", { run_id: state.run.info.run_id })).run;
}

function noteSection(state) {
  const box = section("Note", "note");
  const draw = () => {
    const note = kv(state.run.data.tags)[NOTE] || "";
    const body = h("div", { class: "tk-markdown tk-note" });
    if (note) body.append(renderMarkdown(note));
    else body.append(h("p", { class: "muted" }, "No note yet."));
    const edit = h("button", { type: "button", class: "tk-edit-note" }, note ? "Edit note" : "Add note");
    edit.addEventListener("click", () => {
      const area = h("textarea", { class: "tk-note-input", rows: 8, text: note, "aria-label": "Note (Markdown)" });
      const save = h("button", { type: "button", class: "tk-save-note" }, "Save");
      const cancel = h("button", { type: "button" }, "Cancel");
      const status = h("div");
      cancel.addEventListener("click", draw);
      save.addEventListener("click", async () => {
        save.disabled = true;
        try {
          const { run_id } = state.run.info;
          await apiPost("runs/set-tag", { run_id, key: NOTE, value: area.value });
          await reloadRun(state);
          draw();
        } catch (err) {
          save.disabled = false;
          status.replaceChildren(errorBox(err, "The note was not saved"));
        }
      });
      box.replaceChildren(box.firstChild, area, h("div", { class: "tk-actions" }, save, cancel), status);
      area.focus();
    });
    box.replaceChildren(box.firstChild, body, h("div", { class: "tk-actions" }, edit));
  };
  draw();
  return box;
}

function tagsSection(state) {
  const box = section("Tags", "tags");
  const runId = () => state.run.info.run_id;
  async function act(call) {
    try {
      await call();
      await reloadRun(state);
      draw();
    } catch (err) {
      draw(errorBox(err, "The tag was not changed"));
    }
  }
  const setTag = (key, value) => act(() => apiPost("runs/set-tag", { run_id: runId(), key, value }));

  function row(t) {
    const value = h("td", { class: "tk-tag-value" }, t.value);
    const edit = h("button", { type: "button", class: "tk-tag-edit", "aria-label": "Edit tag " + t.key }, "Edit");
    const del = h("button", { type: "button", class: "tk-tag-delete", "aria-label": "Delete tag " + t.key });
    del.textContent = "Delete";
    edit.addEventListener("click", () => {
      const input = h("input", { type: "text", value: t.value, class: "tk-tag-input" });
      input.setAttribute("aria-label", "Value of " + t.key);
      const save = h("button", { type: "button", class: "tk-tag-save" }, "Save");
      save.addEventListener("click", () => setTag(t.key, input.value));
      input.addEventListener("keydown", (e) => e.key === "Enter" && save.click());
      value.replaceChildren(input, save);
      input.focus();
    });
    del.addEventListener("click", () => act(() => apiPost("runs/delete-tag", { run_id: runId(), key: t.key })));
    const actions = h("td", { class: "tk-actions" }, edit, del);
    return h("tr", { dataset: { key: t.key } }, h("td", {}, t.key), value, actions);
  }

  function tagTable(tags) {
    const head = h("tr", {}, h("th", { scope: "col" }, "Key"), h("th", { scope: "col" }, "Value"), h("th", {}, ""));
    return h("table", { class: "tk-table tk-tags" }, h("thead", {}, head), h("tbody", {}, tags.map(row)));
  }

  function draw(message) {
    const tags = (state.run.data.tags || []).filter((t) => t.key !== NOTE).sort((a, b) => a.key.localeCompare(b.key));
    // tracklet's and MLflow's own tags (mlflow.*) are folded away: the user's tags come first
    const system = tags.filter((t) => t.key.startsWith("mlflow."));
    const mine = tags.filter((t) => !t.key.startsWith("mlflow."));
    const newKey = h("input", { type: "text", placeholder: "key", class: "tk-new-tag-key" });
    const newValue = h("input", { type: "text", placeholder: "value", class: "tk-new-tag-value" });
    newKey.setAttribute("aria-label", "New tag key");
    newValue.setAttribute("aria-label", "New tag value");
    const add = h("button", { type: "button", class: "tk-add-tag" }, "Add tag");
    add.addEventListener("click", () => setTag(newKey.value.trim(), newValue.value));
    const systemSummary = h("summary", {}, `System tags (${system.length})`);
    box.replaceChildren(
      box.firstChild,
      mine.length ? tagTable(mine) : h("p", { class: "muted" }, "No tags of your own yet."),
      h("div", { class: "tk-add-tag-form" }, newKey, newValue, add),
      message || "",
      system.length ? h("details", { class: "tk-system-tags" }, systemSummary, tagTable(system)) : "",
    );
  }
  draw();
  return box;
}

function inputsSection(run) {
  const inputs = (run.inputs && run.inputs.dataset_inputs) || [];
  if (!inputs.length) return section("Dataset inputs", "inputs", h("p", { class: "muted" }, "None."));
  const rows = inputs.map(({ dataset, tags }) => {
    const context = kv(tags)["mlflow.data.context"] || "";
    const details = h("details", {}, h("summary", {}, "schema & profile"));
    for (const [label, raw] of [["schema", dataset.schema], ["profile", dataset.profile], ["source", dataset.source]]) {
      if (!raw) continue;
      let text = raw;
      try {
        text = JSON.stringify(JSON.parse(raw), null, 2);
      } catch {
        /* not JSON: as is */
      }
      details.append(h("h5", {}, label), h("pre", {}, text));
    }
    return [dataset.name, context, h("code", {}, dataset.digest), dataset.source_type || "", details];
  });
  const table = kvTable(rows, ["Name", "Context", "Digest", "Source type", ""], "tk-inputs");
  return section(`Dataset inputs (${inputs.length})`, "inputs", table);
}

function loggedModelsSection(run) {
  const box = section("Logged models", "logged-models", h("p", { class: "muted" }, "Loading…"));
  const { run_id, experiment_id } = run.info;
  apiPost("logged-models/search", { experiment_ids: [experiment_id], filter: `source_run_id = '${run_id}'` })
    .then(({ models = [] }) => {
      const rows = models.map(({ info }) => [
        info.name || "",
        h("code", {}, info.model_id),
        info.model_type || "",
        (info.status || "").replace("LOGGED_MODEL_", ""),
        formatTime(info.creation_timestamp_ms),
        info.artifact_uri || "",
      ]);
      box.replaceChildren(
        box.firstChild,
        rows.length
          ? kvTable(rows, ["Name", "Model ID", "Type", "Status", "Created", "Artifact URI"], "tk-logged-models")
          : h("p", { class: "muted" }, "None."),
      );
    })
    .catch((err) => box.replaceChildren(box.firstChild, errorBox(err, "Logged models could not be loaded")));
  return box;
}

// ------------------------------------------------------------------ charts

function parseRange(raw) {
  const parts = (raw || "").split(",").map(Number);
  return parts.length === 2 && parts.every(Number.isFinite) && parts[0] < parts[1] ? parts : null;
}

function renderCharts(panel, state) {
  const { run, query } = state;
  const keys = Array.from(new Set((run.data.metrics || []).map((m) => m.key))).sort();
  if (!keys.length) {
    panel.append(h("p", { class: "muted" }, "This run has no metrics."));
    return;
  }
  const xAxis = X_AXES.some(([x]) => x === query.get("x")) ? query.get("x") : "step";
  const only = keys.includes(query.get("metric")) ? query.get("metric") : null;
  const range = parseRange(query.get("range"));
  const controls = h("div", { class: "tk-chart-controls" });
  const select = h("select", { class: "tk-x-axis", "aria-label": "X axis" });
  for (const [value, label] of X_AXES) select.append(h("option", { value, selected: value === xAxis }, label));
  select.addEventListener("change", () => {
    updateQuery({ x: select.value === "step" ? null : select.value, range: null }); // a range is in x-axis units
    showTab(panel, "charts", state);
  });
  controls.append(h("label", {}, "X axis ", select));
  if (only) {
    const all = href(current().path, { tab: "charts", x: query.get("x") });
    controls.append(h("a", { href: all }, `All ${keys.length} metrics`));
  }
  panel.append(controls);
  const grid = h("div", { class: "tk-chart-grid" + (only || keys.length === 1 ? " tk-chart-single" : "") });
  panel.append(grid);
  // every chart on the page shares the x range: zooming one zooms all, and the range is in the URL
  const onRangeChange = (r, source) => {
    updateQuery({ range: r ? r.map((v) => +v.toPrecision(12)).join(",") : null });
    for (const c of charts) if (c !== source) c.setRange(r);
  };
  // charts are created as they scroll into view: a run with hundreds of metrics opens as fast as one with three
  const observer = new IntersectionObserver((entries) => {
    for (const e of entries) {
      if (!e.isIntersecting || e.target.dataset.created) continue;
      e.target.dataset.created = "1";
      observer.unobserve(e.target);
      const key = e.target.dataset.metric;
      const chart = createChart(e.target, {
        title: key,
        series: [{ label: key, runId: run.info.run_id, key }],
        xAxis,
        range: parseRange(current().query.get("range")) || range,
        onRangeChange: (r) => onRangeChange(r, chart),
      });
      charts.push(chart);
    }
  });
  charts.push({ destroy: () => observer.disconnect(), setRange() {} });
  for (const key of only ? [only] : keys) {
    const box = h("div", { class: "tk-chart-box", dataset: { metric: key } });
    grid.append(box);
    observer.observe(box);
  }
}

// ------------------------------------------------------------------ artifacts

function renderArtifacts(panel, state) {
  renderArtifactBrowser(panel, state.run.info.run_id, {
    selected: state.query.get("artifact") || "",
    onSelect: (path) => updateQuery({ artifact: path }),
  });
}
