// The runs table's data model: a flat view of a run from the REST JSON, the built-in columns and the
// params/metrics/tags columns a user picks, each knowing its display value, CSV value and order_by clause.

import { durationMs, formatDuration, formatNumber, formatTime, statusLabel } from "./format.js";

export const PARENT_TAG = "mlflow.parentRunId";
export const AUTOLOG_TAG = "mlflow.autologging"; // written by tracklet.autolog (session.py), as MLflow does
const RUN_NAME_TAG = "mlflow.runName";
const USER_TAG = "mlflow.user";

/** Flatten a run as the REST API returns it ({info, data: {metrics, params, tags}}). */
export function flattenRun(json) {
  const info = json.info || {};
  const data = json.data || {};
  const pairs = (list) => Object.fromEntries((list || []).map((x) => [x.key, x.value]));
  const tags = pairs(data.tags);
  return {
    id: info.run_id || info.run_uuid,
    name: info.run_name || tags[RUN_NAME_TAG] || "",
    experimentId: info.experiment_id,
    status: info.status,
    start: info.start_time ? Number(info.start_time) : null,
    end: info.end_time ? Number(info.end_time) : null,
    user: tags[USER_TAG] || info.user_id || "",
    lifecycle: info.lifecycle_stage,
    parentId: tags[PARENT_TAG] || null,
    params: pairs(data.params),
    metrics: pairs(data.metrics),
    tags,
  };
}

/** Quote a key for the search grammar: backquotes, or a double-quoted string when the key has a backquote. */
export function quoteKey(key) {
  if (!key.includes("`")) return "`" + key + "`";
  return '"' + key.replace(/\\/g, "\\\\").replace(/"/g, '\\"') + '"';
}

/** A quoted string literal for the search grammar. */
export function quoteValue(value) {
  return "'" + String(value).replace(/'/g, "''") + "'";
}

const KINDS = { metrics: "metrics", params: "params", tags: "tags" };

/** Built-in columns: id, header label, value(run) for CSV/sorting on the page, cell text, order_by identifier. */
export const BASE_COLUMNS = [
  { id: "status", label: "Status", value: (r) => r.status, text: (r) => statusLabel(r.status), order: "attributes.status" },
  { id: "name", label: "Run name", value: (r) => r.name, order: "attributes.run_name" },
  { id: "start", label: "Started", value: (r) => formatTime(r.start), order: "attributes.start_time" },
  {
    id: "duration",
    label: "Duration",
    value: (r) => {
      const d = durationMs(r.start, r.end, r.status);
      return d === null ? "" : String(d / 1000);
    },
    text: (r) => formatDuration(durationMs(r.start, r.end, r.status)),
    order: null, // end - start is not a server-side sort key
  },
  { id: "framework", label: "Autolog", value: (r) => r.tags[AUTOLOG_TAG] || "", order: `tags.${quoteKey(AUTOLOG_TAG)}` },
  { id: "user", label: "User", value: (r) => r.user, order: "attributes.user_id" }, // set on every run, the tag not
];

export const EXPERIMENT_COLUMN = {
  id: "experiment",
  label: "Experiment",
  value: (r) => r.experimentId,
  order: "attributes.experiment_id",
};

/** A column for "metrics.<key>", "params.<key>" or "tags.<key>" (null when the id is not one). */
export function keyColumn(id) {
  const dot = id.indexOf(".");
  const kind = KINDS[id.slice(0, dot)];
  const key = id.slice(dot + 1);
  if (dot < 0 || !kind || !key) return null;
  const get = (r) => r[kind][key];
  return {
    id,
    kind,
    key,
    label: key,
    value: (r) => (get(r) === undefined ? "" : String(get(r))),
    text: kind === "metrics" ? (r) => formatNumber(get(r)) : (r) => (get(r) === undefined ? "" : String(get(r))),
    order: `${kind}.${quoteKey(key)}`,
    numeric: kind === "metrics",
  };
}

/** Every params/metrics/tags column id found on these runs, sorted by kind then key. */
export function availableKeys(runs) {
  const out = { metrics: new Set(), params: new Set(), tags: new Set() };
  for (const r of runs) for (const kind of Object.keys(out)) for (const k of Object.keys(r[kind])) out[kind].add(k);
  return Object.fromEntries(Object.entries(out).map(([kind, set]) => [kind, [...set].sort()]));
}

/** Columns shown when the URL names none: up to 4 metrics and 4 params found on the page. */
export function defaultColumns(runs) {
  const keys = availableKeys(runs);
  return [...keys.metrics.slice(0, 4).map((k) => `metrics.${k}`), ...keys.params.slice(0, 4).map((k) => `params.${k}`)];
}

/** Encode/decode a list of ids for one URL parameter (commas inside an id are escaped). */
export function encodeList(ids) {
  return ids.map((x) => String(x).replace(/%/g, "%25").replace(/,/g, "%2C")).join(",");
}

export function decodeList(text) {
  if (!text) return [];
  return text.split(",").map((x) => decodeURIComponent(x));
}
