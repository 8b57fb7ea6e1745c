/**
 * The canary analysis (controller/progressive/analysis.ts): traffic of the step in force summed over
 * node records, the p99 interpolated inside its histogram bucket, and each verdict's rule.
 */
import { describe, expect, it } from "vitest";
import { analyse, histogramQuantile } from "../../controller/progressive/analysis.js";
import type { NodeRecord } from "../../core/model-state.js";
import { DEFAULT_ANALYSIS, LATENCY_BUCKETS_MS, latencyBucket, type Traffic } from "../../core/progressive.js";

function traffic(requests: number, failures: number, latencyMs: number, extra: Partial<Traffic> = {}): Traffic {
  const buckets = new Array<number>(LATENCY_BUCKETS_MS.length + 1).fill(0);
  buckets[latencyBucket(latencyMs)] = requests;
  return { requests, failures, buckets, ...extra };
}

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

describe("canary analysis", () => {
  it("interpolates the p99 inside its bucket and answers null without requests", () => {
    expect(histogramQuantile([0, 0, 0, 0], 0.99)).toBeNull();
    const buckets = new Array<number>(LATENCY_BUCKETS_MS.length + 1).fill(0);
    buckets[latencyBucket(3)] = 100; // all in (2, 5]
    expect(histogramQuantile(buckets, 0.99)).toBeCloseTo(2 + 3 * 0.99, 5);
    buckets[latencyBucket(50_000)] = 100; // half beyond the last bound: the largest bound
    expect(histogramQuantile(buckets, 0.99)).toBe(10_000);
  });

  it("sums only the step in force (rollout id and seq) over every node", () => {
    const result = analyse(
      [
        node("a", 2, { v1: traffic(900, 0, 3), v2: traffic(100, 0, 3) }),
        node("b", 2, { v1: traffic(450, 0, 3), v2: traffic(50, 0, 3) }),
        node("c", 1, { v1: traffic(10_000, 10_000, 3), v2: traffic(10_000, 10_000, 3) }),
        node("d", 2, { v1: traffic(10_000, 10_000, 3) }, "another"),
      ],
      { ...input, thresholds: DEFAULT_ANALYSIS },
    );
    expect(result.baseline).toMatchObject({ requests: 1350, failures: 0 });
    expect(result.candidate).toMatchObject({ requests: 150, failures: 0 });
    expect(result.verdict).toBe("pass");
  });

  it("inconclusive below the minimum requests; fail on the failure rate; fail on the p99 ratio", () => {
    const few = analyse([node("a", 2, { v1: traffic(500, 0, 3), v2: traffic(99, 50, 3) })], {
      ...input,
      thresholds: DEFAULT_ANALYSIS,
    });
    expect([few.verdict, few.reason]).toEqual(["inconclusive", expect.stringContaining("fewer than the 100")]);

    const failing = analyse([node("a", 2, { v1: traffic(1000, 10, 3), v2: traffic(200, 5, 3) })], {
      ...input,
      thresholds: { ...DEFAULT_ANALYSIS, maxErrorRate: 0.01 },
    });
    // 2.5 % against 1 % + 1 point: fails; 1.9 % would not.
    expect([failing.verdict, failing.candidate.errorRate]).toEqual(["fail", 0.025]);
    const within = analyse([node("a", 2, { v1: traffic(1000, 10, 3), v2: traffic(1000, 19, 3) })], {
      ...input,
      thresholds: DEFAULT_ANALYSIS,
    });
    expect(within.verdict).toBe("pass");

    const slow = analyse([node("a", 2, { v1: traffic(1000, 0, 4), v2: traffic(200, 0, 60) })], {
      ...input,
      thresholds: DEFAULT_ANALYSIS,
    });
    expect(slow.verdict).toBe("fail");
    expect(slow.reason).toMatch(/p99 .*× the baseline's, over 1.5× .* more than 25 ms above it/);
    // A few-ms model: 1.6× the baseline's p99 but under 25 ms above it is noise, not a slower version.
    const noisy = analyse([node("a", 2, { v1: traffic(1000, 0, 1.5), v2: traffic(200, 0, 4) })], {
      ...input,
      thresholds: DEFAULT_ANALYSIS,
    });
    expect(noisy.verdict).toBe("pass");
    expect(
      analyse([node("a", 2, { v1: traffic(1000, 0, 1.5), v2: traffic(200, 0, 4) })], {
        ...input,
        thresholds: { ...DEFAULT_ANALYSIS, minP99DeltaMs: 0 },
      }).verdict,
    ).toBe("fail");
  });

  it("judges shadow divergences only when a limit is set", () => {
    const records = [
      node("a", 2, { v1: traffic(1000, 0, 3), v2: traffic(200, 0, 3, { shadowed: 100, divergent: 7 }) }),
    ];
    expect(analyse(records, { ...input, thresholds: DEFAULT_ANALYSIS })).toMatchObject({
      verdict: "pass",
      shadowed: 100,
      divergent: 7,
    });
    const gated = analyse(records, { ...input, thresholds: { ...DEFAULT_ANALYSIS, maxDivergenceRate: 0.05 } });
    expect([gated.verdict, gated.reason]).toEqual([
      "fail",
      expect.stringContaining("7 of 100 shadowed requests diverged"),
    ]);
  });

  it("fails a candidate that rejects (4xx) more of the same clients' requests than the baseline + maxClientErrorRate", () => {
    // The 4xx canary the gates issue reports: 11 of 40 rejected was read as "0.00 % failed".
    const rejecting = analyse(
      [node("a", 2, { v1: traffic(400, 0, 3, { clientErrors: 4 }), v2: traffic(110, 0, 3, { clientErrors: 30 }) })],
      { ...input, thresholds: DEFAULT_ANALYSIS },
    );
    expect(rejecting.verdict).toBe("fail");
    expect(rejecting.candidate).toMatchObject({ requests: 110, failures: 0, clientErrors: 30 });
    expect(rejecting.reason).toContain(
      "candidate v2: 110 requests, 0.00 % failed (5xx), 27.27 % rejected (4xx), p99 5.0 ms; baseline v1: 400 requests, 0.00 % failed (5xx), 1.00 % rejected (4xx)",
    );
    expect(rejecting.reason).toMatch(
      /rejection \(4xx\) rate over the baseline's \+ 1\.00 % \(--max-client-error-rate\)$/,
    );
    // Clients that send as many bad requests to both versions do not fail the candidate.
    const noisyClients = analyse(
      [node("a", 2, { v1: traffic(1000, 0, 3, { clientErrors: 100 }), v2: traffic(200, 0, 3, { clientErrors: 21 }) })],
      { ...input, thresholds: DEFAULT_ANALYSIS },
    );
    expect(noisyClients.verdict).toBe("pass");
    // A rollout started before the threshold existed (none stored) is judged with the default.
    const { maxClientErrorRate: _, ...older } = DEFAULT_ANALYSIS;
    expect(
      analyse([node("a", 2, { v1: traffic(400, 0, 3), v2: traffic(110, 0, 3, { clientErrors: 30 }) })], {
        ...input,
        thresholds: older,
      }).verdict,
    ).toBe("fail");
    // Nodes of an earlier release send no 4xx count: read as none.
    expect(
      analyse([node("a", 2, { v1: traffic(400, 0, 3), v2: traffic(110, 0, 3) })], {
        ...input,
        thresholds: DEFAULT_ANALYSIS,
      }).candidate,
    ).toMatchObject({ clientErrors: 0, clientErrorRate: 0 });
  });
});
