// The experiments sidebar: search, create, rename, delete/restore; a link opens one experiment's runs and the
// checkboxes put several experiments in one runs table (#/experiments/<id,id>).

import { apiGet, apiPost } from "../api.js";
import { append, debounce, errorBox, h, replace } from "../dom.js";
import { current, navigate, refresh } from "../router.js";
import { quoteValue } from "../columns.js";

const MAX_LISTED = 1000;

/** The experiment ids of the runs table being shown (empty on other pages). */
function shownIds() {
  const m = current().path.match(/^\/experiments\/([^/]+)/);
  return m ? decodeURIComponent(m[1]).split(",").filter(Boolean) : [];
}

/** Open the runs table of these experiments, keeping the filter, sort and columns of the current one. */
function openExperiments(ids) {
  const { path, query } = current();
  const keep = {};
  if (path.startsWith("/experiments/")) for (const k of ["filter", "sort", "cols"]) keep[k] = query.get(k);
  if (ids.length) navigate(`/experiments/${ids.join(",")}`, keep);
  else navigate("/");
}

export async function renderSidebar(el) {
  const sidebar = new Sidebar(el);
  window.addEventListener("hashchange", () => sidebar.syncShown());
  window.addEventListener("tracklet:route", () => sidebar.syncShown());
  await sidebar.load();
}

class Sidebar {
  constructor(el) {
    this.el = el;
    this.experiments = [];
    this.search = h("input", { id: "exp-search", type: "search", placeholder: "Search experiments", autocomplete: "off" });
    this.search.addEventListener("input", debounce(() => this.load(), 200));
    this.showDeleted = h("input", { id: "exp-show-deleted", type: "checkbox", onchange: () => this.load() });
    this.createName = h("input", { id: "exp-new-name", required: true, autocomplete: "off" });
    this.createError = h("div", { class: "form-error", hidden: true });
    this.createForm = h(
      "form",
      { class: "exp-create", hidden: true, onsubmit: (e) => (e.preventDefault(), this.create()) },
      h("label", { for: "exp-new-name", text: "New experiment name" }),
      this.createName,
      this.createError,
      h("div", { class: "row" }, h("button", { type: "submit", class: "primary", text: "Create" }), h("button", { type: "button", text: "Cancel", onclick: () => this.toggleCreate(false) })),
    );
    this.newButton = h("button", { type: "button", class: "small", "aria-expanded": "false", "aria-controls": "exp-create", text: "New", onclick: () => this.toggleCreate(this.createForm.hidden) });
    this.createForm.id = "exp-create";
    this.status = h("div", { class: "exp-status", role: "status" });
    this.list = h("ul", { class: "exp-list", "aria-labelledby": "exp-title" });
    replace(
      el,
      h("div", { class: "exp-head" }, h("h2", { id: "exp-title", text: "Experiments" }), this.newButton),
      this.createForm,
      h("label", { for: "exp-search", class: "sr-only", text: "Search experiments" }),
      this.search,
      h("label", { class: "check-label" }, this.showDeleted, " Show deleted"),
      this.status,
      this.list,
    );
  }

  async load() {
    const q = this.search.value.trim();
    try {
      const res = await apiGet("experiments/search", {
        max_results: MAX_LISTED,
        view_type: this.showDeleted.checked ? "ALL" : "ACTIVE_ONLY",
        filter: q ? `name ILIKE ${quoteValue(`%${q}%`)}` : undefined,
        order_by: "name ASC",
      });
      this.experiments = res.experiments || [];
      this.more = Boolean(res.next_page_token);
      this.render();
    } catch (err) {
      replace(this.list, h("li", {}, errorBox(err, "Could not list the experiments"), h("button", { type: "button", text: "Retry", onclick: () => this.load() })));
    }
  }

  render() {
    const shown = new Set(shownIds());
    const items = this.experiments.map((e) => this.item(e, shown.has(e.experiment_id)));
    if (!items.length) items.push(h("li", { class: "muted", text: this.search.value.trim() ? "No experiment matches." : "No experiments." }));
    if (this.more) items.push(h("li", { class: "muted small", text: `Showing the first ${MAX_LISTED}: search to narrow.` }));
    replace(this.list, items);
  }

