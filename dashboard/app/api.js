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
 * The body of an answer, or the error the CLI makes of it: the API's code and message; BAD_RESPONSE
 * for an answer that is not JSON; HTTP_<status> for an error without a code.
 * @param {string} method
 * @param {string} path
 * @param {Response} response
 * @returns {Promise<unknown>}
 */
async function answer(method, path, response) {
  const text = await response.text();
  /** @type {unknown} */
  let body;
  try {
    body = text === "" ? {} : JSON.parse(text);
  } catch {
    throw new ApiError("BAD_RESPONSE", `${method} ${path}: HTTP ${response.status}, not JSON: ${text.slice(0, 120)}`);
  }
  if (response.ok) return body;
  const error = /** @type {{ error?: { code?: unknown, message?: unknown, nodes?: ApiError["nodes"] } }} */ (body)
    .error;
  throw new ApiError(
    typeof error?.code === "string" ? error.code : `HTTP_${response.status}`,
    typeof error?.message === "string" ? error.message : `${method} ${path} failed with HTTP ${response.status}`,
    Array.isArray(error?.nodes) ? error.nodes : [],
  );
}

/**
 * A request to the controller; a network failure is CONTROLLER_UNREACHABLE, as the CLI says it.
 * @param {string} method
 * @param {string} path
 * @param {RequestInit} init
 */
async function exchange(method, path, init) {
  let response;
  try {
    response = await fetch(path, { ...init, method });
  } catch (error) {
    throw new ApiError(
      "CONTROLLER_UNREACHABLE",
      `cannot reach the controller at ${location.origin} (${String(error)})`,
    );
  }
  return answer(method, path, response);
}

/**
 * @template T
 * @param {string} path
 * @returns {Promise<T>}
 */
export async function get(path) {
  return /** @type {Promise<T>} */ (exchange("GET", path, { headers: { accept: "application/json" } }));
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
  return /** @type {Promise<T>} */ (
    exchange("POST", path, {
      headers: { "content-type": "application/json", authorization: `Bearer ${bearer}` },
      body: JSON.stringify(body),
    })
  );
}

/** @param {string} model */
export function modelPath(model) {
  return `/v1/models/${encodeURIComponent(model)}`;
}
