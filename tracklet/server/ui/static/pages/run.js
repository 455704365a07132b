export async function renderRun(el, ctx) { el.textContent = "TODO renderRun"; }
