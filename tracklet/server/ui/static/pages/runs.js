// The runs table of one or several experiments: #/experiments/<id,id>?filter=&sort=&cols=&sel=&open=&page=
// Sorting, filtering and paging happen on the server (page size 100, page tokens), so 10k+ runs cost one page.

import { apiGet } from "../api.js";
import { announce, errorBox, h, replace } from "../dom.js";
import { href, navigate, updateQuery } from "../router.js";
import { BASE_COLUMNS, availableKeys, decodeList, defaultColumns, encodeList, keyColumn } from "../columns.js";
import { runsTable } from "../runs-table.js";
import { columnPicker } from "../colpicker.js";
import { download, runsCsv } from "../csv.js";
import { CHILD_CAP, PAGE_SIZE, childCounts, childrenOf, pageMemo, rememberPage, searchAll, searchPage } from "../runs-query.js";

const NO_COLUMNS = "~"; // cols=~ : the user unchecked every key column

function readState(idsParam, query) {
  const sortText = query.get("sort") || "";
  const cut = sortText.lastIndexOf(":");
  const cols = query.get("cols");
  return {
    ids: idsParam.split(",").filter(Boolean),
    filter: query.get("filter") || "",
    sort: sortText ? { col: cut > 0 ? sortText.slice(0, cut) : sortText, desc: sortText.slice(cut + 1) === "desc" } : null,
    cols: cols === null ? null : cols === NO_COLUMNS ? [] : decodeList(cols),
    sel: new Set(decodeList(query.get("sel"))),
    open: new Set(decodeList(query.get("open"))),
    page: query.get("page") || "",
  };
}

/** #/ : the newest active experiment's runs. */
export async function renderHome(el) {
  const res = await apiGet("experiments/search", { max_results: 1, view_type: "ACTIVE_ONLY" });
  const exp = (res.experiments || [])[0];
  if (!exp) {
    replace(el, h("h1", { text: "No experiments" }), h("p", { text: "Create an experiment in the sidebar to start." }));
    return;
  }
  history.replaceState(null, "", href(`/experiments/${exp.experiment_id}`));
  return renderRuns(el, { params: { ids: exp.experiment_id }, query: new URLSearchParams() });
}

/** #/experiments/<ids> */
export async function renderRuns(el, { params, query }) {
  const view = new RunsView(readState(params.ids, query));
  view.root.dataset.hash = location.hash; // which URL this render shows (tests and benchmarks wait on it)
  replace(el, view.root);
  await view.load();
}

class RunsView {
  constructor(state) {
    this.state = state;
    this.runs = []; // the page, as the server sorted it
    this.children = new Map(); // parent id -> child runs (null while loading)
    this.childCounts = new Map(); // parent id -> number of children found by the page's child lookup
    this.experiments = new Map(); // id -> name
    this.nextToken = null;
    this.build();
  }

  // ------------------------------------------------------------------ skeleton
  build() {
    const s = this.state;
    this.heading = h("h1", { text: `Runs of experiment ${s.ids.join(", ")}` });
    this.filterInput = h("input", {
      id: "run-filter",
      type: "search",
      value: s.filter,
      spellcheck: "false",
      autocomplete: "off",
      placeholder: "metrics.acc > 0.9 and params.lr = '0.1'",
      "aria-describedby": "run-filter-help",
    });
    this.filterError = h("div", { id: "filter-error", class: "filter-error", hidden: true });
    const form = h(
      "form",
      { class: "filter", role: "search", onsubmit: (e) => (e.preventDefault(), this.go({ filter: this.filterInput.value.trim(), page: null })) },
      h("label", { for: "run-filter", text: "Filter runs" }),
      h("div", { class: "filter-row" }, this.filterInput, h("button", { type: "submit", text: "Apply" }), h("button", { type: "button", text: "Clear filter", onclick: () => this.go({ filter: null, page: null }) })),
      h("p", { id: "run-filter-help", class: "muted small" }, "Clauses joined by ", h("code", { text: "and" }), ": ", h("code", { text: "metrics.<key>" }), ", ", h("code", { text: "params.<key>" }), ", ", h("code", { text: "tags.<key>" }), ", ", h("code", { text: "attributes.status" }), " with = != < <= > >= LIKE ILIKE IN."),
    );
    this.compareButton = h("button", { type: "button", class: "primary", onclick: () => navigate("/compare", { runs: [...this.state.sel].join(",") }) });
    this.clearSelButton = h("button", { type: "button", text: "Clear selection", onclick: () => this.select([...this.state.sel], false) });
    this.pickerBox = h("div", { class: "picker-box" });
    this.csvScope = h("select", { id: "csv-scope", "aria-label": "Rows to download" }, h("option", { value: "page", text: "this page" }), h("option", { value: "all", text: "all matching runs" }));
    this.csvButton = h("button", { type: "button", text: "Download CSV", onclick: () => this.downloadCsv() });
    const toolbar = h("div", { class: "toolbar", role: "toolbar", "aria-label": "Runs table actions" }, this.compareButton, this.clearSelButton, this.pickerBox, h("span", { class: "csv" }, this.csvButton, " of ", this.csvScope));
    this.tableBox = h("div", { class: "table-box", "aria-live": "off" }, h("p", { class: "muted", text: "Loading runs…" }));
    this.pager = h("nav", { class: "pager", "aria-label": "Pages of runs" });
    this.root = h("section", { class: "runs-page", dataset: { state: "loading" } }, this.heading, form, this.filterError, toolbar, this.tableBox, this.pager);
    this.syncSelection();
  }

