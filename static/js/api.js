// The HTTP and websocket client for the Strategy Lab API; the one place that builds URLs and
// turns error responses into readable messages.
//
// The session never passes through this code: the server keeps it in an HttpOnly cookie (set
// at sign-in on /login), and the browser sends that cookie with every same-origin request and
// websocket handshake. Every state-changing request carries the session's CSRF token in the
// X-CSRF-Token header, read from the `strategylab_csrf` cookie (SameSite=Strict, readable by
// this origin's scripts only); on loopback without accounts there is none and none is needed.
// Nothing is stored in sessionStorage or localStorage, and no URL built here carries a secret.

const CSRF_COOKIE = "strategylab_csrf";
const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/** The session's CSRF token, or "" when there is none (loopback without accounts). */
export function csrfToken() {
  for (const part of document.cookie.split(";")) {
    const [name, ...value] = part.trim().split("=");
    if (name === CSRF_COOKIE) return decodeURIComponent(value.join("="));
  }
  return "";
}

// Set once the user asks to sign out: the sign-out control then sends the browser to /login
// itself, and a request still in flight that comes back 401 must not race it there with a
// `next` back to this page.
let signingOut = false;

/** Send the browser to the sign-in page, to come back to this page afterwards. */
export function goToSignIn() {
  if (signingOut) return;
  const here = window.location.pathname + window.location.search;
  window.location.assign(`/login?next=${encodeURIComponent(here)}`);
}

export function apiUrl(path, query = {}) {
  const url = new URL(path, window.location.origin);
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(key, value);
  }
  return url.toString();
}

export function runSocketUrl(runId) {
  const url = new URL(apiUrl(`/ws/runs/${encodeURIComponent(runId)}`));
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  return url.toString();
}

/** An API refusal or failure, with the server's message in words. */
export class ApiError extends Error {
  constructor(status, message, body) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.body = body;
  }
}

function describeDetail(detail) {
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) {
    return detail
      .map((item) => {
        const where = Array.isArray(item.loc) ? item.loc.filter((p) => p !== "body").join(".") : "";
        // pydantic prefixes a validator's own sentence with "Value error, ": drop it.
        const message = String(item.msg ?? "").replace(/^(Value|Assertion) error, /, "");
        return where ? `${where}: ${message}` : message || JSON.stringify(item);
      })
      .join("; ");
  }
  if (detail && typeof detail === "object") return detail.message || JSON.stringify(detail);
  return "";
}

export async function request(method, path, { json, form, query } = {}) {
  const init = { method, headers: { Accept: "application/json" }, credentials: "same-origin" };
  const csrf = SAFE_METHODS.has(method.toUpperCase()) ? "" : csrfToken();
  if (csrf) init.headers["X-CSRF-Token"] = csrf;
  if (json !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(json);
  } else if (form !== undefined) {
    init.body = form;
  }
  let response;
  try {
    response = await fetch(apiUrl(path, query), init);
  } catch (error) {
    throw new ApiError(0, `The server can't be reached (${error.message}).`, null);
  }
  const text = await response.text();
  let body = null;
  if (text) {
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
  }
  if (response.status === 401 && !path.startsWith("/api/auth/login")) {
    goToSignIn(); // the session ended (signed out elsewhere, expired, or revoked)
    throw new ApiError(response.status, `Signed out: sign in again (HTTP ${response.status})`, body);
  }
  if (!response.ok) {
    const detail = body && typeof body === "object" ? describeDetail(body.detail ?? body) : "";
    const message = detail || (typeof body === "string" && body) || response.statusText;
    throw new ApiError(response.status, `${message} (HTTP ${response.status})`, body);
  }
  return body;
}

const run = (id) => `/api/runs/${encodeURIComponent(id)}`;
const strategy = (id) => `/api/strategies/${encodeURIComponent(id)}`;

export const api = {
  health: () => request("GET", "/api/health"),
  examples: () => request("GET", "/api/examples"),
  datasets: () => request("GET", "/api/datasets"),
  tiers: () => request("GET", "/api/tiers"),
  validate: (code) => request("POST", "/api/validate", { json: { code } }),

  listStrategies: () => request("GET", "/api/strategies"),
  getStrategy: (id, version = null) => request("GET", strategy(id), { query: { version } }),
  createStrategy: (body) => request("POST", "/api/strategies", { json: body }),
  updateStrategy: (id, body) => request("PUT", strategy(id), { json: body }),
  deleteStrategy: (id) => request("DELETE", strategy(id)),
  uploadStrategy: (file) => {
    const form = new FormData();
    form.append("file", file, file.name);
    return request("POST", "/api/strategies/upload", { form });
  },

  createRun: (body) => request("POST", "/api/runs", { json: body }),
  listRuns: () => request("GET", "/api/runs"),
  getRun: (id) => request("GET", run(id)),
  runTrades: (id) => request("GET", `${run(id)}/trades`),
  runOrders: (id) => request("GET", `${run(id)}/orders`),
  runEquity: (id, maxPoints = null) => request("GET", `${run(id)}/equity`, { query: { max_points: maxPoints } }),
  runLogs: (id) => request("GET", `${run(id)}/logs`),
  // `symbol`: one of a run over several symbols' (default: its primary)
  runCandles: (id, symbol) =>
    request("GET", `${run(id)}/candles${symbol ? `?symbol=${encodeURIComponent(symbol)}` : ""}`),
  runIndicators: (id) => request("GET", `${run(id)}/indicators`),
  cancelRun: (id) => request("POST", `${run(id)}/cancel`),
  rerunRun: (id) => request("POST", `${run(id)}/rerun`),
  runPeriods: (id) => request("GET", `${run(id)}/periods`),
  deleteRun: (id) => request("DELETE", run(id)),

  me: () => request("GET", "/api/auth/me"),
  signOut: () => {
    signingOut = true;
    return request("POST", "/api/auth/logout");
  },
};

/** The list inside a response that may be a bare list or wrap it under a key. */
export function listFrom(body, ...keys) {
  if (Array.isArray(body)) return body;
  for (const key of [...keys, "items", "results", "data"]) {
    if (body && Array.isArray(body[key])) return body[key];
  }
  return [];
}
