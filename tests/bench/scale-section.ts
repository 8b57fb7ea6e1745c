/**
 * The "Scale" section of docs/benchmarks.md, from tests/bench/scale.ts's points: warm-flip time and
 * Redis cost per flip against the number of node agents, the cost of one read of a model's nodes from
 * its index and from every record, and whether the growth goals of issue 15 hold.
 */
import { percentile } from "./fleet.js";
import { IDLE_WINDOW_MS, READS, type ReadCost, type ScalePoint, SETTLE_MS } from "./scale.js";

/** Beyond this ratio, a figure that should not grow with the node count is called growing. */
const FLAT_TOLERANCE = 1.2;

function verdict(ok: boolean): string {
  return ok ? "met" : "**missed**";
}

const p50 = (point: ScalePoint) => percentile(point.flipMs, 50);
const perNode = (point: ScalePoint) => point.commands / point.nodes;

/** Pairs of consecutive points. */
function steps(points: readonly ScalePoint[]): [ScalePoint, ScalePoint][] {
  return points.slice(1).map((point, i) => [points[i] as ScalePoint, point]);
}

/** Commands each added node brought, between consecutive counts. */
function marginal([from, to]: [ScalePoint, ScalePoint]): number {
  return (to.commands - from.commands) / (to.nodes - from.nodes);
}

function readCell(index: ReadCost, every: ReadCost, cell: (cost: ReadCost) => string): string {
  return `${cell(index)} / ${cell(every)}`;
}

export function scaleSection(points: readonly ScalePoint[], flips: number, processes: number): string {
  const row = (label: string, cell: (point: ScalePoint) => string) => `| ${label} | ${points.map(cell).join(" | ")} |`;
  const header = `| | ${points.map((point) => `${point.nodes} agents`).join(" | ")} |\n|---|${points.map(() => "---").join("|")}|`;
  const types = [...new Set(points.flatMap((point) => Object.keys(point.messages)))];
  const last = points.at(-1);
  const first = points[0];
  // The commands every flip runs (at least 2 per flip at the largest count), largest first.
  const names = Object.entries(last?.commandsByName ?? {})
    .filter(([, calls]) => calls >= 2)
    .sort((a, b) => b[1] - a[1])
    .map(([name]) => name);
  const bystanders = first?.bystanders ?? 0;
  const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;

  const timeRatios = steps(points).map(([from, to]) => ({
    label: `${from.nodes}→${to.nodes}`,
    time: p50(to) / p50(from),
    nodes: to.nodes / from.nodes,
  }));
  const timeOk = timeRatios.every((step) => step.time <= step.nodes);
  const marginals = steps(points).map(marginal);
  const perNodes = points.map(perNode);
  const commandsOk =
    marginals.length > 0 &&
    Math.max(...marginals) <= Math.min(...marginals) * FLAT_TOLERANCE &&
    perNodes.every((value, i) => i === 0 || value <= (perNodes[i - 1] ?? value) * FLAT_TOLERANCE);

  return `## Scale: ${first?.nodes ?? 0} → ${last?.nodes ?? 0} node agents on one model

tests/bench/scale.ts. One redis-server and one \`cutover controller\` (compiled build), processes of their own;
light node agents (tests/bench/agent-process.ts: each a real participant of the protocol with its own two
Redis connections — it heartbeats its record, hears its model's commands, answers \`prepare\` with \`staged\`
and \`promote\` with \`promoted\`, and heartbeats again at each change as the node agent does — but loads no
model), ${processes} child processes sharing them. Beside them, ${bystanders} bystander agents serve another model
throughout. Production timing: heartbeat TTL 15 s (a heartbeat every 5 s), state re-read every 5 s, lock TTL
30 s. Per agent count, ${flips} warm flips v1 ⇄ v2 (after one unmeasured): the time is the client's, API call
→ response with every agent confirmed. Commands and bytes are Redis's own counters (INFO commandstats and
\`total_net_output_bytes\`, all clients; a Lua script counts once as \`evalsha\` and once per command it runs)
over each flip's window (the flip and ${SETTLE_MS} ms after it), less the background rate measured over a ${IDLE_WINDOW_MS / 1000} s idle
window just before.

${header}
${row("warm flip, p50", (point) => `${p50(point).toFixed(1)} ms`)}
${row("warm flip, p95", (point) => `${percentile(point.flipMs, 95).toFixed(1)} ms`)}
${row("warm flip, max", (point) => `${Math.max(...point.flipMs).toFixed(1)} ms`)}
${row("warm flip p50 per agent", (point) => `${(p50(point) / point.nodes).toFixed(2)} ms`)}
${row("switch spread p50 (first → last agent serving)", (point) => `${point.spreadP50Ms.toFixed(1)} ms`)}
${types.map((type) => row(`messages per flip: \`${type}\``, (point) => (point.messages[type] ?? 0).toFixed(1))).join("\n")}
${row("message deliveries per flip", (point) => point.deliveries.toFixed(0))}
${row("**Redis commands per flip** (less the background)", (point) => `**${point.commands.toFixed(0)}** (${perNode(point).toFixed(1)} per agent)`)}
${row("… per agent added since the previous count", (point) => {
  const i = points.indexOf(point);
  return i === 0 ? "" : marginal([points[i - 1] as ScalePoint, point]).toFixed(1);
})}
${names.map((name) => row(`… \`${name}\` (background included)`, (point) => (point.commandsByName[name] ?? 0).toFixed(1))).join("\n")}
${row("bytes out of Redis per flip (less the background)", (point) => kib(point.outputBytes))}
${row(`background: commands/s with no rollout (agents + ${bystanders} bystanders)`, (point) => point.idleCommandsPerSecond.toFixed(1))}

One read of the model's live nodes — what a rollout does at its start, at each phase and at every 1 s tick
while it waits, and \`GET /v1/models/:model\` — from the per-model index (\`listModelNodes\`: one MULTI of
ZCOUNT × 2 + ZRANGEBYSCORE × 2, then MGET of the model's records) / from every record (\`listNodes\` and a
filter, as before the index: ZRANGEBYSCORE + MGET of every live record, bystanders included). Averaged over
${READS} reads on a connection of its own; bytes are what that connection received.

| index / every record | ${points.map((point) => `${point.nodes} agents`).join(" | ")} |
|---|${points.map(() => "---").join("|")}|
${row("records read", (point) => readCell(point.reads.index, point.reads.everyRecord, (cost) => String(cost.records)))}
${row("commands", (point) => readCell(point.reads.index, point.reads.everyRecord, (cost) => cost.commands.toFixed(0)))}
${row("bytes received", (point) => readCell(point.reads.index, point.reads.everyRecord, (cost) => kib(cost.bytes)))}
${row("time", (point) => readCell(point.reads.index, point.reads.everyRecord, (cost) => `${cost.ms.toFixed(2)} ms`))}

| goal (issue 15) | result | |
|---|---|---|
| warm-flip time grows no more than linearly (p50 ratio ≤ agent ratio at each step) | ${timeRatios.map((step) => `${step.label}: ×${step.time.toFixed(2)} for ×${step.nodes.toFixed(1)}`).join("; ")} | ${verdict(timeOk)} |
| Redis commands per agent flat (per added agent within ×${FLAT_TOLERANCE} across steps, per agent not growing) | per added agent ${marginals.map((m) => m.toFixed(1)).join(", ")}; per agent ${perNodes.map((m) => m.toFixed(1)).join(", ")} | ${verdict(commandsOk)} |

See docs/SCALE.md for what this means for a fleet.
`;
}
