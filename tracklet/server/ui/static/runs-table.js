// The runs table element: sortable headers, selection checkboxes, parents with expandable child rows.
// Pure rendering: the runs page owns the state and passes callbacks.

import { h } from "./dom.js";
import { href } from "./router.js";

function sortState(sort, col) {
  if (!sort || sort.col !== col.id) return "none";
  return sort.desc ? "descending" : "ascending";
}

function header(col, sort, onSort) {
  const state = sortState(sort, col);
  const th = h("th", { scope: "col", class: col.numeric ? "num" : null, "aria-sort": state === "none" ? null : state });
  const label = col.kind ? h("span", {}, h("span", { class: "kind", text: col.kind.slice(0, -1) + " " }), col.label) : col.label;
  if (!col.order) {
    th.append(label);
    return th;
  }
  const arrow = state === "ascending" ? "▲" : state === "descending" ? "▼" : "";
  th.append(
    h(
      "button",
      { type: "button", class: "sort", dataset: { col: col.id }, onclick: () => onSort(col) },
      label,
      h("span", { class: "arrow", "aria-hidden": "true", text: arrow }),
    ),
  );
  return th;
}

function nameCell(run, m) {
  const td = h("td", { class: "name" });
  if (m.depth) td.style.paddingLeft = `${8 + 20 * (m.depth + 1)}px`; // past the parent's expander
  if (m.hasChildren(run.id)) {
    const open = m.open.has(run.id);
    td.append(
      h("button", {
        type: "button",
        class: "expander",
        "aria-expanded": String(open),
        "aria-label": `${open ? "Collapse" : "Expand"} child runs of ${run.name || run.id}`,
        text: open ? "▾" : "▸",
        onclick: () => m.onToggle(run.id),
      }),
    );
  } else if (!m.depth && m.anyParents) {
    td.append(h("span", { class: "expander-space", "aria-hidden": "true" }));
  }
  td.append(h("a", { href: href("/runs/" + run.id), text: run.name || run.id }));
  const count = m.childCount(run.id);
  if (count) td.append(h("span", { class: "muted small", text: ` (${count}${count >= m.childCap ? "+" : ""} child runs)` }));
  if (run.parentId && !m.depth) {
    td.append(h("span", { class: "muted small" }, " child of ", h("a", { href: href("/runs/" + run.parentId), text: run.parentId.slice(0, 8) })));
  }
  return td;
}

function row(run, columns, m) {
  const checked = m.selected.has(run.id);
  const tr = h("tr", { dataset: { runId: run.id }, class: [m.depth ? "child" : "", checked ? "selected" : ""].join(" ").trim() || null });
  tr.append(
    h(
      "td",
      { class: "check" },
      h("input", {
        type: "checkbox",
        checked,
        "aria-label": `Select run ${run.name || run.id}`,
        onchange: (e) => m.onSelect([run.id], e.target.checked),
      }),
    ),
  );
  for (const col of columns) {
    if (col.id === "name") {
      tr.append(nameCell(run, m));
      continue;
    }
    const text = col.text ? col.text(run) : col.value(run);
    const td = h("td", { class: col.numeric ? "num" : null, title: col.numeric ? col.value(run) : null });
    if (col.id === "status") td.append(h("span", { class: `status status-${String(run.status).toLowerCase()}`, text }));
    else td.textContent = text;
    tr.append(td);
  }
  return tr;
}

/** Build the table. model: {columns, rows (top-level runs), childrenOf(id) -> runs|null, hasChildren(id),
 * childCount(id), childCap, open (Set), selected (Set), sort {col, desc}, onSort(col), onSelect(ids, on),
 * onToggle(id), loadingChildren (Set)}. */
export function runsTable(model) {
  const { columns, rows } = model;
  model = { ...model, anyParents: rows.some((r) => model.hasChildren(r.id)) };
  const visible = [];
  const body = h("tbody");
  for (const run of rows) {
    visible.push(run.id);
    body.append(row(run, columns, { ...model, depth: 0 }));
    if (!model.open.has(run.id)) continue;
    const children = model.childrenOf(run.id);
    if (children === null) {
      body.append(h("tr", { class: "loading" }, h("td", { colspan: columns.length + 1, class: "muted", text: "Loading child runs…" })));
      continue;
    }
    for (const child of children) {
      visible.push(child.id);
      body.append(row(child, columns, { ...model, depth: 1 }));
    }
  }
  if (!rows.length) {
    body.append(h("tr", {}, h("td", { colspan: columns.length + 1, class: "empty muted", text: model.emptyText || "No runs." })));
  }
  const allChecked = visible.length > 0 && visible.every((id) => model.selected.has(id));
  const head = h(
    "tr",
    {},
    h(
      "th",
      { scope: "col", class: "check" },
      h("input", {
        type: "checkbox",
        checked: allChecked,
        disabled: !visible.length,
        "aria-label": "Select all runs shown",
        onchange: (e) => model.onSelect(visible, e.target.checked),
      }),
    ),
    columns.map((c) => header(c, model.sort, model.onSort)),
  );
  return h(
    "div",
    { class: "table-wrap" },
    h("table", { class: "runs-table" }, h("caption", { class: "sr-only", text: model.caption || "Runs" }), h("thead", {}, head), body),
  );
}
