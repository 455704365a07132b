// Entry point: registers the pages and re-renders the main view on every hash change. A view that throws
// shows the error in place (never a blank page); the sidebar stays usable.
import { dispatch, route } from "./router.js";
import { errorBox, replace } from "./dom.js";
import { renderSidebar } from "./pages/experiments.js";
import { renderHome, renderRuns } from "./pages/runs.js";

// the run and compare pages (and the charts and previews they import) load when first shown: the first load
// of the runs table carries only what it needs
const lazy = (module, name) => async (el, ctx) => (await import(module))[name](el, ctx);

route("/", renderHome);
route("/experiments/:ids", renderRuns);
route("/runs/:runId", lazy("./pages/run.js", "renderRun"));
route("/compare", lazy("./pages/compare.js", "renderCompare"));

const main = document.getElementById("main");
const sidebar = document.getElementById("sidebar");

async function show() {
  // a re-render (e.g. a filter applied with Enter) gives the focus back to the control that had it
  const focusedId = main.contains(document.activeElement) ? document.activeElement.id : "";
  // each navigation renders into its own container: a slower earlier view that finishes late writes into a
  // container no longer on the page instead of over the current one
  const view = document.createElement("div");
  view.className = "view";
  main.replaceChildren(view);
  try {
    await dispatch(view);
  } catch (err) {
    replace(view, errorBox(err, "This page could not be shown"));
  }
  if (!view.isConnected) return; // a newer navigation took over
  if (focusedId) {
    const again = document.getElementById(focusedId);
    if (again) again.focus();
  }
  window.dispatchEvent(new Event("tracklet:route"));
}

// the skip link moves the focus without touching the hash (the hash is the router's)
document.getElementById("skip-link").addEventListener("click", (e) => {
  e.preventDefault();
  main.focus();
});

window.addEventListener("hashchange", show);
renderSidebar(sidebar).catch((err) => replace(sidebar, errorBox(err, "Could not load the experiments")));
show();
