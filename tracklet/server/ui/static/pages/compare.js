// Compare runs side by side: #/compare?runs=<id,id>&metrics=<k,k>&x=step|time|relative&range=a,b&diff=1&px=&py=
// Params (differing rows highlighted), latest metric values, overlaid metric charts (chart.js) and a scatter of
// a chosen param against a chosen metric.

import { apiGet } from "../api.js";
import { errorBox, h, replace } from "../dom.js";
import { href, updateQuery } from "../router.js";
import { decodeList, encodeList, flattenRun } from "../columns.js";
import { formatNumber } from "../format.js";
import { scatterPlot } from "../scatter.js";

const MAX_CHARTS = 6; // charts drawn when the URL names none
const X_AXES = [
  ["step", "Step"],
  ["time", "Wall time"],
  ["relative", "Relative time"],
];

export async function renderCompare(el, { query }) {
  const ids = decodeList(query.get("runs"));
  const root = h("section", { class: "compare-page", dataset: { state: "loading" } }, h("h1", { text: `Compare ${ids.length} runs` }));
  replace(el, root);
  if (ids.length < 1) {
    root.append(h("p", {}, "No runs chosen: select runs in a ", h("a", { href: "#/", text: "runs table" }), " and press Compare."));
    root.dataset.state = "ready";
    return;
  }
  const results = await Promise.all(
    ids.map((id) => apiGet("runs/get", { run_id: id }).then((r) => flattenRun(r.run), (err) => ({ id, error: err }))),
  );
  const runs = results.filter((r) => !r.error);
  for (const bad of results.filter((r) => r.error)) root.append(errorBox(bad.error, `Run ${bad.id} could not be loaded`));
  if (!runs.length) {
    root.dataset.state = "error";
    return;
  }
  const state = {
    diffOnly: query.get("diff") === "1",
    metrics: query.has("metrics") ? decodeList(query.get("metrics")) : null,
    x: query.get("x") || "step",
    range: parseRange(query.get("range")),
    px: query.get("px"),
    py: query.get("py"),
  };
  root.append(
    runsHeader(runs),
    valuesSection("Parameters", "params", runs, state, (v) => v),
    valuesSection("Metrics (latest values)", "metrics", runs, state, formatNumber),
    await chartsSection(runs, state),
    scatterSection(runs, state),
  );
  root.dataset.state = "ready";
}

function parseRange(text) {
  const parts = (text || "").split(",").map(Number);
  return parts.length === 2 && parts.every(Number.isFinite) ? parts : null;
}

function runLabel(run) {
  return run.name || run.id.slice(0, 8);
}

function runsHeader(runs) {
  return h(
    "p",
    { class: "compare-runs" },
    "Runs: ",
    runs.map((r, i) => [i ? ", " : "", h("a", { href: href("/runs/" + r.id), text: runLabel(r) })]),
  );
}

/** True when the runs do not all have the same value for the key (a missing value counts as different). */
function differs(runs, kind, key) {
  const first = runs[0][kind][key];
  return runs.some((r) => r[kind][key] !== first);
}

function valuesSection(title, kind, runs, state, fmt) {
  const keys = [...new Set(runs.flatMap((r) => Object.keys(r[kind])))].sort();
  const id = `compare-${kind}`;
  const section = h("section", { class: "compare-section", "aria-labelledby": `${id}-title` }, h("h2", { id: `${id}-title`, text: title }));
  if (!keys.length) return section.appendChild(h("p", { class: "muted", text: `No ${kind}.` })).parentNode;
  const nDiff = keys.filter((k) => differs(runs, kind, k)).length;
  const onlyDiff = h("input", {
    type: "checkbox",
    checked: state.diffOnly,
    onchange: (e) => {
      state.diffOnly = e.target.checked;
      updateQuery({ diff: state.diffOnly ? "1" : null });
      for (const table of document.querySelectorAll(".compare-table")) table.classList.toggle("diff-only", state.diffOnly);
      for (const box of document.querySelectorAll(".diff-toggle input")) box.checked = state.diffOnly;
    },
  });
  section.append(
    h("label", { class: "diff-toggle" }, onlyDiff, ` Show only differing rows (${nDiff} of ${keys.length} differ)`),
    h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        { class: "compare-table" + (state.diffOnly ? " diff-only" : ""), id },
        h("caption", { class: "sr-only", text: `${title}; rows marked “differs” are not equal across runs` }),
        h("thead", {}, h("tr", {}, h("th", { scope: "col", text: "Key" }), runs.map((r) => h("th", { scope: "col", text: runLabel(r) })))),
        h(
          "tbody",
          {},
          keys.map((key) => {
            const diff = differs(runs, kind, key);
            return h(
              "tr",
              { class: diff ? "diff" : "same", dataset: { key } },
              h("th", { scope: "row" }, key, diff ? h("span", { class: "diff-mark", text: "differs" }) : null),
              runs.map((r) => {
                const v = r[kind][key];
                return h("td", { class: (diff ? "diff" : "") + (kind === "metrics" ? " num" : ""), title: v === undefined ? "not logged" : String(v), text: v === undefined ? "—" : fmt(v) });
              }),
            );
          }),
        ),
      ),
    ),
  );
  return section;
}

