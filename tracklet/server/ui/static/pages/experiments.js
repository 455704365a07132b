export async function renderSidebar(el, ctx) { el.textContent = "TODO renderSidebar"; }
