// Metric charts over uPlot (vendored in static/vendor/, loaded once on first use).
//
// createChart(container, {title, series: [{label, runId, key}], xAxis: "step"|"time"|"relative",
//                         range: [min, max] | null, onRangeChange(range | null)}) -> {destroy(), setRange(range)}
//
// The chart fetches its own data from metrics/get-history-bulk-interval: the server keeps every step bucket's
// min and max (spikes survive), so we ask for about two points per horizontal pixel, for the visible step range
// only. Drag-selecting a span zooms: the range goes to onRangeChange (the page puts it in the URL) and the
// detail for that span is fetched. Double-click or the "Reset zoom" button goes back to the whole history.
//
// For tests and benchmarks the container carries data attributes: data-state (loading|ready|error),
// data-series (number of drawn series), data-points (points drawn), data-step-range (the last requested
// "start,end" or ""), data-fetches (requests made), and the uPlot instance is `container.uplot`.

import { apiGet } from "./api.js";

const MAX_RESULTS = 2500; // the server's per-run cap for the bulk-interval endpoint
const COLORS = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#be185d", "#4d7c0f", "#78716c"];

const scripts = new Map(); // src -> Promise of the global it defines

/** Load a vendored classic script once (plus an optional stylesheet); resolves to window[globalName]. */
export function loadScript(src, globalName, css = null) {
  if (window[globalName]) return Promise.resolve(window[globalName]);
  if (!scripts.has(src)) {
    const p = new Promise((resolve, reject) => {
      if (css) {
        const link = document.createElement("link");
        link.rel = "stylesheet";
        link.href = css;
        document.head.appendChild(link);
      }
      const script = document.createElement("script");
      script.src = src;
      script.onload = () => resolve(window[globalName]);
      script.onerror = () => {
        scripts.delete(src);
        reject(new Error("could not load " + src));
      };
      document.head.appendChild(script);
    });
    scripts.set(src, p);
  }
  return scripts.get(src);
}

/** The vendored uPlot constructor (loaded on first use), with the chart styles of run.css. */
export function loadUPlot() {
  if (!document.getElementById("tk-run-css")) {
    const link = document.createElement("link"); // the compare page uses charts without the run page
    link.id = "tk-run-css";
    link.rel = "stylesheet";
    link.href = "static/run.css";
    document.head.appendChild(link);
  }
  return loadScript("static/vendor/uPlot.iife.min.js", "uPlot", "static/vendor/uPlot.min.css");
}

const runStarts = new Map(); // runId -> Promise<start_time ms>, for the relative-time axis

function runStart(runId) {
  if (!runStarts.has(runId)) {
    const p = apiGet("runs/get", { run_id: runId }).then((r) => Number(r.run.info.start_time));
    p.catch(() => runStarts.delete(runId));
    runStarts.set(runId, p);
  }
  return runStarts.get(runId);
}

function toNumber(v) {
  const n = typeof v === "number" ? v : Number(v); // the wire spells NaN/Infinity as strings
  return Number.isFinite(n) ? n : null;
}

/** Merge per-series point lists [{x, y, step}] into uPlot's aligned columns [xs, ys1, ys2, ...].
 *  A value repeated at the same x (several points logged at one step) keeps its own row, so no point is lost. */
export function alignSeries(lists) {
  const byX = lists.map((pts) => {
    const m = new Map();
    for (const p of pts) {
      if (!m.has(p.x)) m.set(p.x, []);
      m.get(p.x).push(p.y);
    }
    return m;
  });
  const xs = new Set();
  for (const pts of lists) for (const p of pts) xs.add(p.x);
  const sorted = Array.from(xs).sort((a, b) => a - b);
  const cols = [[], ...lists.map(() => [])];
  for (const x of sorted) {
    const n = Math.max(...byX.map((m) => (m.get(x) || []).length));
    for (let i = 0; i < n; i++) {
      cols[0].push(x);
      byX.forEach((m, s) => cols[s + 1].push((m.get(x) || [])[i] ?? null));
    }
  }
  return cols;
}