  /** Navigate to this view with some state changed (filter, sort, page): a new history entry, reloaded. */
  go(patch) {
    const s = this.state;
    const query = {
      filter: s.filter,
      sort: s.sort ? `${s.sort.col}:${s.sort.desc ? "desc" : "asc"}` : null,
      cols: this.colsParam(),
      sel: encodeList([...s.sel]),
      open: encodeList([...s.open]),
      page: s.page,
      ...patch,
    };
    navigate(`/experiments/${s.ids.join(",")}`, query);
  }

  /** Record state that needs no reload (columns, selection, expanded parents) in the URL. */
  setQuery(patch) {
    updateQuery(patch);
    this.root.dataset.hash = location.hash;
  }

  colsParam() {
    const cols = this.state.cols;
    if (cols === null) return null;
    return cols.length ? encodeList(cols) : NO_COLUMNS;
  }

  orderBy() {
    const s = this.state;
    if (!s.sort) return [];
    const col = this.column(s.sort.col);
    return col && col.order ? [`${col.order} ${s.sort.desc ? "DESC" : "ASC"}`] : [];
  }

  /** The search of this view (experiments, filter, order), for runs-query.js. */
  query(extra = {}) {
    return { ids: this.state.ids, filter: this.state.filter, orderBy: this.orderBy(), ...extra };
  }

  memoKey(token) {
    const s = this.state;
    return JSON.stringify([s.ids, s.filter, this.orderBy(), token]);
  }

  // ------------------------------------------------------------------ data
  async load() {
    const s = this.state;
    const names = Promise.all(
      s.ids.map((id) =>
        apiGet("experiments/get", { experiment_id: id }).then(
          (r) => this.experiments.set(id, r.experiment.name + (r.experiment.lifecycle_stage === "deleted" ? " (deleted)" : "")),
          (err) => {
            this.experiments.set(id, null);
            this.root.insertBefore(errorBox(err, `Experiment ${id} could not be loaded`), this.heading.nextSibling);
          },
        ),
      ),
    );
    let page;
    try {
      page = await searchPage(this.query({ pageToken: s.page }));
    } catch (err) {
      await names;
      this.renderHeading();
      this.showLoadError(err);
      return;
    }
    this.runs = page.runs;
    this.nextToken = page.nextToken;
    await names;
    this.renderHeading();
    this.renderPicker();
    this.renderTable(false); // rows first; parents get their expanders once the child lookup answers
    this.renderPager();
    await this.lookupChildren();
    for (const id of s.open) if (this.hasChildren(id) && !this.children.has(id)) this.fetchChildren(id);
    if (this.childCounts.size) this.renderTable();
    this.root.dataset.state = "ready";
  }

  /** One search finds the children of every run on the page, so parents get their expander. */
  async lookupChildren() {
    try {
      this.childCounts = await childCounts(this.state.ids, this.runs);
    } catch {
      // grouping is a convenience: without it every run is still listed
    }
  }

