/**
 * Analysis accuracy on real processes (compiled build): redis-server, s3rver, `cutover controller` and
 * two `cutover node` processes, paced load from a process of its own, and a CPU-bound process beside
 * them (a busy box). Each run is a canary at 50 % held by `--manual` (the controller's own thresholds
 * set so that it never acts); every second — as often as the nodes rewrite their records — the bench
 * reads the records and judges the step with today's rule (controller/progressive/analysis.ts,
 * DEFAULT_ANALYSIS) and with the rule before it (a fixed-sample check: ≥ 100 candidate requests, 5xx
 * rate ≤ baseline's + 1 point, coarse-bucket p99 ≤ 1.5× or ≤ 25 ms above the baseline's), side by
 * side on the same records. A rule rolls back at its first `fail`.
 *
 *   A/A          the baseline's bytes under another version name (demo v1 → v5; pacer light → same)
 *   slower       pacer light-slower: 1.5× light's layers
 *   5xx          demo fails-negative, with 1 request in 33 (3 %) a negative first feature it fails on
 *   4xx          demo batch-one (batch fixed at 1), with 1 request in 20 (5 %) a batch of two it refuses
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { analyse } from "../../controller/progressive/analysis.js";
import { addTraffic, emptySum, histogramQuantile } from "../../controller/progressive/traffic-sums.js";
import type { NodeRecord } from "../../core/model-state.js";
import { DEFAULT_ANALYSIS } from "../../core/progressive.js";
import { createRedis } from "../../core/redis/connection.js";
import { RedisFleetState } from "../../core/redis/fleet-state.js";
import { StateKeys } from "../../core/state-keys.js";
import { MODEL } from "../support/controller-harness.js";
import { type Fleet, startFleet } from "../support/fleet-harness.js";
import { runNodeScript } from "./node-script.js";
import { post } from "./progressive.js";

const ROOT = join(import.meta.dirname, "../..");
const MODELS = join(ROOT, "models");
const WEIGHT = 50;
const LOOK_MS = 1_000;
/** The controller's own thresholds: it holds the step and never judges it over. */
const NEVER = { maxErrorRate: 1, maxClientErrorRate: 1, maxP50Ratio: 1000, maxP99Ratio: 1000, minRequests: 1e9 };

const features = (rows: number[][]) =>
  JSON.stringify({ inputs: [{ name: "features", shape: [rows.length, 4], datatype: "FP32", data: rows.flat() }] });
const DEMO_BODY = features([[0.5, -1.2, 3.3, 0.1]]);
const PACER_BODY = JSON.stringify({
  inputs: [
    { name: "x", shape: [1, 1024], datatype: "FP32", data: Array.from({ length: 1024 }, (_, i) => Math.sin(i)) },
  ],
});

export interface AccuracyKind {
  readonly name: string;
  readonly model: string;
  readonly candidate: string;
  /** Whether a correct judge rolls it back. */
  readonly regression: boolean;
  readonly runs: number;
  readonly body: string;
  readonly alternate?: { readonly body: string; readonly every: number };
  readonly allowIncompatible?: boolean;
  readonly rate: number;
}

export const ACCURACY_KINDS: readonly AccuracyKind[] = [
  {
    name: "A/A: demo v1 bytes as v5",
    model: MODEL,
    candidate: "v5",
    regression: false,
    runs: 40,
    body: DEMO_BODY,
    rate: 400,
  },
  {
    name: "A/A: pacer light bytes as same",
    model: "pacer",
    candidate: "same",
    regression: false,
    runs: 10,
    body: PACER_BODY,
    rate: 250,
  },
  {
    name: "1.5× slower: pacer light-slower",
    model: "pacer",
    candidate: "slower",
    regression: true,
    runs: 20,
    body: PACER_BODY,
    rate: 250,
  },
  {
    name: "5xx on 3 % of inputs: fails-negative",
    model: MODEL,
    candidate: "fails",
    regression: true,
    runs: 20,
    body: DEMO_BODY,
    alternate: { body: features([[-0.5, -1.2, 3.3, 0.1]]), every: 33 },
    rate: 400,
  },
  {
    name: "4xx on 5 % of requests: batch-one",
    model: MODEL,
    candidate: "batch-one",
    regression: true,
    runs: 20,
    body: DEMO_BODY,
    alternate: {
      body: features([
        [0.5, -1.2, 3.3, 0.1],
        [-2, 0.25, 1, 1.5],
      ]),
      every: 20,
    },
    allowIncompatible: true,
    rate: 400,
  },
];

