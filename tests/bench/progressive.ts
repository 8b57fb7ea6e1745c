/**
 * Progressive delivery on real processes (compiled build): one `cutover node` serving the demo model,
 * the controller, redis-server and s3rver, load from a process of its own (tests/bench/load-worker.mjs,
 * which counts the answers by model_version):
 *
 *   accuracy   a canary held (--manual) at 5, 25 and 50 %: |observed share − weight| over ≥ 10,000
 *              unkeyed requests each
 *   overhead   requests/s with a rollout at 50 % ÷ with no rollout, paired rounds
 *   shadow     the primary's p99 with 10 % of requests mirrored to the candidate ÷ with none (both at a
 *              1 % canary, so that only the shadow differs), paired rounds
 */
import { join } from "node:path";
import { MODEL, TOKEN } from "../support/controller-harness.js";
import { type Fleet, startFleet } from "../support/fleet-harness.js";
import { cpuSeconds } from "./infer-throughput.js";
import { runNodeScript } from "./node-script.js";

const ROOT = join(import.meta.dirname, "../..");
const REQUEST = JSON.stringify({
  inputs: [{ name: "features", shape: [1, 4], datatype: "FP32", data: [0.5, -1.2, 3.3, 0.1] }],
});

interface LoadSummary {
  readonly ok: number;
  readonly failed: number;
  readonly seconds: number;
  readonly p50: number;
  readonly p99: number;
  readonly versions: Readonly<Record<string, number>>;
}

export interface ProgressiveBench {
  readonly accuracy: { weight: number; requests: number; observed: number; error: number }[];
  readonly overhead: {
    withRollout: number[];
    without: number[];
    ratio: number;
    /** The node process's CPU per answered request, µs, with the rollout and without (medians). */
    cpuWith: number;
    cpuWithout: number;
    cpuRatio: number;
  };
  readonly shadow: { shadowedP99: number[]; plainP99: number[]; ratio: number };
  readonly failed: number;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[middle] ?? 0) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

