// @ts-check
// One model's nodes (what each holds, runs on, last failed with, and when it last reported) and its
// published versions (size, signer, when and from which commit and pipeline it was pushed).
import { h, safeHref } from "./dom.js";
import { bytes, time } from "./format.js";

/** @typedef {import("./types").NodeRecord} NodeRecord */
/** @typedef {import("./types").VersionSummary} VersionSummary */

/**
 * @param {string} title
 * @param {(string | [string, string])[]} headers a label, or a label and the class its column has
 * @param {HTMLTableRowElement[]} rows
 * @param {string} empty
 */
function table(title, headers, rows, empty) {
  const id = `${title.toLowerCase().replace(/\W+/g, "-")}-title`;
  return h(
    "section",
    { "aria-labelledby": id },
    h("h2", { id }, title),
    rows.length === 0
      ? h("p", { class: "muted" }, empty)
      : h(
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
                headers.map((header) =>
                  typeof header === "string"
                    ? h("th", { scope: "col" }, header)
                    : h("th", { scope: "col", class: header[1] }, header[0]),
                ),
              ),
            ),
            h("tbody", {}, rows),
          ),
        ),
  );
}

/**
 * @param {string} model
 * @param {readonly NodeRecord[]} nodes the live nodes serving the model
 */
export function nodesTable(model, nodes) {
  const rows = nodes.map((node) => {
    const entry = node.models[model];
    const staged = entry?.staged;
    const provider =
      entry?.active != null ? (entry.providers?.[entry.active] ?? node.executionProvider) : node.executionProvider;
    const split = entry?.split;
    // A version staged cold (no warm-up input worked) says so; its warning is the cell's title.
    const named = (/** @type {string} */ version) =>
      entry?.cold?.[version] !== undefined ? `${version} (cold)` : version;
    const coldTitle = Object.entries(entry?.cold ?? {})
      .map(([version, warning]) => `${version}: ${warning}`)
      .join("\n");
    return h(
      "tr",
      { "data-node": node.nodeId },
      h("td", { class: "mono" }, node.nodeId),
      h(
        "td",
        { class: "mono", title: coldTitle || undefined },
        entry?.active == null ? "none" : named(entry.active),
        split !== undefined ? ` (${split.weight} % ${split.candidate})` : "",
      ),
      h("td", { class: "mono hide-narrow" }, entry?.warm.map(named).join(", ") || "–"),
      h("td", { class: "mono" }, staged == null ? "–" : `${staged.version} ${staged.state}`),
      h("td", { class: "hide-narrow" }, provider),
      h("td", { class: entry?.lastError ? "error-text" : "muted" }, entry?.lastError ?? "–"),
      h("td", {}, h("span", { "data-since": node.updatedAt }, "")),
    );
  });
  return table(
    "Nodes",
    ["Node", "Active", ["Warm", "hide-narrow"], "Staged", ["Provider", "hide-narrow"], "Last error", "Heartbeat"],
    rows,
    "No live node serves this model.",
  );
}

/**
 * @param {readonly VersionSummary[]} versions oldest first
 * @param {string | null} active
 */
export function versionsTable(versions, active) {
  const rows = [...versions].reverse().map((version) => {
    const source = version.source ?? {};
    const pipeline = safeHref(source.pipeline);
    return h(
      "tr",
      { "data-version": version.version },
      h(
        "td",
        { class: "mono" },
        version.version,
        version.version === active ? h("span", { class: "badge ok" }, " active") : null,
      ),
      h("td", {}, bytes(version.size)),
      h("td", { class: "hide-narrow" }, version.created === undefined ? "–" : time(version.created)),
      h("td", { class: "mono hide-narrow", title: version.signerHint ?? "" }, version.signerHint?.slice(0, 12) ?? "–"),
      h("td", { class: "mono" }, source.commit?.slice(0, 12) ?? "–"),
      h(
        "td",
        {},
        pipeline !== undefined
          ? h("a", { href: pipeline, rel: "noreferrer noopener", target: "_blank" }, "pipeline")
          : (source.pipeline ?? "–"),
      ),
    );
  });
  return table(
    "Versions",
    ["Version", "Size", ["Created", "hide-narrow"], ["Signer", "hide-narrow"], "Commit", "Pipeline"],
    rows,
    "No published version.",
  );
}
