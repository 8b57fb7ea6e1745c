/**
 * Binary tensor data against JSON on a large input: one `cutover node` process (compiled build, one
 * intra-op thread) serving models/pool (ReduceMean of an FP32 [1, 3, 640, 640] image → 3 floats, so
 * the request dominates), the same pixels sent as a JSON `data` array and as raw little-endian bytes
 * after a JSON header. The load comes from tests/bench/load-worker.mjs in a process of its own. Rounds
 * alternate (JSON, binary, JSON, …); the figure is the median over rounds of binary ÷ the JSON round
 * just before it.
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { MODEL } from "../support/controller-harness.js";
import { startFleet } from "../support/fleet-harness.js";
import { tempDir } from "../support/temp-dir.js";
import { cpuSeconds, type LoadResult, median } from "./infer-throughput.js";
import { runNodeScript } from "./node-script.js";

const ROOT = join(import.meta.dirname, "../..");
const SHAPE = [1, 3, 640, 640];

export interface BinaryThroughputBench {
  readonly concurrency: number;
  readonly roundMs: number;
  readonly rounds: number;
  readonly jsonBytes: number;
  readonly binaryBytes: number;
  readonly json: LoadResult[];
  readonly binary: LoadResult[];
  readonly jsonRps: number;
  readonly binaryRps: number;
  /** binary ÷ JSON per round (each pair run back to back). */
  readonly ratios: number[];
  /** The median of `ratios`. */
  readonly ratio: number;
}

/** Pixel-like values with three decimals (a short JSON spelling: the JSON body stays under 16 MiB). */
function pixels(): Float32Array {
  const values = new Float32Array(SHAPE.reduce((a, b) => a * b, 1));
  let state = 7;
  for (let i = 0; i < values.length; i++) {
    state = (Math.imul(state, 1_103_515_245) + 12_345) >>> 0;
    values[i] = Math.round((state / 2 ** 32) * 1000) / 1000;
  }
  return values;
}

/** The two request bodies: JSON (numbers as JavaScript spells them) and binary (header + bytes). */
function bodies(values: Float32Array): { json: Buffer; binary: Buffer; headerLength: number } {
  const json = Buffer.from(
    JSON.stringify({
      inputs: [
        { name: "image", shape: SHAPE, datatype: "FP32", data: Array.from(values, (v) => Math.round(v * 1000) / 1000) },
      ],
    }),
  );
  const header = Buffer.from(
    JSON.stringify({
      inputs: [{ name: "image", shape: SHAPE, datatype: "FP32", parameters: { binary_data_size: values.byteLength } }],
    }),
  );
  const binary = Buffer.concat([header, new Uint8Array(values.buffer, values.byteOffset, values.byteLength)]);
  return { json, binary, headerLength: header.length };
}

export async function benchBinaryThroughput(options: {
  concurrency: number;
  roundMs: number;
  rounds: number;
  log: (line: string) => void;
}): Promise<BinaryThroughputBench> {
  const work = await tempDir("cutover-bench-binary-");
  const fleet = await startFleet({
    nodes: 1,
    compiled: true,
    nodeEnv: { CUTOVER_INTRA_OP_THREADS: "1" },
    versions: [{ version: "pool", path: join(ROOT, "models/pool/v1") }],
  });
  try {
    const activated = await fleet.activate("pool");
    if (activated.status !== 200) throw new Error(`activate pool: ${JSON.stringify(activated.body)}`);
    const node = fleet.nodes[0];
    if (node === undefined) throw new Error("the fleet has no node");
    const url = `${node.url}/v2/models/${MODEL}/infer`;
    const { json, binary, headerLength } = bodies(pixels());
    const files = { json: join(work.path, "request.json"), binary: join(work.path, "request.bin") };
    await writeFile(files.json, json);
    await writeFile(files.binary, binary);
    const headers = {
      json: "{}",
      binary: JSON.stringify({
        "content-type": "application/octet-stream",
        "inference-header-content-length": String(headerLength),
      }),
    };
    const load = async (which: "json" | "binary", ms: number): Promise<LoadResult> => {
      const pid = node.child.pid;
      const before = cpuSeconds(pid);
      const args = [join(ROOT, "tests/bench/load-worker.mjs"), url, String(options.concurrency), String(ms)];
      const result = await runNodeScript<Omit<LoadResult, "serverCpuUs">>([
        ...args,
        `@${files[which]}`,
        "0",
        headers[which],
      ]);
      return { ...result, serverCpuUs: ((cpuSeconds(pid) - before) / Math.max(1, result.ok)) * 1e6 };
    };
    await load("json", 2_000);
    await load("binary", 2_000);
    const results = { json: [] as LoadResult[], binary: [] as LoadResult[] };
    const rps = (result: LoadResult) => result.ok / result.seconds;
    for (let round = 1; round <= options.rounds; round++) {
      for (const which of ["json", "binary"] as const) {
        const result = await load(which, options.roundMs);
        if (result.failed > 0) throw new Error(`${which}: ${result.failed} request(s) failed`);
        results[which].push(result);
        options.log(
          `binary round ${round} ${which}: ${rps(result).toFixed(1)} req/s, p50 ${result.p50.toFixed(1)} ms, ` +
            `server CPU ${(result.serverCpuUs / 1000).toFixed(2)} ms/request`,
        );
      }
    }
    const ratios = results.binary.map((run, i) => rps(run) / rps(results.json[i] ?? run));
    return {
      ...options,
      ...results,
      jsonBytes: json.length,
      binaryBytes: binary.length,
      jsonRps: median(results.json.map(rps)),
      binaryRps: median(results.binary.map(rps)),
      ratios,
      ratio: median(ratios),
    };
  } finally {
    await fleet.stop();
    await work.cleanup();
  }
}
