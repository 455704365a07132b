// A plain-SVG scatter plot of one param (x) against one metric (y) over runs; a numeric param gets a linear
// axis, any other a category axis. Each point carries a <title> (run, x, y) for hover and screen readers.

import { formatNumber } from "./format.js";

const NS = "http://www.w3.org/2000/svg";
const W = 600;
const H = 320;
const M = { left: 64, right: 16, top: 12, bottom: 44 };
const COLOR = "#0b5cad";

function svg(tag, attrs = {}, text) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

/** "Nice" ticks between lo and hi (about n of them). */
function ticks(lo, hi, n = 5) {
  if (lo === hi) return [lo];
  const raw = (hi - lo) / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((f) => f * mag).find((s) => s >= raw) || raw;
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(+v.toPrecision(12));
  return out;
}

function scale(lo, hi, a, b) {
  if (lo === hi) return () => (a + b) / 2;
  return (v) => a + ((v - lo) / (hi - lo)) * (b - a);
}

/** The SVG element; runs are flattened runs ({params, metrics}); label(run) names a point. */
export function scatterPlot(runs, paramKey, metricKey, label) {
  const pts = runs
    .filter((r) => r.params[paramKey] !== undefined && Number.isFinite(Number(r.metrics[metricKey])))
    .map((r) => ({ run: r, xv: r.params[paramKey], y: Number(r.metrics[metricKey]) }));
  const numeric = pts.length > 0 && pts.every((p) => p.xv.trim() !== "" && Number.isFinite(Number(p.xv)));
  const root = svg("svg", {
    viewBox: `0 0 ${W} ${H}`,
    width: W,
    height: H,
    role: "img",
    "aria-label": `Scatter plot of metric ${metricKey} against param ${paramKey}: ${pts.length} runs`,
    "data-points": pts.length,
  });
  const x0 = M.left;
  const x1 = W - M.right;
  const y0 = H - M.bottom;
  const y1 = M.top;
  root.append(svg("line", { class: "axis", x1: x0, y1: y0, x2: x1, y2: y0 }), svg("line", { class: "axis", x1: x0, y1: y0, x2: x0, y2: y1 }));
  if (!pts.length) {
    root.append(svg("text", { x: (x0 + x1) / 2, y: (y0 + y1) / 2, "text-anchor": "middle" }, "No run has both values"));
    return root;
  }
  const ys = pts.map((p) => p.y);
  const ylo = Math.min(...ys);
  const yhi = Math.max(...ys);
  const sy = scale(ylo, yhi, y0 - 16, y1 + 16);
  let sx;
  let xTicks;
  if (numeric) {
    const xs = pts.map((p) => Number(p.xv));
    const xlo = Math.min(...xs);
    const xhi = Math.max(...xs);
    const f = scale(xlo, xhi, x0 + 24, x1 - 60);
    sx = (p) => f(Number(p.xv));
    xTicks = ticks(xlo, xhi).map((v) => [f(v), formatNumber(v)]);
  } else {
    const cats = [...new Set(pts.map((p) => p.xv))].sort();
    const band = (x1 - x0) / cats.length;
    sx = (p) => x0 + band * (cats.indexOf(p.xv) + 0.5);
    xTicks = cats.map((c, i) => [x0 + band * (i + 0.5), c.length > 14 ? c.slice(0, 13) + "…" : c]);
  }
  for (const [x, text] of xTicks) {
    root.append(svg("line", { class: "axis", x1: x, y1: y0, x2: x, y2: y0 + 4 }), svg("text", { x, y: y0 + 16, "text-anchor": "middle" }, text));
  }
  for (const v of ticks(ylo, yhi)) {
    const y = sy(v);
    root.append(svg("line", { class: "axis", x1: x0 - 4, y1: y, x2: x0, y2: y }), svg("text", { x: x0 - 6, y: y + 4, "text-anchor": "end" }, formatNumber(v)));
  }
  root.append(
    svg("text", { x: (x0 + x1) / 2, y: H - 6, "text-anchor": "middle" }, `params.${paramKey}`),
    svg("text", { x: 14, y: (y0 + y1) / 2, "text-anchor": "middle", transform: `rotate(-90 14 ${(y0 + y1) / 2})` }, `metrics.${metricKey}`),
  );
  const named = pts.length <= 12; // few points: name them on the plot, not only in their tooltips
  for (const p of pts) {
    const dot = svg("circle", { cx: sx(p), cy: sy(p.y), r: 5, fill: COLOR, "fill-opacity": 0.75, stroke: "#fff", class: "point" });
    dot.append(svg("title", {}, `${label(p.run)}: ${paramKey}=${p.xv}, ${metricKey}=${formatNumber(p.y)}`));
    root.append(dot);
    if (named) root.append(svg("text", { x: sx(p) + 8, y: sy(p.y) + 4, class: "point-label" }, label(p.run)));
  }
  return root;
}
