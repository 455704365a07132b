// Small DOM helpers shared by the pages: build elements, show errors, announce changes to screen readers.

/** h("a", {href, class, text, onclick, ...}, ...children): create an element.
 * Props: "class", "text" (textContent), "on<event>" functions, "dataset" (object); booleans and non-string
 * values set the DOM property (checked, disabled, hidden), strings set the attribute. Children may be
 * strings, nodes, arrays, or null/undefined/false (skipped). */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v === undefined || v === null) continue;
    if (k === "class") el.className = v;
    else if (k === "text") el.textContent = v;
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (typeof v === "boolean") {
      if (k in el) el[k] = v;
      else if (v) el.setAttribute(k, "");
    } else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

/** Append children (strings, nodes, nested arrays; null/false skipped). */
export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** Replace all children of el. */
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

/** An alert box for an error (ApiError or any Error): what failed, the server's message and code. */
export function errorBox(err, what = "Something went wrong") {
  const code = err && err.code ? ` (${err.code})` : "";
  return h(
    "div",
    { class: "error-box", role: "alert" },
    h("strong", { text: what }),
    h("p", { class: "error-message", text: ((err && err.message) || String(err)) + code }),
  );
}

let liveRegion = null;

/** Say something to screen-reader users (polite live region), e.g. "3 runs selected". */
export function announce(message) {
  if (!liveRegion) {
    liveRegion = h("div", { class: "sr-only", role: "status", "aria-live": "polite" });
    document.body.appendChild(liveRegion);
  }
  liveRegion.textContent = "";
  // a fresh text node after a tick makes repeated identical messages be announced again
  setTimeout(() => (liveRegion.textContent = message), 30);
}

/** Debounce fn by ms (for typing in search boxes). */
export function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}
