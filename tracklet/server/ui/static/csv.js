// CSV of the runs table, built in the browser (a Blob) from the visible columns.

function cell(v) {
  const s = v === undefined || v === null ? "" : String(v);
  return /[",\r\n]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
}

/** RFC 4180 CSV: a header of column labels (plus run_id first), then one line per run. */
export function runsCsv(columns, runs) {
  const header = ["run_id", ...columns.map((c) => (c.kind ? `${c.kind}.${c.key}` : c.label))];
  const lines = [header.map(cell).join(",")];
  for (const r of runs) lines.push([r.id, ...columns.map((c) => c.value(r))].map(cell).join(","));
  return lines.join("\r\n") + "\r\n";
}

/** Offer text as a file download. */
export function download(filename, text, type = "text/csv") {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