async function chartsSection(runs, state) {
  const keys = [...new Set(runs.flatMap((r) => Object.keys(r.metrics)))].sort();
  const section = h("section", { class: "compare-section", "aria-labelledby": "compare-charts-title" }, h("h2", { id: "compare-charts-title", text: "Metric charts" }));
  if (!keys.length) return section.appendChild(h("p", { class: "muted", text: "No metrics to chart." })).parentNode;
  const chosen = (state.metrics || keys.slice(0, MAX_CHARTS)).filter((k) => keys.includes(k));
  const grid = h("div", { class: "charts" });
  const xSelect = h(
    "select",
    { id: "compare-x", onchange: (e) => (updateQuery({ x: e.target.value, range: null }), (state.x = e.target.value), (state.range = null), draw()) },
    X_AXES.map(([v, label]) => h("option", { value: v, text: label, selected: v === state.x })),
  );
  const picker = h(
    "details",
    { class: "col-picker" },
    h("summary", { text: `Metrics charted (${chosen.length} of ${keys.length})` }),
    h(
      "div",
      { class: "col-panel" },
      keys.map((k) =>
        h(
          "label",
          { class: "col-option" },
          h("input", {
            type: "checkbox",
            value: k,
            checked: chosen.includes(k),
            onchange: (e) => {
              const next = e.target.checked ? [...chosen, k] : chosen.filter((c) => c !== k);
              chosen.splice(0, chosen.length, ...keys.filter((x) => next.includes(x)));
              picker.querySelector("summary").textContent = `Metrics charted (${chosen.length} of ${keys.length})`;
              updateQuery({ metrics: encodeList(chosen) || "~" });
              draw();
            },
          }),
          " ",
          k,
        ),
      ),
    ),
  );
  section.append(h("div", { class: "compare-controls" }, h("label", { for: "compare-x" }, "X axis "), xSelect, picker), grid);

  let createChart;
  try {
    ({ createChart } = await import("../chart.js"));
  } catch (err) {
    grid.append(errorBox(err, "The charts could not be loaded"));
    return section;
  }
  let charts = [];
  function draw() {
    for (const c of charts) c.destroy();
    charts = [];
    replace(grid);
    for (const key of chosen) {
      const card = h("div", { class: "chart-card", dataset: { metric: key } });
      grid.append(card);
      const chart = createChart(card, {
        title: key,
        series: runs.filter((r) => key in r.metrics).map((r) => ({ label: runLabel(r), runId: r.id, key })),
        xAxis: state.x,
        range: state.range,
        onRangeChange: (range) => {
          // one zoom for all charts: they share the x axis (steps or time)
          state.range = range;
          updateQuery({ range: range ? range.map((v) => +v.toPrecision(8)).join(",") : null });
          for (const other of charts) if (other !== chart && other.setRange) other.setRange(range);
        },
      });
      charts.push(chart);
    }
  }
  draw();
  return section;
}

function scatterSection(runs, state) {
  const params = [...new Set(runs.flatMap((r) => Object.keys(r.params)))].sort();
  const metrics = [...new Set(runs.flatMap((r) => Object.keys(r.metrics)))].sort();
  const section = h("section", { class: "compare-section scatter", "aria-labelledby": "compare-scatter-title" }, h("h2", { id: "compare-scatter-title", text: "Parameter vs metric" }));
  if (!params.length || !metrics.length) return section.appendChild(h("p", { class: "muted", text: "Needs at least one param and one metric." })).parentNode;
  // default: the first param whose value differs, against the first metric
  const px = params.includes(state.px) ? state.px : params.find((k) => differs(runs, "params", k)) || params[0];
  const py = metrics.includes(state.py) ? state.py : metrics[0];
  const plotBox = h("div", { class: "scatter-plot" });
  const pick = (id, label, options, value, onchange) => [
    h("label", { for: id, text: label }),
    h("select", { id, onchange }, options.map((o) => h("option", { value: o, text: o, selected: o === value }))),
  ];
  const draw = () => replace(plotBox, scatterPlot(runs, xSel.value, ySel.value, runLabel));
  const controls = h(
    "div",
    { class: "compare-controls" },
    pick("scatter-x", "Param (x) ", params, px, () => (updateQuery({ px: xSel.value }), draw())),
    pick("scatter-y", "Metric (y) ", metrics, py, () => (updateQuery({ py: ySel.value }), draw())),
  );
  const xSel = controls.querySelector("#scatter-x");
  const ySel = controls.querySelector("#scatter-y");
  section.append(controls, plotBox);
  draw();
  return section;
}
