/**
 * `npm run bench`: runs every benchmark side by side in one run and writes docs/benchmarks.md with
 * the machine it ran on. Sizes can be lowered for a quick look (the written file says so):
 *
 *   BENCH_FETCH_BYTES  artifact size for fetch + verify (default 1 GiB)
 *   BENCH_ROUNDS       alternating rounds per comparison (default 3)
 *   BENCH_SWAPS        swaps + rollbacks under load (default 100)
 *   BENCH_MEMORY_SWAPS swaps for the RSS figure (default 1000)
 *   BENCH_ONLY         a comma-separated subset of fetch,swaps,memory
 */
import { execFileSync } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import { benchFetchVerify, type FetchVerifyResult } from "./fetch-verify.js";
import { benchMemory, benchSwaps, type MemoryBench, type SwapBench } from "./fleet.js";

const ROOT = join(import.meta.dirname, "../..");
const GIB = 1024 ** 3;

function machine(): string {
  const cpu = cpus()[0]?.model ?? "unknown CPU";
  let commit = "unknown";
  try {
    commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: ROOT, encoding: "utf8" }).trim();
  } catch {
    // not a git checkout
  }
  return `${cpus().length} × ${cpu}, ${(totalmem() / GIB).toFixed(0)} GiB RAM, Node ${process.version}, ${process.platform}/${process.arch}, commit ${commit}, ${new Date().toISOString()}`;
}

function verdict(ok: boolean): string {
  return ok ? "met" : "**missed**";
}

function fetchSection(result: FetchVerifyResult): string {
  const size =
    result.objectBytes >= GIB
      ? `${(result.objectBytes / GIB).toFixed(2)} GiB`
      : `${(result.objectBytes / 2 ** 20).toFixed(0)} MiB`;
  const mbps = (run: FetchVerifyResult["runs"][number]) => (run.bytes / run.seconds / 1e6).toFixed(0);
  return `## Fetch + verify vs raw GET

One ${size} object (random bytes, pushed as a multipart upload beside the demo model) on ${result.server}, on
loopback. Three ways to read it, alternating, ${result.rounds} rounds, each run a fresh process, medians:

- *GET, dropped*: GetObject with the AWS SDK, body read and thrown away (no disk);
- *GET → file*: the same, streamed into a file — what any download to local disk does;
- *fetch + verify*: cutover's \`VersionFetcher.fetch\` into an empty cache: signature check, listing check,
  the object streamed to a temp file while SHA-256 is computed, fsync, digest compared, renamed into the
  content-addressed cache, version folder linked.

| figure | target | result | |
|---|---|---|---|
| fetch + verify throughput ÷ GET → file | ≥ 0.9 | **${result.ratio.toFixed(2)}** (${result.fetchMBps.toFixed(0)} ÷ ${result.rawFileMBps.toFixed(0)} MB/s) | ${verdict(result.ratio >= 0.9)} |
| fetch + verify throughput ÷ GET, dropped | (context) | ${result.ratioToDiscard.toFixed(2)} (${result.fetchMBps.toFixed(0)} ÷ ${result.rawMBps.toFixed(0)} MB/s) | |
| peak RSS growth while fetching | ≤ 64 MiB | **${result.peakRssGrowthMiB.toFixed(1)} MiB** (worst of ${result.rounds}) | ${verdict(result.peakRssGrowthMiB <= 64)} |

Reading the figures: the target compares cutover with a plain download of the same bytes to disk, so it
measures what verification adds (hashing at ~1.7 GB/s on one core, a temp file, fsync, a rename). cutover
can come out ahead of the plain \`pipeline(body, createWriteStream(file))\` because it writes ~1 MiB batches
with \`writev\` while the next batch arrives, where the stream writes each ~64 KiB chunk on its own. Against a
GET whose bytes are dropped, any download loses on this machine: writing fresh pages costs the reading
process more CPU than the HTTP read itself (see CPU s), and the S3 server shares the same 2 cores. With the
store on another machine the client has its cores to itself and the network is the limit; that, not a code
change, is what would close the second ratio.

| run | mode | MB/s | CPU s | wall s | peak RSS growth |
|---|---|---|---|---|---|
${result.runs.map((run, i) => `| ${Math.floor(i / 3) + 1} | ${run.mode} | ${mbps(run)} | ${run.cpuSeconds.toFixed(2)} | ${run.seconds.toFixed(2)} | ${((run.peakRss - run.rssBefore) / 2 ** 20).toFixed(1)} MiB |`).join("\n")}

MB/s = 10⁶ bytes per second of wall time; CPU s = user + system time of the reading process; RSS growth =
peak maxRSS − RSS just before the transfer.
${fetchAnalysis(result)}`;
}

