// Artifact previews and the safe Markdown renderer (run notes, .md artifacts).
//
// Everything here builds DOM nodes and sets text with textContent: artifact contents and notes never become
// markup in the UI's page. HTML artifacts are shown in an iframe with an empty `sandbox` (no scripts, an opaque
// origin); the server also sends every artifact with `Content-Security-Policy: sandbox`.

import { apiGet, artifactUrl } from "./api.js";
import { h } from "./dom.js";
import { loadScript } from "./chart.js";

const MAX_TEXT_BYTES = 2 * 1024 * 1024; // larger files are offered for download only
const MAX_TABLE_ROWS = 500;
const IMAGE = /\.(png|jpe?g|gif|svg|webp|bmp|ico)$/i;
const TABLE = /\.(csv|tsv)$/i;
const HTML = /\.html?$/i;
const JSON_FILE = /\.(json|jsonl)$/i;
const YAML = /\.(ya?ml)$/i;
const MARKDOWN = /\.(md|markdown)$/i;

// ------------------------------------------------------------------ Markdown (a safe subset)

const SAFE_URL = /^(https?:|mailto:|#|\/|\.\/)/i;

function inline(text) {
  // code spans first (their content is literal), then links, bold, italic
  const out = [];
  const re = /(`[^`]+`)|\[([^\]]+)\]\(([^)\s]+)\)|\*\*([^*]+)\*\*|__([^_]+)__|\*([^*\s][^*]*)\*|_([^_\s][^_]*)_/g;
  let last = 0;
  let m;
  while ((m = re.exec(text))) {
    if (m.index > last) out.push(text.slice(last, m.index));
    if (m[1]) out.push(h("code", {}, m[1].slice(1, -1)));
    else if (m[2] !== undefined) {
      const url = m[3];
      out.push(
        SAFE_URL.test(url)
          ? h("a", { href: url, rel: "noopener noreferrer nofollow", target: "_blank" }, ...inline(m[2]))
          : m[0],
      );
    } else if (m[4] !== undefined || m[5] !== undefined) out.push(h("strong", {}, ...inline(m[4] ?? m[5])));
    else out.push(h("em", {}, ...inline(m[6] ?? m[7])));
    last = re.lastIndex;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}

/** Render Markdown (headings, paragraphs, lists, quotes, fenced code, rules, inline code/bold/italic/links)
 *  into a fragment. Raw HTML in the source stays text: nothing is parsed as markup. */
export function renderMarkdown(source) {
  const frag = document.createDocumentFragment();
  const lines = String(source ?? "").replace(/\r\n?/g, "\n").split("\n");
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (/^\s*$/.test(line)) {
      i++;
      continue;
    }
    const fence = line.match(/^\s*(```|~~~)/);
    if (fence) {
      const body = [];
      i++;
      while (i < lines.length && !lines[i].trim().startsWith(fence[1])) body.push(lines[i++]);
      i++;
      frag.append(h("pre", {}, h("code", {}, body.join("\n"))));
      continue;
    }
    const heading = line.match(/^(#{1,6})\s+(.*)$/);
    if (heading) {
      frag.append(h("h" + Math.min(6, heading[1].length + 2), {}, ...inline(heading[2].replace(/\s+#+\s*$/, ""))));
      i++;
      continue;
    }
    if (/^\s*([-*_])(\s*\1){2,}\s*$/.test(line)) {
      frag.append(h("hr"));
      i++;
      continue;
    }
    if (/^\s*>/.test(line)) {
      const body = [];
      while (i < lines.length && /^\s*>/.test(lines[i])) body.push(lines[i++].replace(/^\s*>\s?/, ""));
      frag.append(h("blockquote", {}, renderMarkdown(body.join("\n"))));
      continue;
    }
    const bullet = /^\s*([-*+]|\d+[.)])\s+/;
    if (bullet.test(line)) {
      const ordered = /^\s*\d/.test(line);
      const list = h(ordered ? "ol" : "ul");
      while (i < lines.length && bullet.test(lines[i])) {
        list.append(h("li", {}, ...inline(lines[i].replace(bullet, ""))));
        i++;
      }
      frag.append(list);
      continue;
    }
    const para = [];
    while (i < lines.length && !/^\s*$/.test(lines[i]) && !/^(#{1,6}\s|\s*```|\s*~~~|\s*>)/.test(lines[i])) {
      para.push(lines[i++]);
    }
    frag.append(h("p", {}, ...inline(para.join(" "))));
  }
  return frag;
}

// ------------------------------------------------------------------ previews

/** Parse CSV/TSV text (quoted fields, doubled quotes, newlines inside quotes) into at most `limit` rows. */
export function parseDelimited(text, sep = ",", limit = MAX_TABLE_ROWS + 1) {
  const rows = [];
  let row = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length && rows.length < limit; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"' && field === "") quoted = true;
    else if (c === sep) {
      row.push(field);
      field = "";
    } else if (c === "\n" || c === "\r") {
      if (c === "\r" && text[i + 1] === "\n") i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = "";
    } else field += c;
  }
  if ((field !== "" || row.length) && rows.length < limit) rows.push([...row, field]);
  return rows;
}

function table(rows, header) {
  const t = h("table", { class: "tk-table" });
  if (header) t.append(h("thead", {}, h("tr", {}, header.map((c) => h("th", { scope: "col" }, c)))));
  t.append(h("tbody", {}, rows.map((r) => h("tr", {}, r.map((c) => h("td", {}, c))))));
  return t;
}

function schemaTable(spec) {
  // an MLmodel signature part: a JSON list of columns ({name, type}) or tensors ({name, type: tensor, tensor-spec})
  let cols;
  try {
    cols = typeof spec === "string" ? JSON.parse(spec) : spec;
  } catch {
    return h("pre", {}, String(spec));
  }
  if (!Array.isArray(cols)) return h("pre", {}, JSON.stringify(cols, null, 2));
  return table(
    cols.map((c) => {
      const tensor = c["tensor-spec"];
      const type = tensor ? `tensor ${tensor.dtype} [${(tensor.shape || []).join(", ")}]` : c.type;
      return [c.name ?? "(unnamed)", type ?? "", c.required === false ? "optional" : ""];
    }),
    ["name", "type", ""],
  );
}

/** The parsed MLmodel (a YAML object) as sections: facts, flavors, signature. */
export function renderMLmodel(meta) {
  const out = h("div", { class: "tk-mlmodel" });
  const facts = ["artifact_path", "model_uuid", "model_id", "run_id", "utc_time_created", "model_size_bytes"]
    .filter((k) => meta[k] !== undefined && meta[k] !== null)
    .map((k) => [k, String(meta[k])]);
  if (facts.length) out.append(table(facts));
  out.append(h("h4", {}, "Flavors"));
  const flavors = meta.flavors || {};
  out.append(
    table(
      Object.entries(flavors).map(([name, conf]) => [
        name,
        Object.entries(conf || {})
          .filter(([, v]) => v !== null && typeof v !== "object")
          .map(([k, v]) => `${k}: ${v}`)
          .join(", "),
      ]),
      ["flavor", "configuration"],
    ),
  );
  const sig = meta.signature;
  out.append(h("h4", {}, "Signature"));
  if (!sig) out.append(h("p", { class: "muted" }, "No signature logged."));
  else {
    for (const part of ["inputs", "outputs", "params"]) {
      if (!sig[part]) continue;
      out.append(h("h5", {}, part), schemaTable(sig[part]));
    }
  }
  if (meta.saved_input_example_info) {
    out.append(h("p", {}, "Input example: ", h("code", {}, meta.saved_input_example_info.artifact_path || "")));
  }
  return out;
}

function looksBinary(bytes) {
  const n = Math.min(bytes.length, 8192);
  for (let i = 0; i < n; i++) if (bytes[i] === 0) return true;
  return false;
}

async function fetchText(url) {
  const r = await fetch(url, { credentials: "same-origin" });
  if (!r.ok) {
    let message = r.statusText;
    try {
      message = (await r.json()).message || message;
    } catch {
      /* not JSON */
    }
    throw new Error(message);
  }
  const bytes = new Uint8Array(await r.arrayBuffer());
  if (looksBinary(bytes)) return null;
  return new TextDecoder().decode(bytes);
}

async function previewBody(runId, path, size) {
  const url = artifactUrl(runId, path);
  const name = path.split("/").pop();
  if (IMAGE.test(name)) return h("img", { src: url, alt: path, class: "tk-preview-image" });
  if (size !== undefined && size > MAX_TEXT_BYTES) {
    return h("p", { class: "muted" }, `Too large to preview (${formatBytes(size)}); download it instead.`);
  }
  const text = await fetchText(url);
  if (text === null) return h("p", { class: "muted" }, "Binary file: no preview; download it instead.");
  if (name === "MLmodel") {
    const jsyaml = await loadScript("static/vendor/js-yaml.min.js", "jsyaml");
    return renderMLmodel(jsyaml.load(text, { schema: jsyaml.JSON_SCHEMA }) || {});
  }
  if (HTML.test(name)) {
    // empty sandbox: no scripts, no same-origin access, no forms or popups
    return h("iframe", { sandbox: "", srcdoc: text, class: "tk-preview-html", title: path });
  }
  if (TABLE.test(name)) {
    const rows = parseDelimited(text, /\.tsv$/i.test(name) ? "\t" : ",");
    const more = rows.length > MAX_TABLE_ROWS;
    const wrap = h("div", { class: "tk-preview-table" }, table(rows.slice(1, MAX_TABLE_ROWS + 1), rows[0] || []));
    if (more) wrap.append(h("p", { class: "muted" }, `First ${MAX_TABLE_ROWS} rows shown.`));
    return wrap;
  }
  if (MARKDOWN.test(name)) return h("div", { class: "tk-markdown" }, renderMarkdown(text));
  if (JSON_FILE.test(name) && !/\.jsonl$/i.test(name)) {
    try {
      return h("pre", { class: "tk-preview-text" }, JSON.stringify(JSON.parse(text), null, 2));
    } catch {
      /* not valid JSON: show as text */
    }
  }
  if (YAML.test(name)) return h("pre", { class: "tk-preview-text tk-yaml" }, text);
  return h("pre", { class: "tk-preview-text" }, text);
}

export function formatBytes(n) {
  if (n === undefined || n === null) return "";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  let v = Number(n);
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i ? v.toFixed(1) : v} ${units[i]}`;
}

/** Show `path` of run `runId` in `el`: a download link, then the preview for its type. */
export async function renderPreview(el, runId, path, size) {
  const name = path.split("/").pop();
  el.replaceChildren(
    h(
      "div",
      { class: "tk-preview-head" },
      h("span", { class: "tk-preview-path" }, path),
      size !== undefined ? h("span", { class: "muted" }, formatBytes(size)) : null,
      h("a", { href: artifactUrl(runId, path), download: name, class: "tk-download" }, "Download"),
    ),
  );
  const body = h("div", { class: "tk-preview-body", dataset: { state: "loading" } }, "Loading…");
  el.append(body);
  try {
    const content = await previewBody(runId, path, size);
    body.replaceChildren(content);
    body.dataset.state = "ready";
  } catch (err) {
    body.replaceChildren(h("p", { class: "error", role: "alert" }, "Preview failed: " + (err.message || err)));
    body.dataset.state = "error";
  }
}

// ------------------------------------------------------------------ the artifact browser

/** A lazily expanded tree of run `runId`'s artifacts beside a preview pane. `selected` (a file path) is opened on
 *  the way in (its directories expanded); `onSelect(path)` hears about every file the user opens. */
export function renderArtifactBrowser(panel, runId, { selected = "", onSelect = () => {} } = {}) {
  const tree = h("ul", { class: "tk-tree", role: "tree", "aria-label": "Artifacts" });
  const preview = h("div", { class: "tk-preview" }, h("p", { class: "muted" }, "Select a file to preview it."));
  panel.append(h("div", { class: "tk-artifacts" }, h("div", { class: "tk-tree-box" }, tree), preview));
  const wanted = selected;
  const select = (item, node) => {
    for (const n of tree.querySelectorAll(".tk-selected")) n.classList.remove("tk-selected");
    node.classList.add("tk-selected");
    onSelect(item.path);
    renderPreview(preview, runId, item.path, item.file_size);
  };

  async function expand(ul, path) {
    ul.replaceChildren(h("li", { class: "muted" }, "Loading…"));
    let files;
    try {
      files = (await apiGet("artifacts/list", { run_id: runId, path: path || undefined })).files || [];
    } catch (err) {
      ul.replaceChildren(h("li", { class: "error", role: "alert" }, "Error: " + (err.message || err)));
      return;
    }
    files.sort((a, b) => b.is_dir - a.is_dir || a.path.localeCompare(b.path));
    ul.replaceChildren();
    if (!files.length) ul.append(h("li", { class: "muted" }, path ? "(empty)" : "No artifacts."));
    for (const item of files) {
      const name = item.path.split("/").pop();
      const li = h("li", { role: "treeitem", dataset: { path: item.path } });
      const label = h("button", { type: "button", class: item.is_dir ? "tk-dir" : "tk-file" }, name);
      li.append(label);
      if (item.is_dir) {
        li.setAttribute("aria-expanded", "false");
        const children = h("ul", { role: "group", hidden: true });
        li.append(children);
        let loaded = false;
        label.addEventListener("click", async () => {
          const open = li.getAttribute("aria-expanded") !== "true";
          li.setAttribute("aria-expanded", String(open));
          children.hidden = !open;
          if (open && !loaded) {
            loaded = true;
            await expand(children, item.path);
          }
        });
        if (wanted.startsWith(item.path + "/")) label.click(); // deep link: open the way to the file
      } else {
        label.append(h("span", { class: "muted tk-size" }, formatBytes(item.file_size)));
        label.addEventListener("click", () => select(item, li));
        const download = h(
          "a",
          { href: artifactUrl(runId, item.path), download: name, class: "tk-tree-download", title: "Download" },
          "⤓",
        );
        download.setAttribute("aria-label", "Download " + item.path);
        li.classList.add("tk-file-row");
        li.append(download);
        if (wanted === item.path) select(item, li);
      }
      ul.append(li);
    }
  }
  expand(tree, "");
}
