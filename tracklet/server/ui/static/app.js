// Entry point: registers the pages and re-renders the main view on every hash change. A view that throws
// shows the error in place (never a blank page); the sidebar stays usable.
import { dispatch, route } from "./router.js";
import { errorBox, replace } from "./dom.js";
import { renderSidebar } from "./pages/experiments.js";
import { renderHome, renderRuns } from "./pages/runs.js";
import { renderRun } from "./pages/run.js";
import { renderCompare } from "./pages/compare.js";

route("/", renderHome);
route("/experiments/:ids", renderRuns);
route("/runs/:runId", renderRun);
route("/compare", renderCompare);

const main = document.getElementById("main");
const sidebar = document.getElementById("sidebar");

async function show() {
  // a re-render (e.g. a filter applied with Enter) gives the focus back to the control that had it
  const focusedId = main.contains(document.activeElement) ? document.activeElement.id : "";
  try {
    await dispatch(main);
  } catch (err) {
    replace(main, errorBox(err, "This page could not be shown"));
  }
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