/** What one rule did in one run: rolled back (at its first fail) after how many candidate requests, or how the run ended. */
interface Judged {
  rolledBack: boolean;
  /** Candidate requests when it decided: its first fail, or (no fail) its first pass; null when it never decided. */
  decidedAt: number | null;
}

export interface KindResult {
  readonly kind: AccuracyKind;
  readonly runs: number;
  readonly old: { rolledBack: number; decidedAt: number[] };
  readonly current: { rolledBack: number; decidedAt: number[] };
  /** Candidate's and baseline's median latency (ms) over the runs' last looks, for the slower kind. */
  readonly p50Ratio: number | null;
}

/** The rule before this one, as it judged a step: fixed-sample figures read at every look. */
function previousRule(
  records: readonly NodeRecord[],
  model: string,
  rolloutId: string,
  seq: number,
  candidate: string,
  baseline: string,
) {
  const base = emptySum();
  const cand = emptySum();
  for (const record of records) {
    const split = record.models[model]?.split;
    if (split === undefined || split.rolloutId !== rolloutId || split.seq !== seq) continue;
    addTraffic(base, split.traffic[baseline]);
    addTraffic(cand, split.traffic[candidate]);
  }
  if (cand.requests < 100) return { verdict: "inconclusive", requests: cand.requests };
  const rate = (sum: typeof base) => (sum.requests === 0 ? 0 : sum.failures / sum.requests);
  if (rate(cand) > rate(base) + 0.01) return { verdict: "fail", requests: cand.requests };
  const p99c = histogramQuantile(cand.buckets, 0.99);
  const p99b = histogramQuantile(base.buckets, 0.99);
  if (p99c !== null && p99b !== null && p99c > 1.5 * p99b && p99c - p99b > 25)
    return { verdict: "fail", requests: cand.requests };
  return { verdict: "pass", requests: cand.requests };
}

/** A process that keeps one core busy half of the time (20 ms on, 20 ms off) until killed. */
function busyNeighbour() {
  const script =
    "const spin=()=>{const end=Date.now()+20;while(Date.now()<end);setTimeout(spin,20)};spin();setTimeout(()=>process.exit(0),3600000)";
  return spawn(process.execPath, ["-e", script], { stdio: "ignore" });
}