  async fetchChildren(id) {
    this.children.set(id, null);
    try {
      this.children.set(id, await childrenOf(this.state.ids, id, this.orderBy()));
    } catch (err) {
      this.children.delete(id);
      this.state.open.delete(id);
      this.tableBox.prepend(errorBox(err, "Could not load the child runs"));
    }
    if (this.root.isConnected && this.runs.length) this.renderTable();
  }

  hasChildren(id) {
    return this.childCounts.has(id) || (this.children.get(id) || []).length > 0;
  }

  // ------------------------------------------------------------------ rendering
  column(id) {
    if (id === "experiment") {
      return { id, label: "Experiment", value: (r) => this.experiments.get(r.experimentId) || r.experimentId, order: "attributes.experiment_id" };
    }
    return BASE_COLUMNS.find((c) => c.id === id) || keyColumn(id);
  }

  keyColumnIds() {
    return this.state.cols === null ? defaultColumns(this.runs) : this.state.cols;
  }

  columns() {
    const base = BASE_COLUMNS.slice();
    if (this.state.ids.length > 1) base.splice(2, 0, this.column("experiment"));
    return [...base, ...this.keyColumnIds().map(keyColumn).filter(Boolean)];
  }

  renderHeading() {
    const names = this.state.ids.map((id) => this.experiments.get(id) || `#${id}`);
    this.heading.textContent = names.length === 1 ? `Runs of ${names[0]}` : `Runs of ${names.length} experiments: ${names.join(", ")}`;
    document.title = `${names.join(", ")} · tracklet`;
  }

  renderPicker() {
    const keys = availableKeys(this.runs);
    for (const id of this.keyColumnIds()) {
      const col = keyColumn(id);
      if (col && !keys[col.kind].includes(col.key)) keys[col.kind].push(col.key);
    }
    replace(
      this.pickerBox,
      columnPicker(keys, this.keyColumnIds(), (cols) => {
        this.state.cols = cols;
        this.setQuery({ cols: this.colsParam() });
        this.renderTable();
      }),
    );
  }

  renderTable(ready = true) {
    const s = this.state;
    const focused = this.tableBox.contains(document.activeElement) ? document.activeElement : null;
    const pageIds = new Set(this.runs.map((r) => r.id));
    const top = this.runs.filter((r) => !(r.parentId && pageIds.has(r.parentId)));
    replace(
      this.tableBox,
      runsTable({
        columns: this.columns(),
        rows: top,
        caption: this.heading.textContent,
        emptyText: s.filter ? "No runs match this filter." : "No runs in this experiment yet.",
        childrenOf: (id) => (this.children.has(id) ? this.children.get(id) : null),
        hasChildren: (id) => this.hasChildren(id),
        childCount: (id) => this.childCounts.get(id) || 0,
        childCap: CHILD_CAP,
        open: s.open,
        selected: s.sel,
        sort: s.sort,
        onSort: (col) => this.go({ sort: `${col.id}:${s.sort && s.sort.col === col.id && !s.sort.desc ? "desc" : "asc"}`, page: null }),
        onSelect: (ids, on) => this.select(ids, on),
        onToggle: (id) => this.toggle(id),
      }),
    );
    if (ready) this.root.dataset.state = "ready";
    performance.mark("tracklet:runs-table-rendered");
    if (focused) this.refocus(focused);
  }

  /** After a re-render, put the focus back on the same control of the same row (keyboard users keep their place). */
  refocus(old) {
    const tr = old.closest("tr[data-run-id]");
    const scope = tr ? this.tableBox.querySelector(`tr[data-run-id="${CSS.escape(tr.dataset.runId)}"]`) : this.tableBox;
    const selector = old.matches(".expander") ? ".expander" : old.matches("a") ? "td.name a" : old.matches("input") ? "input" : null;
    const again = scope && selector ? scope.querySelector(selector) : null;
    if (again) again.focus();
  }

  renderPager() {
    const s = this.state;
    const here = s.page ? pageMemo(this.memoKey(s.page)) : { prev: null, start: 0 };
    const start = here ? here.start : null;
    if (this.nextToken) rememberPage(this.memoKey(this.nextToken), { prev: s.page || null, start: (start ?? 0) + PAGE_SIZE });
    const range = start === null ? `${this.runs.length} runs` : this.runs.length ? `Runs ${start + 1}–${start + this.runs.length}` : "No runs";
    replace(
      this.pager,
      h("button", { type: "button", text: "First page", disabled: !s.page, onclick: () => this.go({ page: null }) }),
      h("button", { type: "button", text: "Previous", disabled: !s.page, onclick: () => this.go({ page: (here && here.prev) || null }) }),
      h("span", { class: "range", text: range + (this.nextToken ? "" : s.page || this.runs.length ? " (last page)" : "") }),
      h("button", { type: "button", text: "Next", disabled: !this.nextToken, onclick: () => this.go({ page: this.nextToken }) }),
    );
  }

