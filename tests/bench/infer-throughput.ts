/**
 * Infer throughput of a `cutover node` process against a bare `node:http` server calling onnxruntime
 * directly (tests/bench/bare-server.mjs), on the same model file, the same request and the same
 * concurrency. Each server is a process of its own with one intra-op thread; the load comes from a
 * separate process (tests/bench/load-worker.mjs) with keep-alive connections. The node runs the
 * compiled build (dist/, what `npm ci` installs); the bare server and the load generator are plain
 * JavaScript. Rounds alternate
 * (bare, cutover, bare, …); the figure is the median over rounds of cutover ÷ the bare run just before
 * it, so drift on a noisy machine cancels within each pair.
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { MODEL } from "../support/controller-harness.js";
import { startFleet } from "../support/fleet-harness.js";
import { freePort, waitForPort } from "../support/free-port.js";
import { DEMO } from "../support/registry-contract.js";
import { runNodeScript } from "./node-script.js";

const ROOT = join(import.meta.dirname, "../..");

export interface LoadResult {
  readonly ok: number;
  readonly failed: number;
  readonly seconds: number;
  readonly p50: number;
  readonly p99: number;
  /** CPU time (user + system, all threads) the server process spent per answered request, µs. */
  readonly serverCpuUs: number;
}

/** user + system CPU seconds of a process, all its threads (Linux /proc). */
export function cpuSeconds(pid: number | undefined): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

export interface InferThroughputBench {
  readonly concurrency: number;
  readonly roundMs: number;
  readonly rounds: number;
  readonly bare: LoadResult[];
  readonly cutover: LoadResult[];
  readonly bareRps: number;
  readonly cutoverRps: number;
  /** cutover ÷ bare per round (each pair run back to back). */
  readonly ratios: number[];
  /** The median of `ratios`. */
  readonly ratio: number;
}

const REQUEST = JSON.stringify({
  inputs: [{ name: "features", shape: [1, 4], datatype: "FP32", data: [0.5, -1.2, 3.3, 0.1] }],
});

function node(script: string, args: string[]) {
  return spawn(process.execPath, [join(ROOT, script), ...args], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
}

async function load(url: string, pid: number | undefined, concurrency: number, ms: number): Promise<LoadResult> {
  const before = cpuSeconds(pid);
  const result = await runNodeScript<Omit<LoadResult, "serverCpuUs">>([
    join(ROOT, "tests/bench/load-worker.mjs"),
    url,
    String(concurrency),
    String(ms),
    REQUEST,
  ]);
  return { ...result, serverCpuUs: ((cpuSeconds(pid) - before) / Math.max(1, result.ok)) * 1e6 };
}

const rps = (result: LoadResult) => result.ok / result.seconds;

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] ?? 0) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

export async function benchInferThroughput(options: {
  concurrency: number;
  roundMs: number;
  rounds: number;
  log: (line: string) => void;
}): Promise<InferThroughputBench> {
  const fleet = await startFleet({ nodes: 1, compiled: true, nodeEnv: { CUTOVER_INTRA_OP_THREADS: "1" } });
  const barePort = await freePort();
  const bare = node("tests/bench/bare-server.mjs", [join(DEMO, "v1", "model.onnx"), String(barePort), "1"]);
  try {
    await fleet.activate("v1");
    await waitForPort(barePort, 30_000);
    const node = fleet.nodes[0];
    if (node === undefined) throw new Error("the fleet has no node");
    const servers = {
      bare: { url: `http://127.0.0.1:${barePort}/v2/models/${MODEL}/infer`, pid: bare.pid },
      cutover: { url: `${node.url}/v2/models/${MODEL}/infer`, pid: node.child.pid },
    };
    // Warm both (JIT, connection setup) before measuring.
    await load(servers.bare.url, servers.bare.pid, options.concurrency, 1_000);
    await load(servers.cutover.url, servers.cutover.pid, options.concurrency, 1_000);
    const results = { bare: [] as LoadResult[], cutover: [] as LoadResult[] };
    for (let round = 1; round <= options.rounds; round++) {
      for (const which of ["bare", "cutover"] as const) {
        const { url, pid } = servers[which];
        const result = await load(url, pid, options.concurrency, options.roundMs);
        if (result.failed > 0) throw new Error(`${which}: ${result.failed} request(s) failed`);
        results[which].push(result);
        options.log(
          `infer round ${round} ${which}: ${rps(result).toFixed(0)} req/s, p99 ${result.p99.toFixed(1)} ms, ` +
            `server CPU ${result.serverCpuUs.toFixed(1)} µs/request`,
        );
      }
    }
    const bareRps = median(results.bare.map(rps));
    const cutoverRps = median(results.cutover.map(rps));
    // Each cutover round against the bare round just before it (paired, so drift between rounds cancels).
    const ratios = results.cutover.map((run, i) => rps(run) / rps(results.bare[i] ?? run));
    return { ...options, ...results, bareRps, cutoverRps, ratios, ratio: median(ratios) };
  } finally {
    bare.kill("SIGTERM");
    await fleet.stop();
  }
}
