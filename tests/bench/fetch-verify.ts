/**
 * Fetch + verify against a raw GET of the same bytes, from the same S3-protocol server, in the same
 * run: runs alternate (raw, raw into a file, fetch, …) so drift on a noisy machine hits all alike, and
 * each run is a fresh process (its peak RSS is its own). The artifact is one large random file
 * beside the demo model, pushed with `pushVersion` (multipart).
 */
import { randomBytes } from "node:crypto";
import { cp, open, rm } from "node:fs/promises";
import { join } from "node:path";
import { pushVersion } from "../../controller/publisher.js";
import { ArtifactLayout } from "../../core/artifact-layout.js";
import { ModelRegistry } from "../../core/registry.js";
import { S3Store } from "../../core/store/index.js";
import { startS3Server } from "../support/s3-server.js";
import { testKeyPair } from "../support/signing.js";
import { tempDir } from "../support/temp-dir.js";
import { runNodeScript } from "./node-script.js";

export interface FetchVerifyResult {
  readonly server: string;
  readonly objectBytes: number;
  readonly rounds: number;
  /** GET, body dropped. */
  readonly rawMBps: number;
  /** GET streamed into a file. */
  readonly rawFileMBps: number;
  readonly fetchMBps: number;
  /** fetch ÷ GET into a file per round. */
  readonly ratios: number[];
  /** The median of `ratios`: what verification costs over a plain download. */
  readonly ratio: number;
  /** fetch ÷ GET dropped: also counts the disk write any download pays. */
  readonly ratioToDiscard: number;
  readonly peakRssGrowthMiB: number;
  readonly runs: readonly WorkerResult[];
}

/** What fetch-worker.ts measures: see its header. */
export type Mode = "raw" | "rawfile" | "fetch" | "single";

export interface WorkerResult {
  mode: Mode;
  bytes: number;
  seconds: number;
  cpuSeconds: number;
  rssBefore: number;
  peakRss: number;
  /** Event-loop delay during the transfer (perf_hooks.monitorEventLoopDelay, 10 ms resolution), ms. */
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
}

const ROOT = join(import.meta.dirname, "../..");

export function runWorker(mode: Mode, env: Record<string, string>): Promise<WorkerResult> {
  return runNodeScript<WorkerResult>(
    [
      "--expose-gc",
      ...(process.env.BENCH_NODE_ARGS?.split(" ").filter(Boolean) ?? []),
      "--import",
      "tsx",
      join(ROOT, "tests/bench/fetch-worker.ts"),
      mode,
    ],
    { ...process.env, ...env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" },
  );
}

async function writeRandomFile(path: string, bytes: number): Promise<void> {
  const file = await open(path, "w");
  const chunk = 16 * 1024 * 1024;
  for (let written = 0; written < bytes; written += chunk)
    await file.write(randomBytes(Math.min(chunk, bytes - written)));
  await file.close();
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

/** A bench artifact on a fresh S3-protocol server: the demo model plus one random `weights.bin`. */
export interface BenchArtifact {
  readonly server: string;
  /** The BENCH_* variables fetch-worker.ts reads. */
  readonly env: Record<string, string>;
  readonly cacheDir: string;
  close(): Promise<void>;
}

export async function pushBenchArtifact(bytes: number, log: (line: string) => void): Promise<BenchArtifact> {
  const server = await startS3Server();
  const work = await tempDir("cutover-bench-");
  const close = async () => {
    await work.cleanup();
    await server.stop();
  };
  try {
    const owner = testKeyPair();
    const model = join(work.path, "model");
    await cp(join(ROOT, "models/demo-classifier/v1"), model, { recursive: true });
    log(`writing a ${bytes} byte artifact`);
    await writeRandomFile(join(model, "weights.bin"), bytes);
    const bucket = await server.createBucket("bench");
    const store = new S3Store({
      bucket,
      endpoint: server.endpoint,
      forcePathStyle: true,
      credentials: server.credentials,
    });
    log(`pushing it to ${server.kind} at ${server.endpoint}`);
    await pushVersion(new ModelRegistry(store, new ArtifactLayout()), {
      path: model,
      model: "bench",
      version: "v1",
      signingKey: owner.signer,
    });
    store.close();
    await rm(join(model, "weights.bin"));
    const cacheDir = join(work.path, "cache");
    const env = {
      BENCH_S3_ENDPOINT: server.endpoint,
      BENCH_S3_BUCKET: bucket,
      BENCH_S3_KEY_ID: server.credentials.accessKeyId,
      BENCH_S3_SECRET: server.credentials.secretAccessKey,
      BENCH_OBJECT_KEY: "bench/v1/weights.bin",
      BENCH_CACHE_DIR: cacheDir,
      BENCH_PUBLIC_PEM: owner.publicPem,
      BENCH_MODEL: "bench",
      BENCH_VERSION: "v1",
    };
    return { server: server.kind, env, cacheDir, close };
  } catch (error) {
    await close();
    throw error;
  }
}

export async function benchFetchVerify(options: {
  bytes: number;
  rounds: number;
  log: (line: string) => void;
}): Promise<FetchVerifyResult> {
  const artifact = await pushBenchArtifact(options.bytes, options.log);
  try {
    const { env, cacheDir } = artifact;
    const runs: WorkerResult[] = [];
    for (let round = 1; round <= options.rounds; round++) {
      // The fetch as one GET stream, like the plain download it is compared with: what verification costs.
      // Parallel ranged GETs are set beside one GET in ranged-fetch.ts.
      for (const mode of ["raw", "rawfile", "single"] as const) {
        await rm(cacheDir, { recursive: true, force: true });
        const result = await runWorker(mode, env);
        options.log(
          `round ${round} ${mode}: ${(result.bytes / result.seconds / 1e6).toFixed(0)} MB/s, ${result.cpuSeconds.toFixed(2)} CPU s in ${result.seconds.toFixed(2)} s, peak RSS +${((result.peakRss - result.rssBefore) / 2 ** 20).toFixed(1)} MiB, loop delay p99 ${result.loopDelayP99Ms.toFixed(1)} ms`,
        );
        runs.push(result);
      }
    }
    await rm(cacheDir, { recursive: true, force: true });
    const throughput = (mode: string) =>
      median(runs.filter((r) => r.mode === mode).map((r) => r.bytes / r.seconds / 1e6));
    const rawMBps = throughput("raw");
    const rawFileMBps = throughput("rawfile");
    const fetchMBps = throughput("single");
    // fetch ÷ GET → file within each round (run back to back), median over rounds: drift cancels per pair.
    const mbps = (mode: string) => runs.filter((r) => r.mode === mode).map((r) => r.bytes / r.seconds / 1e6);
    const fetchRuns = mbps("single");
    const ratios = mbps("rawfile").map((raw, i) => (fetchRuns[i] ?? 0) / raw);
    const growth = Math.max(...runs.filter((r) => r.mode === "single").map((r) => r.peakRss - r.rssBefore));
    return {
      server: artifact.server,
      objectBytes: options.bytes,
      rounds: options.rounds,
      rawMBps,
      rawFileMBps,
      fetchMBps,
      ratios,
      ratio: median(ratios),
      ratioToDiscard: fetchMBps / rawMBps,
      peakRssGrowthMiB: growth / 2 ** 20,
      runs,
    };
  } finally {
    await artifact.close();
  }
}
