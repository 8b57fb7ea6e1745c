/**
 * What the ops commands print for people (their --json prints the API's answer as it is): a rollout's
 * result, a model with its nodes, a model's history. Warnings — a version staged cold — are printed
 * wherever the version shows, so nobody has to ask for them.
 */
import type { HistoryEntry, ModelState, NodeOutcome, NodeRecord } from "../../core/model-state.js";
import { mergedReplayReport, replaySummary } from "../../core/replay-report.js";
import type { RolloutResult } from "../rollout-result.js";
import { formatTable } from "./output.js";
import { rolloutStatusLines } from "./progressive-view.js";

/** GET /v1/models/:model, as far as the CLI reads it. */
export interface ModelDetail {
  model: string;
  state: ModelState;
  nodes: NodeRecord[];
}

function outcomeLine(node: NodeOutcome): string {
  const parts = [`  ${node.nodeId}  ${node.outcome}`];
  if (node.loadMs !== undefined) parts.push(`  load ${node.loadMs} ms`);
  if (node.warmupMs !== undefined) parts.push(`  warm-up ${node.warmupMs} ms`);
  if (node.warmup === "cold") parts.push(" (cold)");
  if (node.warmup === "replay") parts.push(" (on replayed requests)");
  if (node.replay !== undefined) parts.push(`  replay: ${replaySummary(node.replay)}`);
  if (node.reason !== undefined) parts.push(`  ${node.reason}`);
  return parts.join("");
}

/**
 * `activate` and `rollback`: the outcome, one line per node, the switch spread (to 0.1 ms: nodes stamp
 * their swap with sub-millisecond clocks), then any warning.
 */
export function rolloutLines(result: RolloutResult): string[] {
  return [
    result.message,
    ...result.nodes.map(outcomeLine),
    ...(result.switchSpreadMs !== undefined ? [`switch spread ${result.switchSpreadMs.toFixed(1)} ms`] : []),
    ...(result.warnings ?? []).map((warning) => `warning: ${warning}`),
  ];
}

/** One line per node holding a version that was staged cold: a warning when it serves it, else a note. */
function coldLines(model: string, nodes: readonly NodeRecord[]): string[] {
  return nodes.flatMap((node) => {
    const status = node.models[model];
    return Object.entries(status?.cold ?? {}).map(([version, warning]) =>
      version === status?.active ? `warning: ${node.nodeId}: ${warning}` : `note: ${node.nodeId}: ${warning}`,
    );
  });
}

/** `status MODEL`: the pointer, a table of nodes (a cold active version marked), then the cold lines. */
export function modelDetailLines(detail: ModelDetail): string[] {
  const { model, state, nodes } = detail;
  const header =
    `${model}: active ${state.active ?? "-"}, previous ${state.previous ?? "-"}, revision ${state.revision}` +
    (state.rollout ? `, rollout → ${state.rollout.target} by ${state.rollout.by}` : "");
  const rollout = state.rollout === null ? [] : rolloutStatusLines(state.rollout);
  if (nodes.length === 0) return [header, ...rollout, `no live node serves ${model}`];
  const rows = nodes.map((node) => {
    const status = node.models[model];
    const active = status?.active;
    return [
      node.nodeId,
      active ? `${active}${status?.cold?.[active] !== undefined ? " (cold)" : ""}` : "-",
      String(status?.revision ?? "-"),
      status?.warm.join(",") || "-",
      status?.staged ? `${status.staged.version} (${status.staged.state})` : "-",
      status?.split && status.split.weight > 0 ? `${status.split.weight} % ${status.split.candidate}` : "-",
      status?.lastError ?? "-",
    ];
  });
  return [
    header,
    ...rollout,
    ...formatTable([["NODE", "ACTIVE", "REVISION", "WARM", "STAGED", "SPLIT", "LAST ERROR"], ...rows]),
    ...coldLines(model, nodes),
  ];
}

/** What the fleet's replays on the target came to, in one phrase; undefined when no node replayed. */
function replayNote(entry: HistoryEntry): string | undefined {
  const merged = mergedReplayReport(entry.nodes.flatMap((node) => (node.replay === undefined ? [] : [node.replay])));
  return merged === null ? undefined : `replay: ${replaySummary(merged)}`;
}

/** `history MODEL`: one row per entry; the reason, the replay and any warning share the last column. */
export function historyLines(history: readonly HistoryEntry[]): string[] {
  return formatTable([
    ["FINISHED", "ACTION", "BY", "FROM", "TO", "OUTCOME", "REVISION", "NODES", "REASON"],
    ...history.map((entry) => [
      entry.finishedAt,
      entry.strategy ? `${entry.action} (${entry.strategy} ${entry.steps?.join(",") ?? ""})` : entry.action,
      entry.by,
      entry.from ?? "-",
      entry.to,
      entry.outcome,
      String(entry.revision),
      String(entry.nodes.length),
      [entry.reason, replayNote(entry), ...(entry.warnings ?? []).map((warning) => `warning: ${warning}`)]
        .filter(Boolean)
        .join("; "),
    ]),
  ]);
}
