// @ts-check
// The changes the page can make — activate (all at once, canary or linear), rollback, promote a step,
// abort — each after a confirmation, with the token entered once. Answers and errors go to the notice
// line as the CLI words them; the fleet feed shows the progress meanwhile.
import { ApiError, setToken, token } from "./api.js";
import { byId, h, replace } from "./dom.js";

/** @typedef {import("./types").ModelState} ModelState */
/** @typedef {import("./types").VersionSummary} VersionSummary */

/**
 * Shows a line in the notice area, with each node's reason after a failure and the rollout's
 * warnings (a version staged cold, say) as the CLI prints them.
 * @param {"ok" | "error" | "info"} kind
 * @param {string} text
 * @param {{ nodeId: string, outcome: string, reason?: string }[]} [nodes]
 * @param {readonly string[]} [warnings]
 */
export function notify(kind, text, nodes = [], warnings = []) {
  const notice = byId("notice", HTMLDivElement);
  notice.className = `notice ${kind}`;
  notice.hidden = false;
  replace(
    notice,
    h("span", { "data-testid": "notice-text" }, text),
    warnings.length > 0
      ? h(
          "ul",
          {},
          warnings.map((warning) => h("li", {}, `warning: ${warning}`)),
        )
      : null,
    nodes.length > 0
      ? h(
          "ul",
          {},
          nodes.map((node) => h("li", {}, `${node.nodeId}: ${node.outcome}${node.reason ? ` — ${node.reason}` : ""}`)),
        )
      : null,
  );
}

/**
 * Opens a modal dialog; resolves true when its form is submitted, false when it is cancelled.
 * @param {HTMLDialogElement} dialog
 * @param {HTMLFormElement} form
 * @param {HTMLButtonElement} cancel
 * @returns {Promise<boolean>}
 */
function ask(dialog, form, cancel) {
  return new Promise((resolve) => {
    const done = (/** @type {boolean} */ answer) => {
      form.removeEventListener("submit", onSubmit);
      cancel.removeEventListener("click", onCancel);
      dialog.removeEventListener("cancel", onCancel);
      dialog.close();
      resolve(answer);
    };
    const onSubmit = (/** @type {Event} */ event) => {
      event.preventDefault();
      done(true);
    };
    const onCancel = (/** @type {Event} */ event) => {
      event.preventDefault();
      done(false);
    };
    form.addEventListener("submit", onSubmit);
    cancel.addEventListener("click", onCancel);
    dialog.addEventListener("cancel", onCancel);
    dialog.showModal();
  });
}

/** @param {string} text */
export function confirmChange(text) {
  replace(byId("confirm-text", HTMLParagraphElement), text);
  return ask(
    byId("confirm-dialog", HTMLDialogElement),
    byId("confirm-form", HTMLFormElement),
    byId("confirm-cancel", HTMLButtonElement),
  );
}

/** Asks for the token and keeps it (the window gets TOKEN_CHANGED); "Forget token" drops it. */
export async function askToken() {
  const input = byId("token-input", HTMLInputElement);
  const forget = byId("token-forget", HTMLButtonElement);
  const cancel = byId("token-cancel", HTMLButtonElement);
  input.value = "";
  forget.hidden = token() === null;
  let forgotten = false;
  const onForget = () => {
    forgotten = true;
    cancel.click();
  };
  forget.addEventListener("click", onForget);
  const ok = await ask(byId("token-dialog", HTMLDialogElement), byId("token-form", HTMLFormElement), cancel);
  forget.removeEventListener("click", onForget);
  if (forgotten) setToken(null);
  else if (ok && input.value.trim() !== "") setToken(input.value.trim());
}

/**
 * @typedef {{ model: string, to: string, revision: number, fullyConfirmed: boolean, unconfirmed: string[],
 *   nodes: { nodeId: string, outcome: string, reason?: string }[], message: string, warnings?: string[] }} RolloutResult
 * @typedef {{ state: string, reason?: string, message: string, promotion?: RolloutResult }} ProgressView
 * @typedef {{ message?: string, warnings?: string[], fullyConfirmed?: boolean, state?: string, promotion?: RolloutResult }} ChangeAnswer
 */

/**
 * What the CLI would have failed with for an answer that is a 200: a promotion some nodes did not
 * confirm (PROMOTE_UNCONFIRMED, its exit 3), or an activation that did not go ahead (ROLLOUT_ABORTED).
 * @param {ChangeAnswer} answer
 * @param {string} model
 * @param {string} [activating] the version, when the change was an activation
 * @returns {ApiError | null}
 */
