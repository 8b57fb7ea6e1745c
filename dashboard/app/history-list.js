// @ts-check
// A model's rollout history, newest first: who flipped what to what and how it ended, with each
// node's outcome and reason one click away.
import { h } from "./dom.js";
import { replaySummary, time } from "./format.js";

/** @typedef {import("./types").HistoryEntry} HistoryEntry */

/** @param {HistoryEntry} entry */
function summaryOf(entry) {
  const how = entry.strategy !== undefined ? ` (${entry.strategy} ${entry.steps?.join("→") ?? ""} %)` : "";
  const spread = entry.switchSpreadMs !== undefined ? `, spread ${entry.switchSpreadMs.toFixed(1)} ms` : "";
  return `${time(entry.finishedAt)} — ${entry.action} ${entry.from ?? "none"} → ${entry.to}${how}: ${entry.outcome} by ${entry.by}${spread}`;
}

/** @param {readonly HistoryEntry[]} history newest first */
export function historyList(history) {
  return h(
    "section",
    { "aria-labelledby": "history-title", class: "history" },
    h("h2", { id: "history-title" }, "History"),
    history.length === 0
      ? h("p", { class: "muted" }, "Nothing rolled out yet.")
      : h(
          "ul",
          {},
          history.map((entry) =>
            h(
              "li",
              { "data-rollout": entry.rolloutId },
              h(
                "details",
                {},
                h(
                  "summary",
                  {},
                  h("span", { class: `badge ${entry.outcome === "promoted" ? "ok" : "bad"}` }, entry.outcome),
                  " ",
                  summaryOf(entry),
                ),
                entry.reason !== undefined ? h("p", {}, entry.reason) : null,
                (entry.warnings ?? []).map((warning) => h("p", { class: "muted" }, `warning: ${warning}`)),
                h(
                  "ul",
                  {},
                  entry.nodes.map((node) =>
                    h(
                      "li",
                      {},
                      h("span", { class: "mono" }, node.nodeId),
                      `: ${node.outcome}`,
                      node.code !== undefined ? ` ${node.code}` : "",
                      node.reason !== undefined ? ` — ${node.reason}` : "",
                      node.replay !== undefined
                        ? h(
                            "span",
                            { class: node.replay.divergent > 0 ? "replay diverged" : "replay" },
                            ` — replay: ${replaySummary(node.replay)}`,
                            node.replay.first !== undefined ? `; first: ${node.replay.first}` : "",
                          )
                        : "",
                    ),
                  ),
                ),
              ),
            ),
          ),
        ),
  );
}
