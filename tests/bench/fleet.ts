/**
 * Fleet benchmarks on real processes (redis-server, s3rver, `cutover controller`, `cutover node`s):
 *
 *   swaps     3 nodes, load at concurrency 32: a no-swap phase, then 100 alternating activations and
 *             rollbacks. Failed requests; p99 latency while swapping ÷ p99 without; switch spread p99
 *             (first → last node's `promoted` report, over the 50 rollbacks); rollback to the warm
 *             version: API call → answer (the controller answers once every node confirmed serving it).
 *   memory    2 nodes, 1,000 swaps, with the default keep-warm (both versions resident) and with
 *             CUTOVER_KEEP_WARM=0 (every swap loads a session and releases the old one), node RSS after
 *             a forced full collection; beside them onnxruntime alone cycling sessions.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { HistoryEntry } from "../../core/model-state.js";
import { MODEL } from "../support/controller-harness.js";
import { type Fleet, startFleet } from "../support/fleet-harness.js";
import { DEMO } from "../support/registry-contract.js";
import { runNodeScript, startNodeScript } from "./node-script.js";

/** What tests/bench/load-worker.mjs prints. */
interface LoadSummary {
  readonly ok: number;
  readonly failed: number;
  readonly seconds: number;
  readonly p50: number;
  readonly p99: number;
  readonly versions: Readonly<Record<string, number>>;
}

const REQUEST = JSON.stringify({
  inputs: [{ name: "features", shape: [1, 4], datatype: "FP32", data: [0.5, -1.2, 3.3, 0.1] }],
});

export interface SwapBench {
  readonly swaps: number;
  /** Answers per model_version while swapping. */
  readonly versionsSwapping: Readonly<Record<string, number>>;
  /** The same flips with no load, before the load starts: what the protocol costs on idle cores. */
  readonly quietRollbackP50Ms: number;
  readonly quietRollbackMaxMs: number;
  readonly quietSpreadP50Ms: number;
  readonly quietSpreadMaxMs: number;
  readonly requestsIdle: number;
  readonly requestsSwapping: number;
  readonly failed: number;
  readonly p99IdleMs: number;
  readonly p99SwappingMs: number;
  readonly p99Ratio: number;
  readonly spreadP99Ms: number;
  readonly spreadMaxMs: number;
  readonly rollbackP50Ms: number;
  readonly rollbackP99Ms: number;
  readonly rollbackMaxMs: number;
}

export interface MemoryBench {
  readonly swaps: number;
  readonly keepWarm: number;
  readonly trend: RssTrend;
  readonly worstGrowth: number;
}

export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

function rssMiB(pid: number | undefined): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? Number.NaN);
  return kb / 1024;
}

async function flip(fleet: Fleet, i: number): Promise<{ ok: boolean; ms: number }> {
  const started = performance.now();
  const result = i % 2 === 0 ? await fleet.activate("v2") : await fleet.rollback();
  return { ok: result.status === 200 && result.body.confirmed === fleet.nodes.length, ms: performance.now() - started };
}

/** Switch spreads of the rollbacks among the last `flips` history entries. */
async function rollbackSpreads(fleet: Fleet, flips: number): Promise<number[]> {
  const response = await fetch(`${fleet.controller.url}/v1/models/${MODEL}/history?limit=${flips}`);
  const { history } = (await response.json()) as { history: HistoryEntry[] };
  return history
    .filter((entry) => entry.action === "rollback")
    .flatMap((entry) => (entry.switchSpreadMs === undefined ? [] : [entry.switchSpreadMs]));
}

