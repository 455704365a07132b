// Entry point: registers the pages and re-renders on every hash change.
import { dispatch, route } from "./router.js";
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
  try {
    await dispatch(main);
  } catch (err) {
    main.innerHTML = "";
    const p = document.createElement("p");
    p.className = "error";
    p.setAttribute("role", "alert");
    p.textContent = "Error: " + (err.message || err);
    main.appendChild(p);
  }
}

window.addEventListener("hashchange", show);
renderSidebar(sidebar);
show();
