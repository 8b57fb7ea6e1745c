/**
 * A version loading while its node serves (issue 30, part 1): the longest wait of a `/v2/health/live`
 * probe (one keep-alive connection, every 10 ms, a process of its own) on two `cutover node`
 * processes (compiled build) while each stages a new version of the pacer v2 (1 MB, 1200 chained
 * MatMuls: onnxruntime-node takes ~0.7–2 s to create its session, synchronously, on the thread that
 * does it):
 *
 *   main    CUTOVER_INSTANCES=0: the session opens on the node's main thread, as every load did
 *           before sessions for workers moved into the workers
 *   workers CUTOVER_INSTANCES=1: the worker opens it, provider fallback and signature included
 *
 * Both nodes stage the same version at once (one activate), so they share the machine alike. Each
 * round activates the next name of the same bytes (a new session every time); the figures are
 * medians over the rounds.
 */
import { join } from "node:path";
import { type Fleet, startFleet } from "../support/fleet-harness.js";
import { median, type ProbeResult, probe } from "./heavy.js";

const ROOT = join(import.meta.dirname, "../..");
const PACER = join(ROOT, "models/pacer/v2");

export interface LoadStallBench {
  readonly rounds: number;
  readonly main: ProbeResult[];
  readonly workers: ProbeResult[];
  readonly activateMs: number[];
}

export async function benchLoadStall(options: {
  rounds: number;
  log: (line: string) => void;
}): Promise<LoadStallBench> {
  const { rounds, log } = options;
  const versions = Array.from({ length: rounds + 1 }, (_, i) => `r${i}`);
  const fleet: Fleet = await startFleet({
    nodes: 2,
    compiled: true,
    models: [
      { model: "pacer", modelFile: join(PACER, "model.onnx"), goldenPath: join(PACER, "golden.json"), versions },
    ],
    perNodeEnv: [
      { CUTOVER_MODELS: "pacer", CUTOVER_INSTANCES: "0", CUTOVER_INTRA_OP_THREADS: "1" },
      { CUTOVER_MODELS: "pacer", CUTOVER_INSTANCES: "1", CUTOVER_INTRA_OP_THREADS: "1" },
    ],
  });
  const main: ProbeResult[] = [];
  const workers: ProbeResult[] = [];
  const activateMs: number[] = [];
  try {
    const [onMain, onWorkers] = fleet.nodes;
    if (onMain === undefined || onWorkers === undefined) throw new Error("the fleet has two nodes");
    const first = await fleet.activateModel("pacer", "r0");
    if (first.status !== 200) throw new Error(`activate r0: ${JSON.stringify(first.body)}`);
    for (const version of versions.slice(1)) {
      // The probes run past the activation: long enough for both nodes to load and warm up.
      const probes = Promise.all([probe(onMain.url, 12_000), probe(onWorkers.url, 12_000)]);
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      const started = performance.now();
      const answer = await fleet.activateModel("pacer", version);
      activateMs.push(performance.now() - started);
      if (answer.status !== 200) throw new Error(`activate ${version}: ${JSON.stringify(answer.body)}`);
      const [a, b] = await probes;
      main.push(a);
      workers.push(b);
      log(`load stall ${version}: main thread max ${a.max.toFixed(0)} ms, workers max ${b.max.toFixed(0)} ms`);
    }
  } finally {
    await fleet.stop();
  }
  return { rounds, main, workers, activateMs };
}

const ms = (value: number) => `${value < 10 ? value.toFixed(1) : value.toFixed(0)} ms`;

export function loadStallSection(bench: LoadStallBench): string {
  const row = (label: string, results: readonly ProbeResult[]) =>
    `| ${label} | ${ms(median(results.map((r) => r.max)))} | ${ms(median(results.map((r) => r.p99)))} | ${ms(median(results.map((r) => r.p50)))} | ${results.reduce((sum, r) => sum + r.failed, 0)} |`;
  const ratio = median(bench.main.map((r, i) => r.max / Math.max(0.1, bench.workers[i]?.max ?? 0.1)));
  return `## A version loading while the node serves

Two \`cutover node\` processes stage the same new version of the pacer v2 (1 MB, 1200 chained MatMuls:
onnxruntime-node creates its session synchronously, on the thread that asks) at once, ${bench.rounds}
times (a new version name of the same bytes each time); a probe process asks each node's
\`/v2/health/live\` every 10 ms on one keep-alive connection meanwhile (tests/bench/load-stall.ts).
Medians over the rounds; activate took ${ms(median(bench.activateMs))} (median, both nodes staged and swapped).

| where the session opens | longest probe wait | probe p99 | probe p50 | failed probes |
| --- | --- | --- | --- | --- |
${row("main thread (`CUTOVER_INSTANCES=0`; every load before sessions moved into workers)", bench.main)}
${row("the worker (`CUTOVER_INSTANCES=1`)", bench.workers)}

The longest wait on the main-thread node is ${ratio.toFixed(0)}× the worker node's (median of the
per-round ratios). A node's HTTP answers, health checks, promote messages and heartbeats wait as long as
the probe did.
`;
}
