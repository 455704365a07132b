export async function renderCompare(el, ctx) { el.textContent = "TODO renderCompare"; }
