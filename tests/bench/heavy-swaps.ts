/**
 * Switch spread under heavy load (issue: "switch spread p99 under heavy load, 3 nodes ≤ 5 ms"): three
 * `cutover node` processes (compiled build) serving the mixer model (batchable, ~35 ms a run on one
 * core) from one worker each, kept saturated by a load process of its own (4 connections per node:
 * three workers computing on 2 cores, requests queued), while the controller flips between two
 * resident versions. The spread is the nodes' own `promoted` timestamps (sub-millisecond, one host,
 * one clock), read from history. Run twice, with the default CUTOVER_WORKER_NICE and with 0, in fleets
 * of their own, so the figure says what the workers' lower priority buys.
 */
import { join } from "node:path";
import type { HistoryEntry } from "../../core/model-state.js";
import { startFleet } from "../support/fleet-harness.js";
import { percentile } from "./fleet.js";
import { startNodeScript } from "./node-script.js";

const ROOT = join(import.meta.dirname, "../..");
const MODEL = "mixer";

const wave = (length: number, phase: number) =>
  Array.from({ length }, (_, i) => Math.round(Math.sin(i * phase) * 1e4) / 1e4);
const REQUEST = JSON.stringify({
  inputs: [
    { name: "x", shape: [1, 1024], datatype: "FP32", data: wave(1024, 0.02) },
    { name: "offset", shape: [1, 2], datatype: "FP32", data: [0.5, 1.5] },
  ],
});

interface LoadSummary {
  readonly ok: number;
  readonly failed: number;
  readonly seconds: number;
  readonly p99: number;
}

export interface HeavySwapRun {
  readonly nice: number;
  readonly flips: number;
  readonly unconfirmed: number;
  readonly spreads: readonly number[];
  readonly spreadP50Ms: number;
  readonly spreadP99Ms: number;
  readonly flipP50Ms: number;
  readonly flipP99Ms: number;
  readonly requests: number;
  readonly failed: number;
  readonly rps: number;
}

export interface HeavySwapBench {
  readonly niced: HeavySwapRun;
  readonly plain: HeavySwapRun;
}

async function run(nice: number, flips: number, log: (line: string) => void): Promise<HeavySwapRun> {
  const fleet = await startFleet({
    nodes: 3,
    compiled: true,
    models: [
      {
        model: MODEL,
        modelFile: join(ROOT, "models", MODEL, "v1/model.onnx"),
        goldenPath: join(ROOT, "models", MODEL, "v1/golden.json"),
        versions: ["v1", "v2"],
      },
    ],
    perNodeEnv: Array.from({ length: 3 }, () => ({
      CUTOVER_MODELS: MODEL,
      CUTOVER_INSTANCES: "1",
      CUTOVER_INTRA_OP_THREADS: "1",
      CUTOVER_WORKER_NICE: String(nice),
    })),
  });
  try {
    for (const version of ["v1", "v2"]) {
      const answer = await fleet.activateModel(MODEL, version);
      if (answer.status !== 200) throw new Error(`activate ${MODEL}/${version}: ${JSON.stringify(answer.body)}`);
    }
    const urls = fleet.nodes.map((node) => `${node.url}/v2/models/${MODEL}/infer`).join(",");
    const loading = startNodeScript<LoadSummary>([
      join(ROOT, "tests/bench/load-worker.mjs"),
      urls,
      String(4 * fleet.nodes.length),
      "0",
      REQUEST,
      "500",
    ]);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const times: number[] = [];
    let unconfirmed = 0;
    for (let i = 0; i < flips; i++) {
      const started = performance.now();
      const answer = i % 2 === 0 ? await fleet.rollbackModel(MODEL) : await fleet.activateModel(MODEL, "v2");
      times.push(performance.now() - started);
      if (answer.status !== 200 || answer.body.confirmed !== fleet.nodes.length) unconfirmed++;
      await new Promise((resolve) => setTimeout(resolve, 150));
    }
    const load = await loading.stop();
    const response = await fetch(`${fleet.controller.url}/v1/models/${MODEL}/history?limit=${flips}`);
    const { history } = (await response.json()) as { history: HistoryEntry[] };
    const spreads = history.flatMap((entry) => (entry.switchSpreadMs === undefined ? [] : [entry.switchSpreadMs]));
    const result: HeavySwapRun = {
      nice,
      flips,
      unconfirmed,
      spreads,
      spreadP50Ms: percentile(spreads, 50),
      spreadP99Ms: percentile(spreads, 99),
      flipP50Ms: percentile(times, 50),
      flipP99Ms: percentile(times, 99),
      requests: load.ok + load.failed,
      failed: load.failed,
      rps: load.ok / load.seconds,
    };
    log(
      `heavy swaps, worker nice ${nice}: spread p50 ${result.spreadP50Ms.toFixed(2)} p99 ${result.spreadP99Ms.toFixed(2)} ms over ${spreads.length} flips; ${result.rps.toFixed(0)} req/s, ${load.failed} failed`,
    );
    return result;
  } finally {
    await fleet.stop();
  }
}

export async function benchHeavySwaps(options: {
  flips: number;
  defaultNice: number;
  log: (line: string) => void;
}): Promise<HeavySwapBench> {
  const niced = await run(options.defaultNice, options.flips, options.log);
  const plain = await run(0, options.flips, options.log);
  return { niced, plain };
}

const ms = (value: number) => `${value.toFixed(2)} ms`;

/** The rows this bench adds to the heavy section's table, and its paragraph. */
export function heavySwapsRows(result: HeavySwapBench): string {
  const { niced, plain } = result;
  const ok = niced.spreadP99Ms <= 5 && niced.failed === 0;
  return `| switch spread under heavy load, 3 nodes (mixer, 1 worker each, 12 connections), p99 over ${niced.spreads.length} flips | **${ms(niced.spreadP99Ms)}** (p50 ${ms(niced.spreadP50Ms)}; flip API call p50 ${ms(niced.flipP50Ms)}, p99 ${ms(niced.flipP99Ms)}; ${niced.failed} of ${niced.requests} requests failed) | ≤ 5 ms, 0 failed | ${ok ? "met" : "**missed**"} |
| the same with \`CUTOVER_WORKER_NICE=0\` (workers at the main thread's priority) | ${ms(plain.spreadP99Ms)} (p50 ${ms(plain.spreadP50Ms)}; flip p50 ${ms(plain.flipP50Ms)}, p99 ${ms(plain.flipP99Ms)}; ${plain.failed} of ${plain.requests} failed) | — | what the priority buys |`;
}