function fetchAnalysis(result: FetchVerifyResult): string {
  const notes: string[] = [];
  const rawGrowth =
    Math.max(...result.runs.filter((run) => run.mode === "raw").map((run) => run.peakRss - run.rssBefore)) / 2 ** 20;
  if (result.ratio < 0.9) {
    notes.push(
      "- **Throughput.** cutover fsyncs each file before renaming it into the cache (a content-addressed blob " +
        "is trusted on reuse, so it must be on disk whole); the plain download does not. With a 1 GiB file that " +
        "is seconds of write-back when the page cache holds much dirty data, and it varies with what ran before " +
        "(earlier runs on this machine measured 1.25). What would close it: verify-on-reuse instead of fsync " +
        "(hash a blob again when a later version reuses it, ~1.7 GB/s on one core), or fsync off the hot path.",
    );
  }
  if (result.peakRssGrowthMiB > 64) {
    notes.push(
      `- **Peak RSS.** The bare SDK GET that drops every byte grows by ${rawGrowth.toFixed(1)} MiB in the same run: ` +
        "the HTTP client's buffers, not the fetcher (which holds at most one 1 MiB batch per file in flight). " +
        "What would close it: a smaller socket highWaterMark for large objects.",
    );
  }
  return notes.length === 0 ? "" : `\nWhere a target is missed, why, and what would close it:\n\n${notes.join("\n")}\n`;
}

function swapSection(result: SwapBench): string {
  const ms = (value: number) => `${value.toFixed(1)} ms`;
  return `## Swaps under load (3 node processes, concurrency 32)

Real processes on loopback: redis-server, s3rver, \`cutover controller\`, three \`cutover node\` processes, and
a load generator (32 workers sending infer requests back to back over HTTP/1.1). First a phase without
swaps, then ${result.swaps} alternating activations (v1 → v2) and rollbacks (→ v1) under the same load.

| figure | target | result | |
|---|---|---|---|
| failed requests during ${result.swaps} swaps + rollbacks | 0 | **${result.failed}** of ${result.requestsIdle + result.requestsSwapping} | ${verdict(result.failed === 0)} |
| p99 latency while swapping ÷ p99 with no swaps | ≤ 1.2 | **${result.p99Ratio.toFixed(2)}** (${ms(result.p99SwappingMs)} ÷ ${ms(result.p99IdleMs)}) | ${verdict(result.p99Ratio <= 1.2)} |
| switch spread, first → last node serving the new version, p99 over ${result.swaps / 2} rollbacks | ≤ 5 ms | **${ms(result.spreadP99Ms)}** (max ${ms(result.spreadMaxMs)}) | ${verdict(result.spreadP99Ms <= 5)} |
| rollback to the warm version: API call → every node serving it | ≤ 50 ms | **p50 ${ms(result.rollbackP50Ms)}, p99 ${ms(result.rollbackP99Ms)}** (max ${ms(result.rollbackMaxMs)}) | ${verdict(result.rollbackP99Ms <= 50)} |

Switch spread is the difference between the nodes' own \`promoted\` timestamps (one host, one clock). The
rollback figure is the whole API call as the CLI sees it — signature and model-card reads from the
store, prepare (nothing to load), the atomic flip, promote and every node's confirmation — so it is an
upper bound of "API call → every node serving". Requests: ${result.requestsIdle} without swaps,
${result.requestsSwapping} while swapping.
${swapAnalysis(result)}`;
}

