/**
 * The canary analysis (controller/progressive/analysis.ts): traffic of the step in force summed over
 * node records, and each verdict's rule — a breach of a floor fails a step only once the anytime-valid
 * evidence is conclusive, and a same-speed candidate looked at again and again is (almost) never
 * failed.
 */
import { describe, expect, it } from "vitest";
import { ANALYSIS_ALPHA, analyse } from "../../controller/progressive/analysis.js";
import { histogramQuantile } from "../../controller/progressive/traffic-sums.js";
import type { NodeRecord } from "../../core/model-state.js";
import {
  type AnswerClass,
  DEFAULT_ANALYSIS,
  LATENCY_BUCKETS_MS,
  latencyBucket,
  type Traffic,
  TrafficTally,
} from "../../core/progressive.js";
import { seededRandom } from "../support/seeded-random.js";

/** Latencies around `medianMs`, log-normal with the spread a busy machine gives. */
function latencies(count: number, medianMs: number, random: () => number, sigma = 0.4): number[] {
  return Array.from({ length: count }, () => {
    const gauss = Math.sqrt(-2 * Math.log(random() || 1e-12)) * Math.cos(2 * Math.PI * random());
    return medianMs * Math.exp(sigma * gauss);
  });
}

/** Traffic as a node counts it: `requests` answers, the first `failures` 5xx, the next `clientErrors` 4xx. */
function counted(
  msOfEach: readonly number[],
  failures = 0,
  clientErrors = 0,
  options: { fine?: boolean; shadow?: boolean } = {},
): Traffic {
  const tally = new TrafficTally({ fine: options.fine ?? true, shadow: options.shadow ?? false });
  msOfEach.forEach((ms, i) => {
    const answer: AnswerClass = i < failures ? "server_error" : i < failures + clientErrors ? "client_error" : "ok";
    tally.count(answer, ms);
  });
  return tally.snapshot();
}

const steady = (count: number, ms = 3) => new Array<number>(count).fill(ms);

function node(nodeId: string, seq: number, versions: Record<string, Traffic>, rolloutId = "r1"): NodeRecord {
  const now = new Date().toISOString();
  return {
    nodeId,
    url: `http://${nodeId}`,
    executionProvider: "cpu",
    startedAt: now,
    updatedAt: now,
    serves: [],
    models: {
      demo: {
        active: "v1",
        revision: 1,
        warm: [],
        staged: null,
        lastError: null,
        split: { rolloutId, seq, candidate: "v2", weight: 10, shadowPercent: 0, traffic: versions },
      },
    },
  };
}

const input = { model: "demo", rolloutId: "r1", seq: 2, step: 0, weight: 10, baseline: "v1", candidate: "v2" };
const judge = (records: NodeRecord[], thresholds = {}, weight = 10) =>
  analyse(records, { ...input, weight, thresholds: { ...DEFAULT_ANALYSIS, ...thresholds } });

