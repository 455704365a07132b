// Hash routing: every view's state lives in the URL (#/<route>?<params>), so any view is a deep link.
//   #/                               experiments home (first experiment's runs)
//   #/experiments/<id[,id...]>?filter=&sort=&cols=&sel=&page=   runs table
//   #/runs/<run_id>?tab=&metric=&x=&range=                        run page
//   #/compare?runs=<id,id...>&metric=&range=                      compare page

const routes = [];

/** Register a page: pattern like "/runs/:runId"; render(el, {params: {...}, query: URLSearchParams}). */
export function route(pattern, render) {
  const names = [];
  const re = new RegExp(
    "^" + pattern.replace(/:([A-Za-z]+)/g, (_, n) => (names.push(n), "([^/]+)")) + "/?$",
  );
  routes.push({ re, names, render });
}

export function current() {
  const raw = location.hash.replace(/^#/, "") || "/";
  const [path, qs = ""] = raw.split("?");
  return { path, query: new URLSearchParams(qs) };
}

/** Build a hash link. */
export function href(path, query = {}) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== "") q.set(k, v);
  const qs = q.toString();
  return "#" + path + (qs ? "?" + qs : "");
}

/** Go to a view (a new history entry); going to the view already shown re-renders it (e.g. re-apply a filter). */
export function navigate(path, query = {}) {
  const target = href(path, query);
  if (target === location.hash || (target === "#/" && !location.hash)) refresh();
  else location.hash = target.slice(1);
}

/** Re-render the current view (as if the hash had changed). */
export function refresh() {
  window.dispatchEvent(new HashChangeEvent("hashchange"));
}

/** Change some query params of the current view; replace=true keeps history clean (typing, zooming). */
export function updateQuery(patch, { replace = true } = {}) {
  const { path, query } = current();
  for (const [k, v] of Object.entries(patch)) {
    if (v === undefined || v === null || v === "") query.delete(k);
    else query.set(k, v);
  }
  const qs = query.toString();
  const url = "#" + path + (qs ? "?" + qs : "");
  if (replace) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
}

export function dispatch(main) {
  const { path, query } = current();
  for (const r of routes) {
    const m = path.match(r.re);
    if (m) {
      const params = {};
      r.names.forEach((n, i) => (params[n] = decodeURIComponent(m[i + 1])));
      return r.render(main, { params, query });
    }
  }
  main.textContent = "Page not found: " + path;
}
