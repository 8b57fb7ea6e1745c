// @ts-check
// The controller's /v1 API as the page uses it. Reads need nothing; changes send the bearer token
// the operator typed in once, kept in this tab's sessionStorage (gone when the tab closes; never a
// cookie, so no other site can make the browser send it). Errors carry the API's code and message,
// shown as the CLI prints them: `CODE: message`.

const TOKEN_KEY = "cutover.token";

export class ApiError extends Error {
  /**
   * @param {string} code
   * @param {string} message
   * @param {{ nodeId: string, outcome: string, reason?: string }[]} nodes
   */
  constructor(code, message, nodes = []) {
    super(message);
    this.code = code;
    this.nodes = nodes;
  }

  /** The line the CLI prints for this failure, without its `cutover: ` prefix. */
  get line() {
    return `${this.code}: ${this.message}`;
  }
}

/** @returns {string | null} */
export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

/** The event the window gets when the token was set or forgotten. */
export const TOKEN_CHANGED = "cutover-token";

/** @param {string | null} value */
export function setToken(value) {
  if (value === null) sessionStorage.removeItem(TOKEN_KEY);
  else sessionStorage.setItem(TOKEN_KEY, value);
  window.dispatchEvent(new Event(TOKEN_CHANGED));
}

/**
 * @param {Response} response
 * @returns {Promise<unknown>}
 */
async function answer(response) {
  /** @type {unknown} */
  let body;
  try {
    body = await response.json();
  } catch {
    throw new ApiError("INTERNAL", `the controller answered ${response.status} without JSON`);
  }
  if (response.ok) return body;
  const error = /** @type {{ error?: { code?: string, message?: string, nodes?: ApiError["nodes"] } }} */ (body).error;
  throw new ApiError(error?.code ?? "INTERNAL", error?.message ?? `HTTP ${response.status}`, error?.nodes ?? []);
}

/**
 * @template T
 * @param {string} path
 * @returns {Promise<T>}
 */
export async function get(path) {
  let response;
  try {
    response = await fetch(path, { headers: { accept: "application/json" } });
  } catch {
    throw new ApiError("UNREACHABLE", "the controller cannot be reached");
  }
  return /** @type {Promise<T>} */ (answer(response));
}

/**
 * A change: POSTs JSON with the token. Without one it fails before sending.
 * @template T
 * @param {string} path
 * @param {Record<string, unknown>} body
 * @returns {Promise<T>}
 */
export async function post(path, body) {
  const bearer = token();
  if (bearer === null) throw new ApiError("UNAUTHORIZED", "a bearer token is required for changes");
  let response;
  try {
    response = await fetch(path, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${bearer}` },
      body: JSON.stringify(body),
    });
  } catch {
    throw new ApiError("UNREACHABLE", "the controller cannot be reached");
  }
  return /** @type {Promise<T>} */ (answer(response));
}

/** @param {string} model */
export function modelPath(model) {
  return `/v1/models/${encodeURIComponent(model)}`;
}
