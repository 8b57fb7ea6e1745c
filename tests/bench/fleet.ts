/**
 * Fleet benchmarks on real processes (redis-server, s3rver, `cutover controller`, `cutover node`s):
 *
 *   swaps     3 nodes, load at concurrency 32: a no-swap phase, then 100 alternating activations and
 *             rollbacks. Failed requests; p99 latency while swapping ÷ p99 without; switch spread p99
 *             (first → last node's `promoted` report, over the 50 rollbacks); rollback to the warm
 *             version: API call → answer (the controller answers once every node confirmed serving it).
 *   memory    2 nodes with CUTOVER_KEEP_WARM=0 (every swap loads a session and releases the old one):
 *             1,000 swaps; node RSS after the first 50 and at the end.
 */
import { readFileSync } from "node:fs";
import type { HistoryEntry } from "../../core/model-state.js";
import { MODEL } from "../support/controller-harness.js";
import { type Fleet, startFleet } from "../support/fleet-harness.js";
import { loadGenerator } from "../support/node-harness.js";

export interface SwapBench {
  readonly swaps: number;
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
  readonly rssAfterWarmupMiB: number[];
  readonly rssAtEndMiB: number[];
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

export async function benchSwaps(options: {
  swaps: number;
  idleMs: number;
  log: (line: string) => void;
}): Promise<SwapBench> {
  const fleet = await startFleet({ nodes: 3, compiled: true });
  try {
    await fleet.activate("v1");
    const urls = fleet.nodes.map((node) => node.url);
    options.log(`no-swap phase: ${options.idleMs} ms at concurrency 32`);
    const idle = loadGenerator(urls, 32);
    await new Promise((resolve) => setTimeout(resolve, options.idleMs));
    const idleAnswers = await idle.stop();

    options.log(`${options.swaps} swaps under the same load`);
    const swapping = loadGenerator(urls, 32);
    const rollbacks: number[] = [];
    let unconfirmed = 0;
    for (let i = 0; i < options.swaps; i++) {
      const { ok, ms } = await flip(fleet, i);
      if (!ok) unconfirmed++;
      if (i % 2 === 1) rollbacks.push(ms);
    }
    const swapAnswers = await swapping.stop();
    const response = await fetch(`${fleet.controller.url}/v1/models/${MODEL}/history?limit=${options.swaps}`);
    const { history } = (await response.json()) as { history: HistoryEntry[] };
    const spreads = history
      .filter((entry) => entry.action === "rollback")
      .flatMap((entry) => (entry.switchSpreadMs === undefined ? [] : [entry.switchSpreadMs]));
    const latency = (answers: typeof idleAnswers) =>
      answers.filter((a) => a.status === 200).map((a) => a.at - a.sentAt);
    const p99IdleMs = percentile(latency(idleAnswers), 99);
    const p99SwappingMs = percentile(latency(swapAnswers), 99);
    if (unconfirmed > 0) options.log(`${unconfirmed} flip(s) were not confirmed by every node`);
    return {
      swaps: options.swaps,
      requestsIdle: idleAnswers.length,
      requestsSwapping: swapAnswers.length,
      failed: swapAnswers.filter((a) => a.status !== 200).length + idleAnswers.filter((a) => a.status !== 200).length,
      p99IdleMs,
      p99SwappingMs,
      p99Ratio: p99SwappingMs / p99IdleMs,
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

export async function benchMemory(options: { swaps: number; log: (line: string) => void }): Promise<MemoryBench> {
  const fleet = await startFleet({ nodes: 2, compiled: true, nodeEnv: { CUTOVER_KEEP_WARM: "0" } });
  try {
    await fleet.activate("v1");
    const pids = fleet.nodes.map((node) => node.child.pid);
    let rssAfterWarmupMiB: number[] = [];
    for (let i = 0; i < options.swaps; i++) {
      const result = await fleet.activate(i % 2 === 0 ? "v2" : "v1");
      if (result.status !== 200) throw new Error(`swap ${i} failed: ${JSON.stringify(result.body)}`);
      if (i === 49) rssAfterWarmupMiB = pids.map(rssMiB);
      if ((i + 1) % 200 === 0)
        options.log(`${i + 1} swaps, node RSS ${pids.map((pid) => rssMiB(pid).toFixed(1)).join(" / ")} MiB`);
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
    const rssAtEndMiB = pids.map(rssMiB);
    const growth = rssAtEndMiB.map((end, i) => end / (rssAfterWarmupMiB[i] ?? end) - 1);
    return { swaps: options.swaps, rssAfterWarmupMiB, rssAtEndMiB, worstGrowth: Math.max(...growth) };
  } finally {
    await fleet.stop();
  }
}
