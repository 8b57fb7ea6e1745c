/**
 * Models that compute (docs/NODE.md, Instances): four figures from one fleet of `cutover node`
 * processes (compiled build), each node configured for one comparison:
 *
 *   n1 heavy, 2 workers × 1 intra-op thread   throughput ÷ bare onnxruntime-node (2 worker threads,
 *                                             one session each, no HTTP: tests/bench/bare-workers.mjs);
 *                                             /v2/health/live p99 under saturating load ÷ idle
 *   n2 heavy, main thread (CUTOVER_INSTANCES=0, 2 intra-op threads): the same probe, for comparison
 *   n7 heavy, 2 workers as n1 but CUTOVER_WORKER_NICE=0: the same probe, workers at the main thread's priority
 *   n3 mixer, 2 workers, CUTOVER_MAX_BATCH=8  ÷  n4 mixer, 2 workers, batching off (concurrency 32)
 *   n5 demo, auto (inline: its warm-up runs take µs)  vs  n6 demo, 1 worker: what a round trip costs
 *
 * Paired rounds alternate, and each figure is the median of the per-round ratios.
 */
import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { MODEL } from "../support/controller-harness.js";
import { type Fleet, startFleet } from "../support/fleet-harness.js";
import { runNodeScript, startNodeScript } from "./node-script.js";

const ROOT = join(import.meta.dirname, "../..");
const MODELS = join(ROOT, "models");

interface LoadResult {
  readonly ok: number;
  readonly failed: number;
  readonly seconds: number;
  readonly p50: number;
  readonly p99: number;
}

export interface ProbeResult {
  readonly ok: number;
  readonly failed: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

export interface HeavyBench {
  readonly roundMs: number;
  readonly rounds: number;
  /** Per node: how each version runs, from its /metrics (cutover_version_instances). */
  readonly placement: Record<string, string>;
  readonly heavy: {
    readonly nodeRps: number[];
    readonly bareRps: number[];
    readonly ratio: number;
    readonly runMs: number;
  };
  readonly live: {
    readonly idle: ProbeResult;
    readonly loaded: ProbeResult;
    readonly inlineLoaded: ProbeResult;
    /** Workers at the main thread's priority (CUTOVER_WORKER_NICE=0). */
    readonly plainLoaded: ProbeResult;
    readonly ratio: number;
  };
  readonly batching: {
    readonly batchedRps: number[];
    readonly unbatchedRps: number[];
    readonly ratio: number;
    readonly meanBatch: number;
  };
  readonly tiny: {
    readonly inlineRps: number[];
    readonly workerRps: number[];
    readonly ratio: number;
    /** Median per round: the node process's CPU µs per request (all threads), and p50 latency in ms. */
    readonly inlineCpuUs: number;
    readonly workerCpuUs: number;
    readonly inlineP50: number;
    readonly workerP50: number;
  };
}

/** user + system CPU seconds of a process, all its threads (Linux /proc). */
function cpuSeconds(pid: number | undefined): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] ?? 0) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

const wave = (length: number, phase: number) =>
  Array.from({ length }, (_, i) => Math.round(Math.sin(i * phase) * 1e4) / 1e4);
const HEAVY_REQUEST = JSON.stringify({
  inputs: [{ name: "x", shape: [1, 1024], datatype: "FP32", data: wave(1024, 0.01) }],
});
const MIXER_REQUEST = JSON.stringify({
  inputs: [
    { name: "x", shape: [1, 1024], datatype: "FP32", data: wave(1024, 0.02) },
    { name: "offset", shape: [1, 2], datatype: "FP32", data: [0.5, 1.5] },
  ],
});
const DEMO_REQUEST = JSON.stringify({
  inputs: [{ name: "features", shape: [1, 4], datatype: "FP32", data: [0.5, -1.2, 3.3, 0.1] }],
});

function load(url: string, concurrency: number, ms: number, body: string): Promise<LoadResult> {
  return runNodeScript<LoadResult>([
    join(ROOT, "tests/bench/load-worker.mjs"),
    url,
    String(concurrency),
    String(ms),
    body,
  ]);
}

/** A /v2/health/live probe every 10 ms for `ms`, in a process of its own (probe-worker.mjs). */
export function probe(url: string, ms: number): Promise<ProbeResult> {
  return runNodeScript<ProbeResult>([
    join(ROOT, "tests/bench/probe-worker.mjs"),
    `${url}/v2/health/live`,
    String(ms),
    "10",
  ]);
}

const rps = (result: LoadResult) => {
  if (result.failed > 0) throw new Error(`${result.failed} request(s) failed`);
  return result.ok / result.seconds;
};

async function metricsOf(url: string): Promise<string> {
  return (await fetch(`${url}/metrics`)).text();
}