describe("canary analysis", () => {
  it("interpolates a coarse p99 inside its bucket and answers null without requests", () => {
    expect(histogramQuantile([0, 0, 0, 0], 0.99)).toBeNull();
    const buckets = new Array<number>(LATENCY_BUCKETS_MS.length + 1).fill(0);
    buckets[latencyBucket(3)] = 100; // all in (2, 5]
    expect(histogramQuantile(buckets, 0.99)).toBeCloseTo(2 + 3 * 0.99, 5);
    buckets[latencyBucket(50_000)] = 100; // half beyond the last bound: the largest bound
    expect(histogramQuantile(buckets, 0.99)).toBe(10_000);
  });

  it("sums only the step in force (rollout id and seq) over every node; p50 and p99 within 2 %", () => {
    const result = judge(
      [
        node("a", 2, { v1: counted(steady(4_500)), v2: counted(steady(500)) }),
        node("b", 2, { v1: counted(steady(450)), v2: counted(steady(50)) }),
        node("c", 1, { v1: counted(steady(100), 100), v2: counted(steady(100), 100) }),
        node("d", 2, { v1: counted(steady(100), 100) }, "another"),
      ],
      { minRequests: 100 },
    );
    expect(result.baseline).toMatchObject({ requests: 4_950, failures: 0 });
    expect(result.candidate).toMatchObject({ requests: 550, failures: 0 });
    expect(result.candidate.p50Ms).toBeGreaterThan(3 * 0.98);
    expect(result.candidate.p50Ms).toBeLessThan(3 * 1.02);
    expect(result.verdict).toBe("pass");
  });

  it("inconclusive until both versions answered minRequests: a baseline that answered nothing cannot pass a step", () => {
    const few = judge([node("a", 2, { v1: counted(steady(4_000)), v2: counted(steady(499)) })]);
    expect([few.verdict, few.reason]).toEqual([
      "inconclusive",
      expect.stringContaining("the candidate answered fewer than the 500 requests needed to judge (--min-requests)"),
    ]);
    const noBaseline = judge([node("a", 2, { v1: counted([]), v2: counted(steady(600)) })]);
    expect([noBaseline.verdict, noBaseline.reason]).toEqual([
      "inconclusive",
      expect.stringContaining("the baseline answered fewer than the 500"),
    ]);
  });

  it("fails on failures (5xx) only once conclusive; a breach seen on a few requests holds the step", () => {
    // 6 % against 1 % at a 10 % weight: 30 of the step's 75 failures came from a version that took 10 % of its requests.
    const failing = judge([node("a", 2, { v1: counted(steady(4_500), 45), v2: counted(steady(500), 30) })]);
    expect([failing.verdict, failing.candidate.errorRate]).toEqual(["fail", 0.06]);
    expect(failing.reason).toMatch(
      /failure rate over the baseline's \+ 1\.00 % \(--max-error-rate\) \(evidence .* ≥ 200\)$/,
    );
    expect(failing.evidence?.failures).toBeGreaterThan(2);
    // 3 failures in 100 against none in 100 at 50 %: over the floor, but 3 coin flips prove nothing yet.
    const early = judge(
      [node("a", 2, { v1: counted(steady(100)), v2: counted(steady(100), 3) })],
      { minRequests: 100 },
      50,
    );
    expect([early.verdict, early.reason]).toEqual(["inconclusive", expect.stringContaining("not yet conclusive")]);
    // Within the floor: 1.5 % against 1 % passes however much evidence there is.
    const within = judge([node("a", 2, { v1: counted(steady(9_000), 90), v2: counted(steady(1_000), 15) })]);
    expect(within.verdict).toBe("pass");
  });

  it("fails a candidate that rejects (4xx) more of the same clients' requests than the baseline + maxClientErrorRate", () => {
    // The 4xx canary the gates issue reports: 11 of 40 rejected was read as "0.00 % failed".
    const rejecting = judge(
      [node("a", 2, { v1: counted(steady(4_000), 0, 40), v2: counted(steady(500), 0, 130) })],
      {},
    );
    expect(rejecting.verdict).toBe("fail");
    expect(rejecting.candidate).toMatchObject({ requests: 500, failures: 0, clientErrors: 130 });
    expect(rejecting.reason).toContain(
      "candidate v2: 500 requests, 0.00 % failed (5xx), 26.00 % rejected (4xx), p50 3.0 ms, p99 3.0 ms; baseline v1: 4000 requests, 0.00 % failed (5xx), 1.00 % rejected (4xx)",
    );
    expect(rejecting.reason).toMatch(
      /rejection \(4xx\) rate over the baseline's \+ 1\.00 % \(--max-client-error-rate\)/,
    );
    // Clients that send as many bad requests to both versions do not fail the candidate.
    const noisyClients = judge([node("a", 2, { v1: counted(steady(4_500), 0, 450), v2: counted(steady(500), 0, 52) })]);
    expect(noisyClients.verdict).toBe("pass");
    // A rollout started before the threshold existed (none stored) is judged with the default.
    const { maxClientErrorRate: _, ...older } = DEFAULT_ANALYSIS;
    const records = [node("a", 2, { v1: counted(steady(4_000)), v2: counted(steady(500), 0, 130) })];
    expect(analyse(records, { ...input, thresholds: older }).verdict).toBe("fail");
  });

  it("fails a candidate 1.5× slower in the median, conclusively; not one within the floor", () => {
    const random = seededRandom(7);
    const slower = judge([
      node("a", 2, { v1: counted(latencies(4_500, 4, random)), v2: counted(latencies(500, 6, random)) }),
    ]);
    expect(slower.verdict).toBe("fail");
    expect(slower.reason).toMatch(/median 1\.\d\d× the baseline's, over 1\.2× \(--max-p50-ratio\)/);
    const slightly = judge([
      node("a", 2, { v1: counted(latencies(4_500, 4, random)), v2: counted(latencies(500, 4.4, random)) }),
    ]);
    expect(slightly.verdict).toBe("pass");
    // The p99 rule: a tail 2× slower and 30 ms above the baseline's, the median unchanged.
    const tail = [...latencies(450, 4, random, 0.1), ...latencies(50, 80, random, 0.1)];
    const base = [...latencies(4_050, 4, random, 0.1), ...latencies(450, 30, random, 0.1)];
    const slowTail = judge([node("a", 2, { v1: counted(base), v2: counted(tail) })]);
    expect([slowTail.verdict, slowTail.reason]).toEqual(["fail", expect.stringMatching(/p99 2\.\d\d× the baseline's/)]);
  });

  it("judges nodes of an earlier release (no fine histogram, no 4xx count) on the coarse buckets", () => {
    const random = seededRandom(11);
    const old = (ms: number[], failures = 0) => {
      const { latency: _, clientErrors: __, ...rest } = counted(ms, failures, 0, { fine: false });
      return rest;
    };
    const result = judge([node("a", 2, { v1: old(latencies(4_500, 4, random)), v2: old(latencies(500, 12, random)) })]);
    expect(result.verdict).toBe("fail");
    expect(result.candidate).toMatchObject({ clientErrors: 0, clientErrorRate: 0 });
  });

  it("a same-speed candidate looked at every 50 requests is failed in at most α of 300 canaries", () => {
    const random = seededRandom(2026);
    let failed = 0;
    for (let canary = 0; canary < 300; canary++) {
      const weight = [10, 25, 50][canary % 3] ?? 10;
      const base: number[] = [];
      const cand: number[] = [];
      let baseFailures = 0;
      let candFailures = 0;
      for (let look = 0; look < 40; look++) {
        for (let i = 0; i < 50; i++) {
          const ms = latencies(1, 3, random)[0] ?? 3;
          const isCandidate = random() * 100 < weight;
          const fails = random() < 0.005;
          if (isCandidate) {
            cand.push(ms);
            if (fails) candFailures++;
          } else {
            base.push(ms);
            if (fails) baseFailures++;
          }
        }
        // Failures first in each list: counted() marks the first `failures` answers as 5xx.
        const records = [node("a", 2, { v1: counted(base, baseFailures), v2: counted(cand, candFailures) })];
        if (judge(records, { minRequests: 50, maxErrorRate: 0 }, weight).verdict === "fail") {
          failed++;
          break;
        }
      }
    }
    expect(failed).toBeLessThanOrEqual(300 * ANALYSIS_ALPHA * 2);
  });

  it("judges shadow divergences only when a limit is set", () => {
    const shadowed = counted(steady(500), 0, 0, { shadow: true });
    shadowed.shadowed = 100;
    shadowed.divergent = 7;
    const records = [node("a", 2, { v1: counted(steady(4_500)), v2: shadowed })];
    expect(judge(records)).toMatchObject({ verdict: "pass", shadowed: 100, divergent: 7 });
    const gated = judge(records, { maxDivergenceRate: 0.05 });
    expect([gated.verdict, gated.reason]).toEqual([
      "fail",
      expect.stringContaining("7 of 100 shadowed requests diverged"),
    ]);
  });
});
