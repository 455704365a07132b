// The column picker: a disclosure listing every metric/param/tag key found, each a checkbox.

import { h } from "./dom.js";

const GROUPS = [
  ["metrics", "Metrics"],
  ["params", "Parameters"],
  ["tags", "Tags"],
];

/** keys: {metrics: [...], params: [...], tags: [...]}; chosen: column ids ("metrics.acc"); onChange(ids). */
export function columnPicker(keys, chosen, onChange) {
  let current = [...chosen];
  const summary = h("summary", { text: `Columns (${current.length} chosen)` });
  const details = h("details", { class: "col-picker" }, summary);
  const panel = h("div", { class: "col-panel" });
  const find = h("input", { type: "search", id: "col-find", placeholder: "Find a key", "aria-label": "Find a column key" });
  panel.append(find);
  const boxes = [];
  for (const [kind, title] of GROUPS) {
    const list = keys[kind] || [];
    const fs = h("fieldset", {}, h("legend", { text: `${title} (${list.length})` }));
    if (!list.length) fs.append(h("p", { class: "muted small", text: "none on this page" }));
    for (const key of list) {
      const id = `${kind}.${key}`;
      const box = h("input", {
        type: "checkbox",
        checked: current.includes(id),
        value: id,
        onchange: (e) => {
          // keep the order of the choice so far, a new column goes at the end
          current = e.target.checked ? [...current.filter((c) => c !== id), id] : current.filter((c) => c !== id);
          summary.textContent = `Columns (${current.length} chosen)`;
          onChange(current);
        },
      });
      const label = h("label", { class: "col-option", dataset: { key: key.toLowerCase() } }, box, " ", key);
      boxes.push(label);
      fs.append(label);
    }
    panel.append(fs);
  }
  find.addEventListener("input", () => {
    const q = find.value.trim().toLowerCase();
    for (const label of boxes) label.hidden = q !== "" && !label.dataset.key.includes(q);
  });
  details.append(panel);
  return details;
}