/** A POST to the fleet's controller with the test token; throws on any status but 200. */
export async function post(fleet: Fleet, path: string, body: unknown): Promise<Record<string, unknown>> {
  const response = await fetch(`${fleet.controller.url}${path}`, {
    method: "POST",
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const answer = (await response.json()) as Record<string, unknown>;
  if (response.status !== 200) throw new Error(`${path}: ${response.status} ${JSON.stringify(answer)}`);
  return answer;
}

const canary = (fleet: Fleet, weight: number, shadowPercent = 0) =>
  post(fleet, `/v1/models/${MODEL}/activate`, { version: "v2", canary: [weight], manual: true, shadowPercent });
const abort = (fleet: Fleet) => post(fleet, `/v1/models/${MODEL}/abort`, {});

function load(fleet: Fleet, ms: number): Promise<LoadSummary> {
  const urls = fleet.nodes.map((node) => `${node.url}/v2/models/${MODEL}/infer`).join(",");
  return runNodeScript<LoadSummary>([
    join(ROOT, "tests/bench/load-worker.mjs"),
    urls,
    "16",
    String(ms),
    REQUEST,
    "500",
  ]);
}

export async function benchProgressive(options: {
  roundMs: number;
  rounds: number;
  log: (line: string) => void;
}): Promise<ProgressiveBench> {
  const { roundMs, rounds, log } = options;
  const fleet = await startFleet({ nodes: 1, compiled: true });
  let failed = 0;
  const counted = (summary: LoadSummary) => {
    failed += summary.failed;
    return summary;
  };
  try {
    const first = await fleet.activate("v1");
    if (first.status !== 200) throw new Error(`activate v1: ${JSON.stringify(first.body)}`);
    await load(fleet, 1_000);

    const accuracy: ProgressiveBench["accuracy"] = [];
    for (const weight of [5, 25, 50]) {
      await canary(fleet, weight);
      let requests = 0;
      let candidate = 0;
      while (requests < 10_000) {
        const summary = counted(await load(fleet, roundMs));
        requests += summary.ok;
        candidate += summary.versions.v2 ?? 0;
      }
      await abort(fleet);
      const observed = (candidate / requests) * 100;
      accuracy.push({ weight, requests, observed, error: Math.abs(observed - weight) });
      log(`split at ${weight} %: ${observed.toFixed(2)} % of ${requests} requests`);
    }

    const withRollout: number[] = [];
    const without: number[] = [];
    const cpuWith: number[] = [];
    const cpuWithout: number[] = [];
    const pid = fleet.nodes[0]?.child.pid;
    /** A measured run, with the node's CPU µs per answered request. */
    const measured = async (): Promise<{ rps: number; cpuUs: number }> => {
      const before = cpuSeconds(pid);
      const summary = counted(await load(fleet, roundMs));
      return { rps: summary.ok / summary.seconds, cpuUs: ((cpuSeconds(pid) - before) / Math.max(1, summary.ok)) * 1e6 };
    };
    // After each change, a second of unmeasured load: the change itself (staging the candidate, or
    // releasing it after the abort, and the collections that follow) is not what is compared.
    const settle = async () => counted(await load(fleet, 1_000));
    for (let round = 1; round <= rounds; round++) {
      await settle();
      const plain = await measured();
      without.push(plain.rps);
      cpuWithout.push(plain.cpuUs);
      await canary(fleet, 50);
      await settle();
      const split = await measured();
      withRollout.push(split.rps);
      cpuWith.push(split.cpuUs);
      await abort(fleet);
      log(`overhead round ${round}: ${withRollout.at(-1)?.toFixed(0)} vs ${without.at(-1)?.toFixed(0)} req/s`);
    }

    const shadowedP99: number[] = [];
    const plainP99: number[] = [];
    for (let round = 1; round <= rounds; round++) {
      await canary(fleet, 1, 0);
      await settle();
      plainP99.push(counted(await load(fleet, roundMs)).p99);
      await abort(fleet);
      await canary(fleet, 1, 10);
      await settle();
      shadowedP99.push(counted(await load(fleet, roundMs)).p99);
      await abort(fleet);
      log(`shadow round ${round}: p99 ${shadowedP99.at(-1)?.toFixed(2)} vs ${plainP99.at(-1)?.toFixed(2)} ms`);
    }
    return {
      accuracy,
      overhead: {
        withRollout,
        without,
        ratio: median(withRollout.map((value, i) => value / (without[i] ?? value))),
        cpuWith: median(cpuWith),
        cpuWithout: median(cpuWithout),
        cpuRatio: median(cpuWith.map((value, i) => value / (cpuWithout[i] ?? value))),
      },
      shadow: {
        shadowedP99,
        plainP99,
        ratio: median(shadowedP99.map((value, i) => value / (plainP99[i] ?? value))),
      },
      failed,
    };
  } finally {
    await fleet.stop();
  }
}

const list = (values: readonly number[], digits = 0) => values.map((value) => value.toFixed(digits)).join(", ");

export function progressiveSection(result: ProgressiveBench, roundMs: number): string {
  const worst = Math.max(...result.accuracy.map((point) => point.error));
  const { overhead, shadow } = result;
  return `## Progressive delivery: the split on a node

One \`cutover node\` (compiled build, demo classifier), the controller, redis-server and s3rver; load from a
process of its own at concurrency 16, each answer counted by its \`model_version\`. Canaries are held with
\`--manual\` and ended with \`abort\` between measurements; rounds of ${roundMs / 1000} s, each after a second of
unmeasured load following the change; ratios are medians of paired rounds.

| figure | result | target | |
|---|---|---|---|
${result.accuracy
  .map(
    (point) =>
      `| split accuracy at ${point.weight} %: \\|observed − weight\\| over ${point.requests} unkeyed requests | **${point.error.toFixed(2)} points** (${point.observed.toFixed(2)} %) | ≤ 2 points | ${point.error <= 2 ? "met" : "**missed**"} |`,
  )
  .join("\n")}
| throughput with a rollout at 50 % ÷ no rollout | **${overhead.ratio.toFixed(3)}** (${list(overhead.withRollout)} vs ${list(overhead.without)} req/s) | ≥ 0.97 | ${overhead.ratio >= 0.97 ? "met" : "**missed**"} |
| node CPU per request, rollout at 50 % ÷ none | ${overhead.cpuRatio.toFixed(3)} (${overhead.cpuWith.toFixed(1)} vs ${overhead.cpuWithout.toFixed(1)} µs) | — | what the split costs the node |
| primary p99 with 10 % shadowed ÷ none (1 % canary both) | **${shadow.ratio.toFixed(2)}** (${list(shadow.shadowedP99, 2)} vs ${list(shadow.plainP99, 2)} ms) | ≤ 1.1 | ${shadow.ratio <= 1.1 ? "met" : "**missed**"} |
| failed requests over the whole section | **${result.failed}** | 0 | ${result.failed === 0 ? "met" : "**missed**"} |

Worst split error ${worst.toFixed(2)} points: unkeyed requests follow a low-discrepancy sequence on each
node (docs/NODE.md), so the share is within a fraction of a point of the weight however few requests have
passed; keyed requests (\`x-cutover-key\`) follow their key's hash instead.
`;
}
