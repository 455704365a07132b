// Runs from the server for the runs table: one page, every page (CSV, a parent's children), the children of a
// page's runs, and the page-token memo behind "Previous" (the server's tokens only go forward).

import { apiPost } from "./api.js";
import { PARENT_TAG, flattenRun, quoteKey, quoteValue } from "./columns.js";

export const PAGE_SIZE = 100;
export const CHILD_CAP = 1000; // children looked up per page (one search); expanding a parent fetches all of its own
const BATCH = 1000; // runs per request when fetching every page
const PARENT = `tags.${quoteKey(PARENT_TAG)}`;
const MEMO = "tracklet.runs.pages"; // sessionStorage: page key -> {prev, start}, for "Previous" and "Runs 101–200"

/** One page: {runs (flattened), nextToken}. query: {ids, filter, orderBy, pageToken}. */
export async function searchPage({ ids, filter, orderBy, pageToken }, maxResults = PAGE_SIZE) {
  const res = await apiPost("runs/search", {
    experiment_ids: ids,
    filter: filter || undefined,
    max_results: maxResults,
    order_by: orderBy || [],
    page_token: pageToken || undefined,
  });
  return { runs: (res.runs || []).map(flattenRun), nextToken: res.next_page_token || null };
}

/** Every run matching the query, fetched BATCH at a time. */
export async function searchAll(query) {
  const out = [];
  let pageToken = null;
  do {
    const page = await searchPage({ ...query, pageToken }, BATCH);
    out.push(...page.runs);
    pageToken = page.nextToken;
  } while (pageToken);
  return out;
}

/** parent id -> number of children, for the runs given, in one search (up to CHILD_CAP children in all). */
export async function childCounts(ids, runs) {
  const counts = new Map();
  if (!runs.length) return counts;
  const filter = `${PARENT} IN (${runs.map((r) => quoteValue(r.id)).join(", ")})`;
  const page = await searchPage({ ids, filter }, CHILD_CAP);
  for (const r of page.runs) counts.set(r.parentId, (counts.get(r.parentId) || 0) + 1);
  return counts;
}

/** All children of a parent, by the search `tags.mlflow.parentRunId = '<id>'`. */
export function childrenOf(ids, parentId, orderBy) {
  return searchAll({ ids, filter: `${PARENT} = ${quoteValue(parentId)}`, orderBy });
}

/** Remembered facts about a page token ({prev, start}) under a key naming the query too. */
export function pageMemo(key) {
  try {
    return JSON.parse(sessionStorage.getItem(MEMO) || "{}")[key] || null;
  } catch {
    return null;
  }
}

export function rememberPage(key, value) {
  try {
    const all = JSON.parse(sessionStorage.getItem(MEMO) || "{}");
    all[key] = value;
    sessionStorage.setItem(MEMO, JSON.stringify(all));
  } catch {
    // storage full or disabled: "Previous" then falls back to the first page
  }
}
