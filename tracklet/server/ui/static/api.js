// The UI's only door to the server: JSON over the MLflow-compatible REST API.
// apiGet/apiPost resolve to the parsed JSON body or throw an ApiError carrying the server's error_code and message.

const PREFIX = "ajax-api/2.0/mlflow/";

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** fetch, with a network failure (server down, connection refused) as an ApiError the pages can show. */
async function send(url, init) {
  try {
    return await fetch(url, init);
  } catch (err) {
    throw new ApiError(0, "NETWORK_ERROR", `The tracking server could not be reached (${err.message}).`);
  }
}

async function handle(response) {
  const text = await response.text();
  let body = {};
  try {
    body = text ? JSON.parse(text) : {};
  } catch {
    body = { message: text };
  }
  if (!response.ok) {
    throw new ApiError(response.status, body.error_code || "HTTP_" + response.status, body.message || response.statusText);
  }
  return body;
}

/** GET <endpoint> (e.g. "runs/get") with query params (arrays repeat the key). */
export async function apiGet(endpoint, params = {}) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null) continue;
    for (const item of Array.isArray(v) ? v : [v]) q.append(k, String(item));
  }
  const qs = q.toString();
  return handle(await send(PREFIX + endpoint + (qs ? "?" + qs : ""), { credentials: "same-origin" }));
}

/** POST <endpoint> with a JSON body. */
export async function apiPost(endpoint, body = {}) {
  return handle(
    await send(PREFIX + endpoint, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    }),
  );
}

/** URL of a run artifact through the server (download/preview). */
export function artifactUrl(runId, path) {
  return "get-artifact?" + new URLSearchParams({ run_id: runId, path }).toString();
}
