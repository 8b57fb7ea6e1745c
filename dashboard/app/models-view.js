// @ts-check
// The front page: every model, its active and previous version, the rollout in progress, and how many
// live nodes serve its active version.
import { h } from "./dom.js";

/** @typedef {import("./types").ModelSummary} ModelSummary */

/**
 * What a model's rollout is doing, in a few words.
 * @param {import("./types").ModelState} state
 */
export function rolloutWords(state) {
  const rollout = state.rollout;
  if (rollout === null) return "";
  const progressive = rollout.progressive;
  if (progressive === undefined) return `${rollout.phase} ${rollout.target}`;
  const held = progressive.holding !== null ? ", holding" : "";
  return `${progressive.strategy} ${rollout.target} at ${progressive.weight} %${held}`;
}

/** @param {readonly ModelSummary[]} models */
export function modelsView(models) {
  if (models.length === 0) {
    return h(
      "section",
      {},
      h("h2", {}, "No models yet"),
      h("p", {}, "Push a version with ", h("code", {}, "cutover push"), " and it shows here."),
    );
  }
  return h(
    "section",
    { "aria-labelledby": "models-title" },
    h("h2", { id: "models-title" }, "Models"),
    h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        {},
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            h("th", { scope: "col" }, "Model"),
            h("th", { scope: "col" }, "Active"),
            h("th", { scope: "col", class: "hide-narrow" }, "Previous"),
            h("th", { scope: "col", class: "hide-narrow" }, "Revision"),
            h("th", { scope: "col" }, "Rollout"),
            h("th", { scope: "col" }, "Nodes on active"),
          ),
        ),
        h(
          "tbody",
          {},
          models.map(({ model, state, nodes }) =>
            h(
              "tr",
              { "data-model": model },
              h("td", {}, h("a", { href: `#/models/${encodeURIComponent(model)}` }, model)),
              h("td", { class: "mono" }, state.active ?? "none"),
              h("td", { class: "mono hide-narrow" }, state.previous ?? "–"),
              h("td", { class: "hide-narrow" }, state.revision),
              h("td", {}, rolloutWords(state) || h("span", { class: "muted" }, "none")),
              h(
                "td",
                {},
                h(
                  "span",
                  { class: `badge ${nodes.live > 0 && nodes.onActive === nodes.live ? "ok" : "warn"}` },
                  `${nodes.onActive}/${nodes.live}`,
                ),
              ),
            ),
          ),
        ),
      ),
    ),
  );
}