  item(exp, isShown) {
    const id = exp.experiment_id;
    const deleted = exp.lifecycle_stage === "deleted";
    const name = exp.name;
    const li = h("li", { class: "exp" + (isShown ? " current" : "") + (deleted ? " deleted" : ""), dataset: { experimentId: id } });
    append(li, [
      h("input", {
        type: "checkbox",
        checked: isShown,
        disabled: deleted,
        "aria-label": `Show runs of ${name}`,
        onchange: (e) => {
          const ids = shownIds().filter((x) => x !== id);
          openExperiments(e.target.checked ? [...ids, id] : ids);
        },
      }),
      h("a", { href: `#/experiments/${id}`, class: "exp-name", "aria-current": isShown ? "page" : null, text: name }),
      deleted ? h("span", { class: "badge", text: "deleted" }) : null,
      h(
        "span",
        { class: "exp-actions" },
        deleted
          ? h("button", { type: "button", class: "link", text: "Restore", "aria-label": `Restore ${name}`, onclick: () => this.restore(exp) })
          : [
              h("button", { type: "button", class: "link", text: "Rename", "aria-label": `Rename ${name}`, onclick: () => this.startRename(li, exp) }),
              h("button", { type: "button", class: "link", text: "Delete", "aria-label": `Delete ${name}`, onclick: () => this.remove(exp) }),
            ],
      ),
    ]);
    return li;
  }

  /** Mark the experiments of the runs table shown, without reloading the list. */
  syncShown() {
    const shown = new Set(shownIds());
    for (const li of this.list.querySelectorAll("li.exp")) {
      const on = shown.has(li.dataset.experimentId);
      li.classList.toggle("current", on);
      li.querySelector("input[type=checkbox]").checked = on;
      const link = li.querySelector("a.exp-name");
      if (on) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    }
  }

  toggleCreate(open) {
    this.createForm.hidden = !open;
    this.newButton.setAttribute("aria-expanded", String(open));
    this.createError.hidden = true;
    if (open) this.createName.focus();
    else this.newButton.focus();
  }

  async create() {
    const name = this.createName.value.trim();
    if (!name) return;
    try {
      const res = await apiPost("experiments/create", { name });
      this.createName.value = "";
      this.toggleCreate(false);
      await this.load();
      this.say(`Created “${name}”.`);
      navigate(`/experiments/${res.experiment_id}`);
    } catch (err) {
      replace(this.createError, err.message);
      this.createError.setAttribute("role", "alert");
      this.createError.hidden = false;
      this.createName.setAttribute("aria-invalid", "true");
    }
  }

  startRename(li, exp) {
    const input = h("input", { value: exp.name, "aria-label": `New name for ${exp.name}`, class: "rename" });
    const error = h("div", { class: "form-error", role: "alert", hidden: true });
    const form = h(
      "form",
      {
        class: "exp-rename",
        onsubmit: async (e) => {
          e.preventDefault();
          const name = input.value.trim();
          if (!name || name === exp.name) return this.render();
          try {
            await apiPost("experiments/update", { experiment_id: exp.experiment_id, new_name: name });
            await this.load();
            this.say(`Renamed “${exp.name}” to “${name}”.`);
            if (shownIds().includes(exp.experiment_id)) refresh();
            this.focusItem(exp.experiment_id);
          } catch (err) {
            replace(error, err.message);
            error.hidden = false;
          }
        },
      },
      input,
      h("button", { type: "submit", class: "small", text: "Save" }),
      h("button", { type: "button", class: "small", text: "Cancel", onclick: () => (this.render(), this.focusItem(exp.experiment_id)) }),
      error,
    );
    input.addEventListener("keydown", (e) => {
      if (e.key === "Escape") {
        this.render();
        this.focusItem(exp.experiment_id);
      }
    });
    replace(li, form);
    input.focus();
    input.select();
  }

  async remove(exp) {
    try {
      await apiPost("experiments/delete", { experiment_id: exp.experiment_id });
      await this.load();
      this.say(`Deleted “${exp.name}”.`, h("button", { type: "button", class: "link", text: "Undo", onclick: () => this.restore(exp) }));
    } catch (err) {
      replace(this.status, errorBox(err, `Could not delete “${exp.name}”`));
    }
  }

  async restore(exp) {
    try {
      await apiPost("experiments/restore", { experiment_id: exp.experiment_id });
      await this.load();
      this.say(`Restored “${exp.name}”.`);
    } catch (err) {
      replace(this.status, errorBox(err, `Could not restore “${exp.name}”`));
    }
  }

  focusItem(id) {
    const link = this.list.querySelector(`li[data-experiment-id="${CSS.escape(id)}"] a`);
    if (link) link.focus();
  }

  say(text, ...extra) {
    replace(this.status, h("span", { text }), " ", ...extra); // a role=status region: read out by screen readers
  }
}