function formatDuration(seconds) {
  const s = Math.abs(seconds);
  if (s < 60) return `${+seconds.toFixed(s < 10 ? 2 : 1)}s`;
  if (s < 3600) return `${Math.floor(seconds / 60)}m${Math.round(s % 60)}s`;
  return `${Math.floor(seconds / 3600)}h${Math.round((s % 3600) / 60)}m`;
}

/** Step range [start, end] covering the x range, from the points currently loaded (time axes map through them). */
function stepRangeFor(range, lists, xAxis) {
  if (!range) return null;
  if (xAxis === "step") return [Math.floor(range[0]), Math.ceil(range[1])];
  let lo = Infinity;
  let hi = -Infinity;
  for (const pts of lists) {
    // the last point before and the first point after the range too, so the line reaches the edges
    let before = null;
    let after = null;
    for (const p of pts) {
      if (p.x < range[0]) before = p.step;
      else if (p.x > range[1]) {
        if (after === null) after = p.step;
      } else {
        lo = Math.min(lo, p.step);
        hi = Math.max(hi, p.step);
      }
    }
    if (before !== null) lo = Math.min(lo, before);
    if (after !== null) hi = Math.max(hi, after);
  }
  return Number.isFinite(lo) ? [lo, hi] : null;
}

/** Draw a chart of `series` into `container`; see the module comment for the options. */
export function createChart(container, { title = "", series = [], xAxis = "step", range = null, onRangeChange } = {}) {
  container.classList.add("tk-chart");
  container.innerHTML = "";
  const head = document.createElement("div");
  head.className = "tk-chart-head";
  const heading = document.createElement("span");
  heading.className = "tk-chart-title";
  heading.textContent = title;
  const reset = document.createElement("button");
  reset.type = "button";
  reset.className = "tk-chart-reset";
  reset.textContent = "Reset zoom";
  reset.hidden = !range;
  head.append(heading, reset);
  const plotBox = document.createElement("div");
  plotBox.className = "tk-chart-plot";
  const status = document.createElement("div");
  status.className = "tk-chart-status muted";
  container.append(head, plotBox, status);

  let plot = null;
  let destroyed = false;
  let seq = 0;
  let lists = series.map(() => []); // the loaded points per series: {x, y, step}
  let current = range;
  let fetches = 0;
  const resize = new ResizeObserver(() => {
    if (plot) plot.setSize(size());
  });

  function size() {
    return { width: Math.max(200, plotBox.clientWidth || container.clientWidth || 600), height: 240 };
  }

  function setState(state, message = "") {
    container.dataset.state = state;
    status.textContent = message;
    status.setAttribute("role", state === "error" ? "alert" : "status");
  }

  async function fetchLists(stepRange) {
    const groups = new Map(); // metric key -> series indexes (one request per key covers all its runs)
    series.forEach((s, i) => {
      if (!groups.has(s.key)) groups.set(s.key, []);
      groups.get(s.key).push(i);
    });
    const width = size().width;
    const maxResults = Math.min(MAX_RESULTS, Math.max(4, 2 * width));
    const params = stepRange ? { start_step: stepRange[0], end_step: stepRange[1] } : {};
    container.dataset.stepRange = stepRange ? stepRange.join(",") : "";
    fetches += 1;
    container.dataset.fetches = String(fetches);
    const starts =
      xAxis === "relative" ? await Promise.all(series.map((s) => runStart(s.runId))) : series.map(() => 0);
    const out = series.map(() => []);
    await Promise.all(
      Array.from(groups, async ([key, idxs]) => {
        const runIds = Array.from(new Set(idxs.map((i) => series[i].runId)));
        const body = await apiGet("metrics/get-history-bulk-interval", {
          run_ids: runIds,
          metric_key: key,
          max_results: maxResults,
          ...params,
        });
        for (const m of body.metrics || []) {
          for (const i of idxs) {
            if (series[i].runId !== m.run_id) continue;
            const step = Number(m.step);
            const ts = Number(m.timestamp);
            const x = xAxis === "step" ? step : xAxis === "time" ? ts / 1000 : (ts - starts[i]) / 1000;
            out[i].push({ x, y: toNumber(m.value), step });
          }
        }
      }),
    );
    for (const pts of out) pts.sort((a, b) => a.x - b.x || a.step - b.step);
    return out;
  }

  function draw(uPlot) {
    const data = alignSeries(lists);
    container.dataset.series = String(series.length);
    container.dataset.points = String(lists.reduce((n, pts) => n + pts.length, 0));
    if (!plot) {
      plot = new uPlot(options(), data, plotBox);
      container.uplot = plot;
      resize.observe(plotBox);
    } else {
      plot.setData(data, true);
    }
    if (current) plot.setScale("x", { min: current[0], max: current[1] });
    reset.hidden = !current;
  }

  function options() {
    return {
      ...size(),
      scales: { x: { time: xAxis === "time" } },
      axes: [
        xAxis === "relative" ? { values: (u, ticks) => ticks.map(formatDuration) } : {},
        { size: 60 },
      ],
      series: [
        { label: xAxis === "step" ? "step" : xAxis === "time" ? "time" : "relative time" },
        ...series.map((s, i) => ({
          label: s.label,
          stroke: COLORS[i % COLORS.length],
          width: 1.5,
          spanGaps: true, // overlaid runs log at different steps; draw each as one line
          points: { show: false },
        })),
      ],
      cursor: {
        drag: { x: true, y: false, setScale: false }, // we zoom ourselves, to fetch the detail first
        bind: { dblclick: () => () => null },
      },
      hooks: {
        setSelect: [
          (u) => {
            if (u.select.width < 3) return;
            const lo = u.posToVal(u.select.left, "x");
            const hi = u.posToVal(u.select.left + u.select.width, "x");
            u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
            zoom([lo, hi], true);
          },
        ],
        ready: [(u) => u.over.addEventListener("dblclick", () => zoom(null, true))],
      },
      legend: { live: true },
    };
  }

  async function load(stepRange) {
    const mine = ++seq;
    setState("loading", "Loading…");
    try {
      const [uPlot, fresh] = await Promise.all([loadUPlot(), fetchLists(stepRange)]);
      if (destroyed || mine !== seq) return;
      lists = fresh;
      draw(uPlot);
      const empty = lists.every((pts) => pts.length === 0);
      setState("ready", empty ? "No data in this range." : "");
    } catch (err) {
      if (destroyed || mine !== seq) return;
      setState("error", "Could not load the chart: " + (err.message || err));
    }
  }

  async function zoom(newRange, fromUser) {
    if (newRange && !(newRange[1] > newRange[0])) return;
    const stepRange = newRange ? stepRangeFor(newRange, lists, xAxis) : null;
    current = newRange;
    if (fromUser && onRangeChange) onRangeChange(newRange);
    await load(stepRange);
  }

  reset.addEventListener("click", () => zoom(null, true));

  (async () => {
    if (current && xAxis !== "step") {
      // a deep-linked time range: load the overview first to learn which steps the times map to
      const wanted = current;
      current = null;
      await load(null);
      if (!destroyed) await zoom(wanted, false);
    } else {
      await load(stepRangeFor(current, lists, xAxis));
    }
  })();

  return {
    destroy() {
      destroyed = true;
      resize.disconnect();
      if (plot) plot.destroy();
      plot = null;
      container.uplot = null;
    },
    /** Zoom to `range` (x-axis units) or back to the whole history (null) without calling onRangeChange. */
    setRange(newRange) {
      return zoom(newRange, false);
    },
  };
}