async function oneRun(fleet: Fleet, state: RedisFleetState, kind: AccuracyKind, loadMs: number) {
  const started = (await post(fleet, `/v1/models/${kind.model}/activate`, {
    version: kind.candidate,
    canary: [WEIGHT],
    manual: true,
    ...NEVER,
    ...(kind.allowIncompatible ? { allowIncompatible: true } : {}),
  })) as { rolloutId: string };
  const model = await state.getModelState(kind.model);
  const seq = model.rollout?.progressive?.seq ?? 0;
  const baseline = model.rollout?.progressive?.baseline ?? "";
  const urls = fleet.nodes.map((node) => `${node.url}/v2/models/${kind.model}/infer`).join(",");
  const load = runNodeScript<{ ok: number; failed: number }>([
    join(ROOT, "tests/bench/load-worker.mjs"),
    urls,
    "4",
    String(loadMs),
    kind.body,
    "0",
    "{}",
    kind.alternate?.body ?? "",
    String(kind.alternate?.every ?? 0),
    String(kind.rate),
  ]);
  const rules: Record<"old" | "current", Judged> = {
    old: { rolledBack: false, decidedAt: null },
    current: { rolledBack: false, decidedAt: null },
  };
  let ratio: number | null = null;
  let failReason: string | null = null;
  const look = async () => {
    const records = await state.listModelNodes(kind.model);
    const now = analyse(records, {
      model: kind.model,
      rolloutId: started.rolloutId,
      seq,
      step: 0,
      weight: WEIGHT,
      baseline,
      candidate: kind.candidate,
      thresholds: DEFAULT_ANALYSIS,
    });
    const before = previousRule(records, kind.model, started.rolloutId, seq, kind.candidate, baseline);
    const judge = (rule: Judged, verdict: string, requests: number) => {
      if (rule.rolledBack) return;
      if (verdict === "fail") {
        rule.rolledBack = true;
        rule.decidedAt = requests;
      } else if (verdict === "pass" && rule.decidedAt === null) rule.decidedAt = requests;
    };
    if (now.verdict === "fail" && failReason === null) failReason = now.reason;
    judge(rules.current, now.verdict, now.candidate.requests);
    judge(rules.old, before.verdict, before.requests);
    if (now.candidate.p50Ms != null && now.baseline.p50Ms != null && now.baseline.p50Ms > 0) {
      ratio = now.candidate.p50Ms / now.baseline.p50Ms;
    }
  };
  const deadline = Date.now() + loadMs + 2 * LOOK_MS;
  const answered = load.then((result) => result);
  while (Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, LOOK_MS));
    await look();
  }
  await answered;
  // Where each node runs the two versions (under "auto": the main thread or workers, by warm-up timing).
  const placement = await Promise.all(
    fleet.nodes.map(async (node) => {
      const text = await (await fetch(`${node.url}/metrics`)).text();
      const modes = [
        ...text.matchAll(/^cutover_version_instances\{model="([^"]+)",version="([^"]+)",mode="(\w+)"\} (\d+)/gm),
      ]
        .filter((match) => match[1] === kind.model && (match[2] === baseline || match[2] === kind.candidate))
        .map((match) => `${match[2]} ${match[3]}×${match[4]}`);
      return `${node.name}: ${modes.join(", ")}`;
    }),
  );
  await post(fleet, `/v1/models/${kind.model}/abort`, {});
  return { rules, ratio, failReason, placement: placement.join("; ") };
}

