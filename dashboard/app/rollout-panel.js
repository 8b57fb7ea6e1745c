// @ts-check
// The rollout in progress on one model: for an all-at-once rollout, how many live nodes have staged
// the target (and what the others are doing); for a canary or linear one, its weight and step, the
// bake time left, a hold and the last analysis's figures. The fleet feed redraws it as nodes report.
import { h } from "./dom.js";
import { millis, percent } from "./format.js";

/** @typedef {import("./types").NodeRecord} NodeRecord */
/** @typedef {import("./types").Rollout} Rollout */

/**
 * Nodes by what they are doing with the target: staged, or the step they are at.
 * @param {string} model
 * @param {Rollout} rollout
 * @param {readonly NodeRecord[]} nodes
 */
export function stagingCounts(model, rollout, nodes) {
  /** @type {Record<string, number>} */
  const steps = {};
  let staged = 0;
  for (const node of nodes) {
    const entry = node.models[model];
    const staging = entry?.staged;
    const serving = entry?.active === rollout.target;
    if (serving || (staging?.version === rollout.target && staging.state === "staged")) staged++;
    else if (staging?.version === rollout.target) steps[staging.state] = (steps[staging.state] ?? 0) + 1;
    else steps["not started"] = (steps["not started"] ?? 0) + 1;
  }
  return { staged, total: nodes.length, steps };
}

/**
 * @param {string} label
 * @param {number} part
 * @param {number} whole
 */
function bar(label, part, whole) {
  return h("progress", { max: Math.max(whole, 1), value: part, "aria-label": label }, `${part}/${whole}`);
}

/** @param {import("./types").Analysis} analysis */
function analysisRows(analysis) {
  const row = (/** @type {string} */ name, /** @type {import("./types").Figures} */ f) =>
    h(
      "tr",
      {},
      h("th", { scope: "row" }, name),
      h("td", {}, f.requests),
      h("td", {}, percent(f.errorRate)),
      h("td", {}, f.clientErrorRate === undefined ? "—" : percent(f.clientErrorRate)),
      h("td", {}, f.p50Ms === undefined ? "—" : millis(f.p50Ms)),
      h("td", {}, millis(f.p99Ms)),
    );
  return h(
    "div",
    {},
    h(
      "p",
      {},
      "Last analysis: ",
      h("strong", { "data-verdict": analysis.verdict }, analysis.verdict),
      ` at ${analysis.weight} %`,
    ),
    h(
      "table",
      {},
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          h("th", {}, ""),
          h("th", {}, "Requests"),
          h("th", {}, "Failed (5xx)"),
          h("th", {}, "Rejected (4xx)"),
          h("th", {}, "p50"),
          h("th", {}, "p99"),
        ),
      ),
      h("tbody", {}, row("baseline", analysis.baseline), row("candidate", analysis.candidate)),
    ),
    h("p", { class: "muted" }, analysis.reason),
  );
}

/**
 * @param {string} model
 * @param {Rollout} rollout
 * @param {readonly NodeRecord[]} nodes the live nodes serving the model
 */
export function rolloutPanel(model, rollout, nodes) {
  const progressive = rollout.progressive;
  const counts = stagingCounts(model, rollout, nodes);
  const others = Object.entries(counts.steps).map(([step, count]) => `${count} ${step}`);
  const staging = [
    h(
      "p",
      { "data-testid": "staged" },
      `Nodes staged: ${counts.staged}/${counts.total}`,
      others.length > 0 ? ` (${others.join(", ")})` : "",
    ),
    bar("nodes staged", counts.staged, counts.total),
  ];
  if (progressive === undefined || rollout.phase !== "progressing") {
    return h(
      "section",
      { "aria-labelledby": "rollout-title", "data-testid": "rollout" },
      h("h2", { id: "rollout-title" }, `Rolling out ${rollout.target}: ${rollout.phase}`),
      h("p", { class: "muted" }, `started by ${rollout.by}`),
      staging,
    );
  }
  const stepText = `step ${progressive.step + 1} of ${progressive.steps.length} (${progressive.steps.join(" → ")} %, then 100 %)`;
  return h(
    "section",
    { "aria-labelledby": "rollout-title", "data-testid": "rollout" },
    h("h2", { id: "rollout-title" }, `${progressive.strategy === "canary" ? "Canary" : "Linear"} ${rollout.target}`),
    h(
      "p",
      {},
      h("strong", { "data-testid": "weight" }, `${progressive.weight} %`),
      ` of requests on ${rollout.target}, the rest on ${progressive.baseline}; ${stepText}`,
    ),
    bar("traffic on the candidate", progressive.weight, 100),
    progressive.bakeUntil !== null
      ? h("p", {}, "Bake time left: ", h("span", { "data-until": progressive.bakeUntil }, ""))
      : null,
    progressive.manual ? h("p", {}, "Waits for Promote after each step.") : null,
    progressive.shadowPercent > 0 ? h("p", {}, `Shadowing ${progressive.shadowPercent} % of baseline requests.`) : null,
    progressive.holding !== null ? h("p", { class: "error-text" }, `Holding: ${progressive.holding}`) : null,
    progressive.lastAnalysis !== null ? analysisRows(progressive.lastAnalysis) : null,
  );
}