/** Why a swap target was missed, and what would close it (only for the targets missed in this run). */
function swapAnalysis(result: SwapBench): string {
  const notes: string[] = [];
  if (result.spreadP99Ms > 5) {
    notes.push(
      "- **Switch spread.** Redis pub/sub reaches 8 subscribers within ~0.5 ms here (NOTES.md), so most of the " +
        "spread is each node's event loop being busy when `promote` arrives: onnxruntime-node runs " +
        "`session.run` synchronously on the main thread (its backend wraps it in `setImmediate`), and under " +
        "32-way load every node's loop is a queue of inference calls and HTTP parsing; the swap waits its turn. " +
        "What would close it: run inference in worker threads (a session per worker) so the main loop only " +
        "parses, swaps and answers — the swap then runs within a millisecond of delivery; and on these shared " +
        "2 cores, the load generator and five processes compete for the CPU as well.",
    );
  }
  if (result.rollbackP99Ms > 50) {
    notes.push(
      "- **Rollback latency.** A rollback is the full two-phase protocol: the controller re-reads and " +
        "re-verifies the version's signature from the store, publishes `prepare`, waits for every node's " +
        "`staged` (immediate: the version is warm), flips, publishes `promote` and waits for every node's " +
        "confirmation — four bus hops and several store and Redis round trips, each queued behind the load " +
        "on these 2 cores. What would close it: the controller caching verified signatures (versions are " +
        "immutable), and a one-phase flip when every live node's heartbeat already lists the target as warm.",
    );
  }
  if (result.p99Ratio > 1.2) {
    notes.push(
      "- **p99 while swapping.** Latency here is dominated by queueing in the load generator and the nodes on " +
        "2 shared cores; swaps add bus and Redis traffic to the same cores.",
    );
  }
  return notes.length === 0 ? "" : `\nWhere a target is missed, why, and what would close it:\n\n${notes.join("\n")}\n`;
}

function memorySection(result: MemoryBench): string {
  const list = (values: number[]) => values.map((value) => `${value.toFixed(1)} MiB`).join(", ");
  return `## Memory over ${result.swaps} swaps

Two node processes with \`CUTOVER_KEEP_WARM=0\`, so every swap creates an onnxruntime session and
releases the previous one (the path that leaks if anything does). Node RSS read from /proc.

| figure | target | result | |
|---|---|---|---|
| RSS growth over ${result.swaps} swaps (after the first 50) | ≤ 10 % | **${(result.worstGrowth * 100).toFixed(1)} %** (worst node) | ${verdict(result.worstGrowth <= 0.1)} |

RSS after 50 swaps: ${list(result.rssAfterWarmupMiB)}; after ${result.swaps}: ${list(result.rssAtEndMiB)}.
${
  result.worstGrowth > 0.1
    ? `
Where the target is missed: this run does not tell a leak from a heap that has not settled (V8 grows its
old space before it collects it; onnxruntime keeps per-session arenas, and upstream reports leaks in some
cases, onnxruntime issue 25325). What would tell them apart and close it: the same run with
\`--expose-gc\` and a forced collection before each sample, and 10,000 swaps to see whether growth flattens;
if it does not, pooling sessions per version instead of creating one per swap.
`
    : ""
}`;
}

async function main(): Promise<void> {
  const bytes = Number(process.env.BENCH_FETCH_BYTES ?? GIB);
  const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
  const only = new Set((process.env.BENCH_ONLY ?? "fetch,swaps,memory").split(","));
  const log = (line: string) => process.stderr.write(`bench: ${line}\n`);
  const sections: string[] = [];
  if (only.has("swaps"))
    sections.push(swapSection(await benchSwaps({ swaps: Number(process.env.BENCH_SWAPS ?? 100), idleMs: 8_000, log })));
  if (only.has("memory"))
    sections.push(memorySection(await benchMemory({ swaps: Number(process.env.BENCH_MEMORY_SWAPS ?? 1000), log })));
  if (only.has("fetch")) sections.push(fetchSection(await benchFetchVerify({ bytes, rounds, log })));
  const reduced =
    bytes < GIB ? `\n> Reduced run (BENCH_FETCH_BYTES=${bytes}); the targets are stated for 1 GiB.\n` : "";
  const markdown = `# Benchmarks

Written by \`npm run bench\` (tests/bench/run.ts); do not edit by hand. Every figure is a ratio of two
things measured side by side in the same run on the same machine, so it travels better than an absolute
number from a shared, noisy 2-core box.

Machine: ${machine()}
${reduced}
Reproduce: \`npm ci && npm run bench\` (needs no network; starts its own s3rver, or uses MinIO through
testcontainers when a Docker engine answers, or \`CUTOVER_S3_ENDPOINT\` with AWS_* credentials).

${sections.join("\n")}`;
  await writeFile(join(ROOT, "docs/benchmarks.md"), markdown);
  log("wrote docs/benchmarks.md");
}

await main();
