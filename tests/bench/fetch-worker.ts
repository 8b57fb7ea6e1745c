/**
 * One measurement, in a process of its own so that its memory is its own:
 *   raw      GET of one object, body read and dropped
 *   rawfile  GET of one object streamed into a file (what a download without cutover does)
 *   fetch    cutover's fetch + verify of the whole version into an empty cache, with a node's default
 *            settings (a file of 128 MiB or more as parallel ranged GETs: 64 MiB parts, 4 at once)
 *   single   the same, every file as one GET stream (what cutover did before ranged GETs)
 * Prints one JSON line: bytes, seconds, CPU seconds, RSS before, peak RSS during the transfer (the
 * kernel's high-water mark, reset just before it), and the event loop's delay during the transfer
 * (p99 and max of perf_hooks.monitorEventLoopDelay): how long the main thread was kept from other work.
 *
 *   tsx tests/bench/fetch-worker.ts raw|rawfile|fetch|single  (configured by the BENCH_* variables fetch-verify.ts sets)
 */
import { createWriteStream, readFileSync, writeFileSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import type { Readable } from "node:stream";
import { finished, pipeline } from "node:stream/promises";
import { GetObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { ArtifactLayout } from "../../core/artifact-layout.js";
import { DEFAULT_RANGED } from "../../core/download/index.js";
import { trustedKeyFromPem } from "../../core/oms/keys.js";
import { ModelRegistry } from "../../core/registry.js";
import { S3Store } from "../../core/store/index.js";
import { VersionFetcher } from "../../core/version-fetcher.js";

const mode = process.argv[2];
const env = (name: string): string => {
  const value = process.env[name];
  if (value === undefined) throw new Error(`${name} is not set`);
  return value;
};
const endpoint = env("BENCH_S3_ENDPOINT");
const bucket = env("BENCH_S3_BUCKET");
const credentials = { accessKeyId: env("BENCH_S3_KEY_ID"), secretAccessKey: env("BENCH_S3_SECRET") };

/** The version's signature object: small, read first by every mode so the SDK is loaded and connected. */
const warmUpKey = () => new ArtifactLayout().signatureKey(env("BENCH_MODEL"), env("BENCH_VERSION"));

async function rawGet(client: S3Client, toFile: boolean): Promise<number> {
  const response = await client.send(new GetObjectCommand({ Bucket: bucket, Key: env("BENCH_OBJECT_KEY") }));
  let bytes = 0;
  const body = response.Body as Readable;
  body.on("data", (chunk: Buffer) => {
    bytes += chunk.length;
  });
  if (toFile) {
    await mkdir(env("BENCH_CACHE_DIR"), { recursive: true });
    await pipeline(body, createWriteStream(join(env("BENCH_CACHE_DIR"), "raw.bin")));
  } else {
    body.resume();
    await finished(body);
  }
  client.destroy();
  return bytes;
}

/** Sets a mode up — client created, modules loaded, one small GET done — and returns the transfer. */
async function prepare(): Promise<() => Promise<number>> {
  if (mode === "fetch" || mode === "single") {
    const store = new S3Store({ bucket, endpoint, forcePathStyle: true, credentials });
    const registry = new ModelRegistry(store, new ArtifactLayout());
    await registry.readSignature(env("BENCH_MODEL"), env("BENCH_VERSION"));
    const fetcher = new VersionFetcher({
      registry,
      cacheDir: env("BENCH_CACHE_DIR"),
      trustedKeys: [trustedKeyFromPem(env("BENCH_PUBLIC_PEM"), "bench key")],
      ...(mode === "single" ? { ranged: { ...DEFAULT_RANGED, rangedFromBytes: Number.MAX_SAFE_INTEGER } } : {}),
    });
    return async () => {
      const fetched = await fetcher.fetch(env("BENCH_MODEL"), env("BENCH_VERSION"));
      store.close();
      return fetched.downloadedBytes;
    };
  }
  const client = new S3Client({ endpoint, region: "us-east-1", forcePathStyle: true, credentials });
  const warmUp = await client.send(new GetObjectCommand({ Bucket: bucket, Key: warmUpKey() }));
  await warmUp.Body?.transformToString();
  return () => rawGet(client, mode === "rawfile");
}

if (mode !== "raw" && mode !== "rawfile" && mode !== "fetch" && mode !== "single")
  throw new Error("usage: fetch-worker.ts raw|rawfile|fetch|single");
const transfer = await prepare();
global.gc?.();
// The process's peak RSS so far includes loading modules and the garbage collected just now: reset the
// high-water mark (Linux: clear_refs 5) so that the peak read afterwards is the transfer's.
let peakResets = true;
try {
  writeFileSync("/proc/self/clear_refs", "5");
} catch {
  peakResets = false;
}
const rssBefore = process.memoryUsage().rss;
const cpuBefore = process.cpuUsage();
const loopDelay = monitorEventLoopDelay({ resolution: 10 });
loopDelay.enable();
const started = process.hrtime.bigint();
const bytes = await transfer();
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
loopDelay.disable();
const loopDelayP99Ms = loopDelay.percentile(99) / 1e6;
const loopDelayMaxMs = loopDelay.max / 1e6;
const cpu = process.cpuUsage(cpuBefore);
const cpuSeconds = (cpu.user + cpu.system) / 1e6;
const hwm = /VmHWM:\s+(\d+) kB/.exec(peakResets ? readFileSync("/proc/self/status", "utf8") : "")?.[1];
const peakRss = hwm !== undefined ? Number(hwm) * 1024 : process.resourceUsage().maxRSS * 1024;
process.stdout.write(
  `${JSON.stringify({ mode, bytes, seconds, cpuSeconds, rssBefore, peakRss, loopDelayP99Ms, loopDelayMaxMs })}\n`,
);
