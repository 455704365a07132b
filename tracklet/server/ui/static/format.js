// Formatting of run values for display and CSV: times, durations, numbers, statuses.

const pad = (n) => String(n).padStart(2, "0");

/** Local date-time "YYYY-MM-DD HH:MM:SS" of epoch milliseconds ("" when absent). */
export function formatTime(ms) {
  if (ms === undefined || ms === null || ms === "") return "";
  const d = new Date(Number(ms));
  if (Number.isNaN(d.getTime())) return "";
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
  );
}

/** Run duration in milliseconds: end - start, or now - start while it runs; null when unknown. */
export function durationMs(start, end, status) {
  if (!start) return null;
  if (end) return Math.max(0, Number(end) - Number(start));
  if (status === "RUNNING") return Math.max(0, Date.now() - Number(start));
  return null;
}

/** "850ms", "12.3s", "4m 05s", "2h 07m", "3d 04h". */
export function formatDuration(ms) {
  if (ms === null || ms === undefined) return "";
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${pad(Math.floor(s % 60))}s`;
  const hrs = Math.floor(m / 60);
  if (hrs < 24) return `${hrs}h ${pad(m % 60)}m`;
  return `${Math.floor(hrs / 24)}d ${pad(hrs % 24)}h`;
}

/** A metric value for a table cell: at most 6 significant digits, full value kept for CSV/tooltips. */
export function formatNumber(v) {
  if (v === undefined || v === null || v === "") return "";
  const n = typeof v === "number" ? v : Number(v);
  if (!Number.isFinite(n)) return String(v); // NaN / Infinity arrive as strings on the wire
  if (Number.isInteger(n)) return String(n);
  return String(Number(n.toPrecision(6)));
}

/** Human status label; the CSS class is status-<lowercase>. */
export function statusLabel(status) {
  const s = String(status || "").toUpperCase();
  return { FINISHED: "Finished", RUNNING: "Running", FAILED: "Failed", KILLED: "Killed", SCHEDULED: "Scheduled" }[s] || s;
}