export function failureOf(answer, model, activating) {
  if (activating !== undefined && (answer.state === "rolled-back" || answer.state === "aborted")) {
    return new ApiError(
      "ROLLOUT_ABORTED",
      `${model}/${activating} did not go ahead: ${/** @type {ProgressView} */ (answer).reason ?? ""}`,
    );
  }
  const result =
    answer.promotion ?? (answer.fullyConfirmed === undefined ? undefined : /** @type {RolloutResult} */ (answer));
  if (result === undefined || result.fullyConfirmed !== false) return null;
  const missing = result.nodes.filter((node) => result.unconfirmed.includes(node.nodeId));
  return new ApiError(
    "PROMOTE_UNCONFIRMED",
    `${result.model} → ${result.to} at revision ${result.revision}, but ${missing.length} of ${result.nodes.length} node(s) did not confirm serving it: ${result.unconfirmed.join(", ")}`,
    missing,
  );
}

/**
 * Runs a change and says how it went, as the CLI would: its message, or `CODE: message` with each
 * node's reason. A 401 forgets the token (the page turns read-only).
 * @param {string} doing what the page shows while it runs
 * @param {() => Promise<ChangeAnswer>} change
 * @param {(answer: ChangeAnswer) => ApiError | null} judge a 200 the CLI would still fail with
 * @param {() => void} afterwards
 */
export async function runChange(doing, change, judge, afterwards) {
  notify("info", `${doing}…`);
  try {
    const answer = await change();
    const failure = judge(answer);
    if (failure !== null) notify("error", failure.line, failure.nodes, answer.warnings ?? []);
    else notify("ok", answer.message ?? "done", [], answer.warnings ?? []);
  } catch (error) {
    if (error instanceof ApiError) {
      if (error.code === "UNAUTHORIZED") setToken(null);
      notify("error", error.line, error.nodes);
    } else notify("error", String(error));
  } finally {
    afterwards();
  }
}

/** @param {string} text */
function percentList(text) {
  return text
    .split(/[,\s]+/)
    .filter(Boolean)
    .map(Number);
}

/**
 * The activate dialog: the version, then the strategy; resolves with the request body, or null.
 * @param {string} model
 * @param {readonly VersionSummary[]} versions
 * @param {ModelState} state
 * @returns {Promise<Record<string, unknown> | null>}
 */
export async function askActivate(model, versions, state) {
  const select = byId("activate-version", HTMLSelectElement);
  const choices = [...versions].reverse().filter((version) => version.version !== state.active);
  if (choices.length === 0) {
    notify("info", `${model} has no published version besides ${state.active ?? "none"}: push one first.`);
    return null;
  }
  replace(
    select,
    choices.map((version) => h("option", { value: version.version }, version.version)),
  );
  const summary = byId("activate-summary", HTMLParagraphElement);
  replace(summary, `${model} serves ${state.active ?? "nothing"} now (revision ${state.revision}).`);
  const form = byId("activate-form", HTMLFormElement);
  const ok = await ask(byId("activate-dialog", HTMLDialogElement), form, byId("activate-cancel", HTMLButtonElement));
  if (!ok || select.value === "") return null;
  const strategy = new FormData(form).get("strategy");
  /** @type {Record<string, unknown>} */
  const body = { version: select.value, expectRevision: state.revision };
  if (strategy === "canary") body.canary = percentList(byId("activate-canary", HTMLInputElement).value);
  if (strategy === "linear") body.linear = Number(byId("activate-linear", HTMLInputElement).value);
  if (strategy === "canary" || strategy === "linear") {
    body.bakeMs = Math.round(Number(byId("activate-bake", HTMLInputElement).value) * 1000);
    body.manual = byId("activate-manual", HTMLInputElement).checked;
  }
  return body;
}

/**
 * The buttons for one model's changes, given its state (disabled without a token).
 * @param {string} model
 * @param {ModelState} state
 * @param {{ activate: () => void, rollback: () => void, promote: () => void, abort: () => void }} on
 */
export function actionButtons(model, state, on) {
  const disabled = token() === null;
  const title = disabled ? "Enter a token to make changes" : undefined;
  const progressing = state.rollout?.phase === "progressing";
  const busy = state.rollout !== null;
  return h(
    "div",
    { class: "actions", role: "group", "aria-label": `Changes to ${model}` },
    h(
      "button",
      { type: "button", class: "primary", disabled: disabled || busy, title, onclick: on.activate },
      "Activate…",
    ),
    state.previous !== null && !busy
      ? h("button", { type: "button", disabled, title, onclick: on.rollback }, `Roll back to ${state.previous}`)
      : null,
    progressing ? h("button", { type: "button", disabled, title, onclick: on.promote }, "Promote step") : null,
    progressing ? h("button", { type: "button", class: "danger", disabled, title, onclick: on.abort }, "Abort") : null,
    disabled ? h("span", { class: "muted" }, "Read-only: enter a token to make changes.") : null,
  );
}