  showLoadError(err) {
    const s = this.state;
    this.root.dataset.state = "error";
    if (s.filter && err.status === 400 && /filter/i.test(err.message)) {
      this.showFilterError(err);
      replace(this.tableBox, h("p", { class: "muted", text: "No runs shown: the filter above could not be applied." }));
    } else {
      const recover = s.page || s.sort ? h("p", {}, h("a", { href: href(`/experiments/${s.ids.join(",")}`), text: "Show the first page, unsorted and unfiltered" })) : null;
      replace(this.tableBox, errorBox(err, "Could not load the runs"), recover);
    }
    replace(this.pager);
  }

  /** The server's parser message (with its position), plus the filter with the offending spot marked. */
  showFilterError(err) {
    const f = this.state.filter;
    const m = /at position (\d+)/.exec(err.message);
    this.filterInput.setAttribute("aria-invalid", "true");
    this.filterInput.setAttribute("aria-describedby", "filter-error run-filter-help");
    const parts = [h("strong", { text: "The server rejected this filter. " }), h("span", { class: "error-message", text: err.message })];
    if (m) {
      const pos = Math.min(Number(m[1]), f.length);
      const len = (/^(\w+|\S)/.exec(f.slice(pos)) || [""])[0].length; // the whole offending word
      parts.push(h("pre", { class: "filter-caret", "aria-hidden": "true" }, f.slice(0, pos), h("mark", { text: f.slice(pos, pos + len) || " " }), f.slice(pos + len)));
      this.filterInput.dataset.errorPosition = String(pos);
    }
    replace(this.filterError, ...parts);
    this.filterError.setAttribute("role", "alert");
    this.filterError.hidden = false;
  }

  // ------------------------------------------------------------------ interaction
  select(ids, on) {
    for (const id of ids) on ? this.state.sel.add(id) : this.state.sel.delete(id);
    this.setQuery({ sel: encodeList([...this.state.sel]) });
    this.syncSelection();
    announce(`${this.state.sel.size} run${this.state.sel.size === 1 ? "" : "s"} selected`);
  }

  /** Reflect the selection in place (re-rendering would lose the keyboard focus). */
  syncSelection() {
    const sel = this.state.sel;
    const n = sel.size;
    this.compareButton.textContent = `Compare ${n} selected`;
    this.compareButton.disabled = n < 2;
    this.compareButton.title = n < 2 ? "Select two or more runs to compare" : "";
    this.clearSelButton.disabled = n === 0;
    const boxes = [];
    for (const tr of this.tableBox.querySelectorAll("tr[data-run-id]")) {
      const on = sel.has(tr.dataset.runId);
      tr.classList.toggle("selected", on);
      tr.querySelector("input[type=checkbox]").checked = on;
      boxes.push(on);
    }
    const all = this.tableBox.querySelector("thead input[type=checkbox]");
    if (all) all.checked = boxes.length > 0 && boxes.every(Boolean);
  }

  toggle(id) {
    const open = this.state.open;
    if (open.has(id)) open.delete(id);
    else {
      open.add(id);
      if (!this.children.has(id)) this.fetchChildren(id);
    }
    this.setQuery({ open: encodeList([...open]) });
    this.renderTable();
  }

  async downloadCsv() {
    const s = this.state;
    const columns = this.columns();
    let runs = this.runs;
    const scope = this.csvScope.value;
    if (scope === "all") {
      this.csvButton.disabled = true;
      this.csvButton.textContent = "Preparing CSV…";
      try {
        runs = await searchAll(this.query());
      } catch (err) {
        this.tableBox.prepend(errorBox(err, "Could not download the CSV"));
        return;
      } finally {
        this.csvButton.disabled = false;
        this.csvButton.textContent = "Download CSV";
      }
    }
    download(`runs-${s.ids.join("-")}${scope === "all" ? "" : "-page"}.csv`, runsCsv(columns, runs));
    announce(`CSV of ${runs.length} runs downloaded`);
  }
}