export async function benchSwaps(options: {
  swaps: number;
  idleMs: number;
  log: (line: string) => void;
}): Promise<SwapBench> {
  const fleet = await startFleet({ nodes: 3, compiled: true });
  try {
    await fleet.activate("v1");
    const quietFlips = 20;
    options.log(`${quietFlips} swaps with no load`);
    const quietRollbacks: number[] = [];
    for (let i = 0; i < quietFlips; i++) {
      const { ms } = await flip(fleet, i);
      if (i % 2 === 1) quietRollbacks.push(ms);
    }
    const quietSpreads = await rollbackSpreads(fleet, quietFlips);
    // The load comes from a process of its own: this one only times the API calls.
    const urls = fleet.nodes.map((node) => `${node.url}/v2/models/${MODEL}/infer`).join(",");
    const loadArgs = (ms: number) => [
      join(import.meta.dirname, "load-worker.mjs"),
      urls,
      "32",
      String(ms),
      REQUEST,
      "500",
    ];
    options.log(`no-swap phase: ${options.idleMs} ms at concurrency 32`);
    const idle = await runNodeScript<LoadSummary>(loadArgs(options.idleMs));

    options.log(`${options.swaps} swaps under the same load`);
    const swapping = startNodeScript<LoadSummary>(loadArgs(0));
    await new Promise((resolve) => setTimeout(resolve, 500));
    // Flips spread over about as long as the no-swap phase, so both latency samples cover alike spans.
    const pauseMs = Math.max(0, options.idleMs / options.swaps - 20);
    const rollbacks: number[] = [];
    let unconfirmed = 0;
    for (let i = 0; i < options.swaps; i++) {
      const { ok, ms } = await flip(fleet, i);
      if (!ok) unconfirmed++;
      if (i % 2 === 1) rollbacks.push(ms);
      await new Promise((resolve) => setTimeout(resolve, pauseMs));
    }
    const swap = await swapping.stop();
    const spreads = await rollbackSpreads(fleet, options.swaps);
    if (unconfirmed > 0) options.log(`${unconfirmed} flip(s) were not confirmed by every node`);
    return {
      swaps: options.swaps,
      quietRollbackP50Ms: percentile(quietRollbacks, 50),
      quietRollbackMaxMs: Math.max(...quietRollbacks),
      quietSpreadP50Ms: percentile(quietSpreads, 50),
      quietSpreadMaxMs: Math.max(...quietSpreads),
      requestsIdle: idle.ok + idle.failed,
      requestsSwapping: swap.ok + swap.failed,
      failed: idle.failed + swap.failed,
      versionsSwapping: swap.versions,
      p99IdleMs: idle.p99,
      p99SwappingMs: swap.p99,
      p99Ratio: swap.p99 / idle.p99,
      spreadP99Ms: percentile(spreads, 99),
      spreadMaxMs: Math.max(...spreads),
      rollbackP50Ms: percentile(rollbacks, 50),
      rollbackP99Ms: percentile(rollbacks, 99),
      rollbackMaxMs: Math.max(...rollbacks),
    };
  } finally {
    await fleet.stop();
  }
}

/** [swaps done, RSS MiB per process after a full collection], after the first 50 and every 100. */
export type RssTrend = [number, number[]][];

const sampleAt = (done: number, total: number) => done === 50 || (done % 100 === 0 && done > 50) || done === total;

/** Growth of the worst process from the first sample (after 50) to the last. */
export function worstGrowth(trend: RssTrend): number {
  const first = trend[0]?.[1] ?? [];
  const last = trend.at(-1)?.[1] ?? [];
  return Math.max(...last.map((end, i) => end / (first[i] ?? end) - 1));
}

/**
 * Two node processes, `swaps` activations alternating v1/v2. With keepWarm 0 every swap creates an
 * onnxruntime session and releases the previous one; with the default (1) both versions stay
 * resident. Each sample is taken after a full garbage collection in every node (--expose-gc, SIGUSR2
 * through gc-on-signal.mjs), so garbage not yet collected is not counted.
 */
export async function benchMemory(options: {
  swaps: number;
  keepWarm: number;
  log: (line: string) => void;
}): Promise<MemoryBench> {
  const gcOnSignal = pathToFileURL(join(import.meta.dirname, "gc-on-signal.mjs")).href;
  const fleet = await startFleet({
    nodes: 2,
    compiled: true,
    nodeEnv: { CUTOVER_KEEP_WARM: String(options.keepWarm) },
    nodeArgs: ["--expose-gc", "--import", gcOnSignal],
  });
  try {
    await fleet.activate("v1");
    const pids = fleet.nodes.map((node) => node.child.pid);
    const settledRss = async () => {
      for (const node of fleet.nodes) node.child.kill("SIGUSR2");
      await new Promise((resolve) => setTimeout(resolve, 500));
      return pids.map(rssMiB);
    };
    const trend: RssTrend = [];
    for (let i = 1; i <= options.swaps; i++) {
      const result = await fleet.activate(i % 2 === 1 ? "v2" : "v1");
      if (result.status !== 200) throw new Error(`swap ${i} failed: ${JSON.stringify(result.body)}`);
      if (sampleAt(i, options.swaps)) {
        const rss = await settledRss();
        trend.push([i, rss]);
        if (i % 200 === 0)
          options.log(
            `keep-warm ${options.keepWarm}: ${i} swaps, node RSS ${rss.map((v) => v.toFixed(1)).join(" / ")} MiB`,
          );
      }
    }
    return { swaps: options.swaps, keepWarm: options.keepWarm, trend, worstGrowth: worstGrowth(trend) };
  } finally {
    await fleet.stop();
  }
}

/** onnxruntime-node alone, session create/run/release `cycles` times (tests/bench/session-cycle.mjs). */
export async function benchSessionCycles(cycles: number): Promise<RssTrend> {
  const samples = await runNodeScript<[number, number][]>([
    "--expose-gc",
    join(import.meta.dirname, "session-cycle.mjs"),
    join(DEMO, "v1", "model.onnx"),
    String(cycles),
  ]);
  return samples.map(([done, rss]) => [done, [rss]]);
}