function placementOf(metrics: string): string {
  return [...metrics.matchAll(/^cutover_version_instances\{model="([^"]+)",version="([^"]+)",mode="([^"]+)"\} (\d+)/gm)]
    .map(([, model, version, mode, count]) => `${model}/${version}: ${mode} × ${count}`)
    .join(", ");
}

function metricValue(metrics: string, name: string, model: string): number {
  return Number(new RegExp(`^${name}\\{model="${model}",version="v1"\\} (\\S+)`, "m").exec(metrics)?.[1] ?? Number.NaN);
}

/** Alternating paired rounds of two loads; returns the rates and the median of a ÷ b per round. */
async function paired(
  rounds: number,
  runA: () => Promise<number>,
  runB: () => Promise<number>,
  log: (line: string) => void,
  label: string,
): Promise<{ a: number[]; b: number[]; ratio: number }> {
  const a: number[] = [];
  const b: number[] = [];
  for (let round = 1; round <= rounds; round++) {
    b.push(await runB());
    a.push(await runA());
    log(`${label} round ${round}: ${(a.at(-1) ?? 0).toFixed(1)} vs ${(b.at(-1) ?? 0).toFixed(1)} /s`);
  }
  return { a, b, ratio: median(a.map((value, i) => value / (b[i] ?? value))) };
}

export async function benchHeavy(options: {
  roundMs: number;
  rounds: number;
  log: (line: string) => void;
}): Promise<HeavyBench> {
  const { roundMs, rounds, log } = options;
  const model = (name: string) => ({
    model: name,
    modelFile: join(MODELS, name, "v1/model.onnx"),
    goldenPath: join(MODELS, name, "v1/golden.json"),
  });
  const fleet: Fleet = await startFleet({
    nodes: 7,
    compiled: true,
    models: [model("heavy"), model("mixer")],
    perNodeEnv: [
      { CUTOVER_MODELS: "heavy", CUTOVER_INSTANCES: "2", CUTOVER_INTRA_OP_THREADS: "1" },
      { CUTOVER_MODELS: "heavy", CUTOVER_INSTANCES: "0", CUTOVER_INTRA_OP_THREADS: "2" },
      { CUTOVER_MODELS: "mixer", CUTOVER_INSTANCES: "2", CUTOVER_INTRA_OP_THREADS: "1", CUTOVER_MAX_BATCH: "8" },
      { CUTOVER_MODELS: "mixer", CUTOVER_INSTANCES: "2", CUTOVER_INTRA_OP_THREADS: "1", CUTOVER_MAX_BATCH: "0" },
      { CUTOVER_MODELS: MODEL, CUTOVER_INSTANCES: "auto", CUTOVER_INTRA_OP_THREADS: "1" },
      { CUTOVER_MODELS: MODEL, CUTOVER_INSTANCES: "1", CUTOVER_INTRA_OP_THREADS: "1" },
      { CUTOVER_MODELS: "heavy", CUTOVER_INSTANCES: "2", CUTOVER_INTRA_OP_THREADS: "1", CUTOVER_WORKER_NICE: "0" },
    ],
  });
  try {
    for (const [name, activate] of [
      ["heavy", () => fleet.activateModel("heavy", "v1")],
      ["mixer", () => fleet.activateModel("mixer", "v1")],
      [MODEL, () => fleet.activate("v1")],
    ] as const) {
      const answer = await activate();
      if (answer.status !== 200) throw new Error(`activate ${name}: ${JSON.stringify(answer.body)}`);
    }
    const [n1, n2, n3, n4, n5, n6, n7] = fleet.nodes;
    if (
      n1 === undefined ||
      n2 === undefined ||
      n3 === undefined ||
      n4 === undefined ||
      n5 === undefined ||
      n6 === undefined ||
      n7 === undefined
    )
      throw new Error("the fleet has fewer than 7 nodes");
    const placement: Record<string, string> = {};
    for (const node of fleet.nodes) placement[node.name] = placementOf(await metricsOf(node.url));
    log(`placement: ${JSON.stringify(placement)}`);
    const infer = (url: string, name: string) => `${url}/v2/models/${name}/infer`;

    // Heavy: the node at saturation (2 requests per instance) against 2 bare worker threads.
    await load(infer(n1.url, "heavy"), 4, 2_000, HEAVY_REQUEST);
    const heavyFile = join(MODELS, "heavy/v1/model.onnx");
    const heavy = await paired(
      rounds,
      async () => rps(await load(infer(n1.url, "heavy"), 4, roundMs, HEAVY_REQUEST)),
      async () => {
        const bare = await runNodeScript<{ runs: number; seconds: number }>([
          join(ROOT, "tests/bench/bare-workers.mjs"),
          heavyFile,
          "2",
          "1",
          String(roundMs),
          HEAVY_REQUEST,
        ]);
        return bare.runs / bare.seconds;
      },
      log,
      "heavy node vs bare",
    );
    const heavyMetrics = await metricsOf(n1.url);
    const runMs =
      (metricValue(heavyMetrics, "cutover_version_busy_seconds_total", "heavy") /
        metricValue(heavyMetrics, "cutover_version_batch_requests_count", "heavy")) *
      1000;

    // /v2/health/live: idle, then while 8 connections keep both instances busy and requests queued.
    const probeMs = Math.max(4_000, roundMs);
    const idle = await probe(n1.url, probeMs);
    const underLoad = async (url: string) => {
      const loadRun = startNodeScript<LoadResult>([
        join(ROOT, "tests/bench/load-worker.mjs"),
        infer(url, "heavy"),
        "8",
        "0",
        HEAVY_REQUEST,
      ]);
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      const result = await probe(url, probeMs);
      await loadRun.stop();
      // The node still runs what the stopped connections sent: one more request returns once it is drained.
      await load(infer(url, "heavy"), 1, 1, HEAVY_REQUEST);
      return result;
    };
    const loaded = await underLoad(n1.url);
    const inlineLoaded = await underLoad(n2.url);
    const plainLoaded = await underLoad(n7.url);
    log(
      `live p99: idle ${idle.p99.toFixed(2)} ms, loaded ${loaded.p99.toFixed(2)} ms, inline loaded ${inlineLoaded.p99.toFixed(1)} ms, nice 0 loaded ${plainLoaded.p99.toFixed(2)} ms`,
    );

    // Dynamic batching on the mixer at concurrency 32.
    await load(infer(n3.url, "mixer"), 32, 1_000, MIXER_REQUEST);
    await load(infer(n4.url, "mixer"), 32, 1_000, MIXER_REQUEST);
    const batching = await paired(
      rounds,
      async () => rps(await load(infer(n3.url, "mixer"), 32, roundMs, MIXER_REQUEST)),
      async () => rps(await load(infer(n4.url, "mixer"), 32, roundMs, MIXER_REQUEST)),
      log,
      "mixer batched vs unbatched",
    );
    const mixerMetrics = await metricsOf(n3.url);
    const meanBatch =
      metricValue(mixerMetrics, "cutover_version_batch_requests_sum", "mixer") /
      metricValue(mixerMetrics, "cutover_version_batch_requests_count", "mixer");

    // The toy model: inline (auto) against one worker, with the node's CPU per request.
    await load(infer(n5.url, MODEL), 32, 1_000, DEMO_REQUEST);
    await load(infer(n6.url, MODEL), 32, 1_000, DEMO_REQUEST);
    const costs = { inline: [] as { cpuUs: number; p50: number }[], worker: [] as { cpuUs: number; p50: number }[] };
    const measured = async (which: "inline" | "worker") => {
      const node = which === "inline" ? n5 : n6;
      const before = cpuSeconds(node.child.pid);
      const result = await load(infer(node.url, MODEL), 32, roundMs, DEMO_REQUEST);
      costs[which].push({
        cpuUs: ((cpuSeconds(node.child.pid) - before) / Math.max(1, result.ok)) * 1e6,
        p50: result.p50,
      });
      return rps(result);
    };
    const tiny = await paired(
      rounds,
      () => measured("worker"),
      () => measured("inline"),
      log,
      "demo worker vs inline",
    );
    return {
      roundMs,
      rounds,
      placement,
      heavy: { nodeRps: heavy.a, bareRps: heavy.b, ratio: heavy.ratio, runMs },
      live: { idle, loaded, inlineLoaded, plainLoaded, ratio: loaded.p99 / idle.p99 },
      batching: { batchedRps: batching.a, unbatchedRps: batching.b, ratio: batching.ratio, meanBatch },
      tiny: {
        inlineRps: tiny.b,
        workerRps: tiny.a,
        ratio: tiny.ratio,
        inlineCpuUs: median(costs.inline.map((cost) => cost.cpuUs)),
        workerCpuUs: median(costs.worker.map((cost) => cost.cpuUs)),
        inlineP50: median(costs.inline.map((cost) => cost.p50)),
        workerP50: median(costs.worker.map((cost) => cost.p50)),
      },
    };
  } finally {
    await fleet.stop();
  }
}

/** The model files' sizes, for the section's text. */
export async function modelBytes(name: string): Promise<number> {
  return (await readFile(join(MODELS, name, "v1/model.onnx"))).length;
}

function verdict(ok: boolean): string {
  return ok ? "met" : "**missed**";
}

const list = (values: readonly number[]) => values.map((value) => value.toFixed(1)).join(", ");

/** The markdown section of docs/benchmarks.md. */
export function heavySection(result: HeavyBench, swapRows: string): string {
  const { heavy, live, batching, tiny } = result;
  const liveOk = live.ratio <= 2 && live.loaded.p99 <= 10;
  return `## Models that compute: worker threads and dynamic batching

Seven \`cutover node\` processes (compiled build), one comparison each; ${result.rounds} alternating paired rounds of
${result.roundMs / 1000} s, each figure the median of the per-round ratios. Models from models/build.ts: **heavy**
(16 chained 1024² MatMuls; ${heavy.runMs.toFixed(0)} ms per run in the node's workers here, from
\`cutover_version_busy_seconds_total\`) and **mixer** (batchable; a 1024³ MatMul per run, whatever its batch, then
the rows times its result: ~35 ms a run on one core). Where each version ran (\`cutover_version_instances\`):
${Object.entries(result.placement)
  .map(([node, placed]) => `${node} ${placed}`)
  .join("; ")}.

| figure | result | target | |
|---|---|---|---|
| heavy: node (2 workers × 1 intra-op thread, HTTP + JSON, 4 connections) ÷ bare onnxruntime-node (2 worker threads × 1 thread, no HTTP) | **${heavy.ratio.toFixed(2)}** (node ${list(heavy.nodeRps)} req/s; bare ${list(heavy.bareRps)} runs/s) | ≥ 0.9 | ${verdict(heavy.ratio >= 0.9)} |
| \`/v2/health/live\` p99 under saturating heavy load (8 connections) ÷ idle | **${live.ratio.toFixed(2)}** (${live.loaded.p99.toFixed(2)} ms ÷ ${live.idle.p99.toFixed(2)} ms; max ${live.loaded.max.toFixed(1)} ms) | ≤ 2 and ≤ 10 ms | ${verdict(liveOk)} |
| the same probe, workers at the main thread's priority (\`CUTOVER_WORKER_NICE=0\`) | p99 ${live.plainLoaded.p99.toFixed(2)} ms (max ${live.plainLoaded.max.toFixed(1)} ms) | — | what the priority buys |
| the same probe with the heavy model on the main thread (\`CUTOVER_INSTANCES=0\`, 2 intra-op threads) | p99 ${live.inlineLoaded.p99.toFixed(0)} ms (${live.inlineLoaded.ok} probe(s) answered in ${(Math.max(4_000, result.roundMs) / 1000).toFixed(0)} s) | — | what workers remove |
| mixer at concurrency 32: \`CUTOVER_MAX_BATCH=8\` ÷ batching off (2 workers each) | **${batching.ratio.toFixed(2)}** (${list(batching.batchedRps)} vs ${list(batching.unbatchedRps)} req/s; ${batching.meanBatch.toFixed(1)} requests per run) | ≥ 2 | ${verdict(batching.ratio >= 2)} |
| demo classifier (µs runs) at concurrency 32: 1 worker ÷ main thread (\`auto\` chose it) | ${tiny.ratio.toFixed(2)} (${list(tiny.workerRps)} vs ${list(tiny.inlineRps)} req/s); node CPU ${tiny.workerCpuUs.toFixed(1)} vs ${tiny.inlineCpuUs.toFixed(1)} µs/request; p50 ${tiny.workerP50.toFixed(2)} vs ${tiny.inlineP50.toFixed(2)} ms | — | the cost \`auto\` avoids for tiny models |
${swapRows}

The bare baseline runs the same input back to back in each thread, so it should be the ceiling: the node
adds reading and parsing 1024 numbers of JSON per request, the copy to a worker and back, and writing the
answer, all on the main thread while the workers compute (well under 1 % of a 0.4 s run). A ratio above 1
is this machine's round-to-round noise. The live probe is one keep-alive connection
asking every 10 ms from a process of its own (tests/bench/probe-worker.mjs). The mixer's gain is what a
model whose batch-1 run costs about what a batch-8 run costs gives (the weight-bound case); a model whose
cost grows with its rows gains less.

The heavy-load switch spread runs three node processes whose workers keep both cores busy (three workers,
requests queued), beside the controller, redis-server, s3rver and the load process: the spread's p50 is
the protocol (one pub/sub message, one assignment per node), its p99 is the CPU scheduler — a node
process that is not on a core when \`promote\` arrives swaps when the kernel next runs it, a scheduler
slice or two later with ten runnable threads on two cores. The workers' lower priority gives the main
threads the CPU sooner; it cannot give a third core. On machines where each node has cores of its own
(production), the idle rows of *Swaps under load* are what the protocol costs.
`;
}