export async function benchAnalysisAccuracy(options: {
  loadMs: number;
  kinds?: readonly AccuracyKind[];
  log: (line: string) => void;
}): Promise<KindResult[]> {
  const pacer = (version: string, versions: string[]) => ({
    model: "pacer",
    modelFile: join(MODELS, "pacer", version, "model.onnx"),
    goldenPath: join(MODELS, "pacer", version, "golden.json"),
    versions,
  });
  const fleet = await startFleet({
    nodes: 2,
    compiled: true,
    persistRedis: false,
    // No replay: it would refuse the failing candidates before the judge ever saw them (the judge is
    // what this measures).
    nodeEnv: {
      CUTOVER_MODELS: `${MODEL},pacer`,
      CUTOVER_HEARTBEAT_TTL_MS: "3000",
      CUTOVER_INTRA_OP_THREADS: "1",
      CUTOVER_REPLAY_REQUESTS: "0",
    },
    versions: [
      { version: "fails", path: join(MODELS, "demo-classifier/fails-negative") },
      { version: "batch-one", path: join(MODELS, "demo-classifier/batch-one") },
    ],
    models: [pacer("light", ["v1", "same"]), pacer("light-slower", ["slower"])],
  });
  const redis = createRedis({ url: fleet.redis.url, name: "accuracy-bench" });
  const state = new RedisFleetState(redis, new StateKeys("fleet:"));
  const neighbour = busyNeighbour();
  const results: KindResult[] = [];
  try {
    for (const model of [MODEL, "pacer"]) {
      const { status, body } = await fleet.activateModel(model, "v1");
      if (status !== 200) throw new Error(`activate ${model} v1: ${status} ${JSON.stringify(body)}`);
    }
    for (const kind of options.kinds ?? ACCURACY_KINDS) {
      const result = {
        kind,
        runs: 0,
        old: { rolledBack: 0, decidedAt: [] as number[] },
        current: { rolledBack: 0, decidedAt: [] as number[] },
      };
      const ratios: number[] = [];
      for (let run = 0; run < kind.runs; run++) {
        const { rules, ratio, failReason, placement } = await oneRun(fleet, state, kind, options.loadMs);
        result.runs++;
        for (const name of ["old", "current"] as const) {
          if (rules[name].rolledBack) result[name].rolledBack++;
          const at = rules[name].decidedAt;
          if (at !== null) result[name].decidedAt.push(at);
        }
        if (ratio !== null) ratios.push(ratio);
        options.log(
          `accuracy: ${kind.name} run ${run + 1}/${kind.runs}: old ${rules.old.rolledBack ? "rolled back" : "kept"}, new ${rules.current.rolledBack ? `rolled back: ${failReason} [${placement}]` : "kept"}`,
        );
      }
      ratios.sort((a, b) => a - b);
      results.push({ ...result, p50Ratio: ratios.length > 0 ? (ratios[Math.floor(ratios.length / 2)] ?? null) : null });
    }
  } finally {
    neighbour.kill();
    redis.disconnect();
    await fleet.stop();
  }
  return results;
}

function median(values: readonly number[]): string {
  if (values.length === 0) return "—";
  const sorted = [...values].sort((a, b) => a - b);
  return String(sorted[Math.floor(sorted.length / 2)]);
}

/** The benchmarks.md section. */
export function accuracySection(results: readonly KindResult[], loadMs: number): string {
  const rate = (count: number, runs: number) =>
    `${count}/${runs} (${((100 * count) / Math.max(runs, 1)).toFixed(1)} %)`;
  const rows = results.map((r) => {
    const what = r.kind.regression ? "detected" : "false rollbacks";
    const ratio = r.p50Ratio === null ? "" : ` (candidate's median ÷ baseline's: ${r.p50Ratio.toFixed(2)})`;
    return `| ${r.kind.name}${ratio} | ${what} | ${rate(r.old.rolledBack, r.runs)} | ${rate(r.current.rolledBack, r.runs)} | ${median(r.old.decidedAt)} | ${median(r.current.decidedAt)} |`;
  });
  return `## Analysis accuracy

\`BENCH_ONLY=accuracy npm run bench\` (tests/bench/analysis-accuracy.ts). Real processes (compiled build): redis-server,
s3rver, \`cutover controller\`, two \`cutover node\`s (heartbeat records rewritten every second), paced load
from a process of its own (4 connections), and a process that keeps one core busy half the time beside
them. Each run: a canary at ${WEIGHT} % held by \`--manual\` for ${loadMs / 1000} s of load; every second the bench reads
the nodes' records and judges the step with the rule before this one (fixed-sample: ≥ 100 candidate
requests, 5xx rate ≤ baseline's + 1 point, coarse p99 ≤ 1.5× or ≤ 25 ms above) and with today's
(DEFAULT_ANALYSIS: anytime-valid evidence ≥ 200 on a breach of 5xx/4xx + 1 point, median 1.2×, p99
1.5× and 25 ms; ≥ 500 requests per version to pass), side by side on the same records. A rule rolls
back at its first \`fail\`. *Requests to decide*: the candidate's requests at its first fail (regressions)
or its first pass (A/A), median over the runs that decided.

| candidate | counted | old rule | new rule | old: requests to decide | new: requests to decide |
| --- | --- | --- | --- | --- | --- |
${rows.join("\n")}
`;
}
