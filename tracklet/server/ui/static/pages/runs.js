export async function renderHome(el, ctx) { el.textContent = "TODO renderHome"; }
export async function renderRuns(el, ctx) { el.textContent = "TODO renderRuns"; }
