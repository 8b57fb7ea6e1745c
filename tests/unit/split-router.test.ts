import { describe, expect, it } from "vitest";
import { fineBucket } from "../../core/latency-histogram.js";
import { LATENCY_BUCKETS_MS, splitPoint } from "../../core/progressive.js";
import type { LoadedVersion } from "../../inference/loaded-version.js";
import { AppliedSplit, WeylSequence } from "../../inference/split-router.js";

/** A stand-in for a loaded version: the split only reads its name. */
function version(name: string): LoadedVersion {
  return { version: name } as unknown as LoadedVersion;
}

function split(weight: number, shadowPercent = 0): AppliedSplit {
  return new AppliedSplit({ rolloutId: "r1", seq: 1, weight, shadowPercent }, version("v2"), "v1");
}

describe("the split of a progressive rollout on a node", () => {
  it("a Weyl sequence fills [0, 100) evenly: below w for w % of any run of points, from any start", () => {
    for (const start of [0, 0.123, 0.5, 0.999]) {
      const sequence = new WeylSequence(start);
      const points = Array.from({ length: 10_000 }, () => sequence.next());
      expect(points.every((point) => point >= 0 && point < 100)).toBe(true);
      for (const weight of [1, 5, 10, 25, 50, 90]) {
        for (const n of [200, 2_000, 10_000]) {
          const below = points.slice(0, n).filter((point) => point < weight).length;
          expect(Math.abs((100 * below) / n - weight), `start ${start}, ${weight} %, ${n}`).toBeLessThan(
            n >= 2_000 ? 0.25 : 1.5,
          );
        }
      }
    }
  });

  it("unkeyed requests take the sequence: 2,000 requests at 10 % and 50 % are within a fraction of a point", () => {
    for (const weight of [10, 50]) {
      const applied = split(weight);
      const toCandidate = Array.from({ length: 2_000 }, () => applied.routesToCandidate(undefined)).filter(Boolean);
      expect(Math.abs(toCandidate.length / 20 - weight)).toBeLessThan(0.25);
    }
  });

  it("a keyed request is routed by its split point: the same at a weight, and still the candidate as it grows", () => {
    const keys = Array.from({ length: 500 }, (_, i) => `key-${i}`);
    const at10 = split(10);
    const at50 = split(50);
    const onCandidate = keys.filter((key) => at10.routesToCandidate(key));
    expect(keys.filter((key) => at10.routesToCandidate(key))).toEqual(onCandidate);
    expect(onCandidate).toEqual(keys.filter((key) => splitPoint("r1", key) < 10));
    expect(onCandidate.every((key) => at50.routesToCandidate(key))).toBe(true);
    // An empty key is no key.
    const unkeyed = Array.from({ length: 100 }, () => at50.routesToCandidate("")).filter(Boolean).length;
    expect(Math.abs(unkeyed - 50)).toBeLessThanOrEqual(2);
  });

  it("weight 0 sends nothing to the candidate and 100 everything; mirroring takes shadowPercent of the calls", () => {
    expect([split(0).routesToCandidate(undefined), split(0).routesToCandidate("k")]).toEqual([false, false]);
    expect([split(100).routesToCandidate(undefined), split(100).routesToCandidate("k")]).toEqual([true, true]);
    const mirroring = split(0, 10);
    expect(Array.from({ length: 1_000 }, () => mirroring.mirrors()).filter(Boolean).length).toBeGreaterThanOrEqual(99);
    expect(Array.from({ length: 100 }, () => split(0).mirrors()).some(Boolean)).toBe(false);
  });

  it("counts each version's requests, 5xx failures, 4xx rejections and 2xx latency buckets, and the candidate's shadow runs, from zero", () => {
    const applied = split(50);
    applied.traffic.answered("v1", "ok", 0.4);
    applied.traffic.answered("v1", "ok", 30);
    applied.traffic.answered("v2", "server_error", 60_000);
    applied.traffic.answered("v2", "client_error", 0.2);
    applied.traffic.answered("v2", "ok", 60_000);
    applied.traffic.shadowed("v2", true);
    applied.traffic.shadowed("v2", false);
    const { traffic, ...rest } = applied.toNodeSplit();
    expect(rest).toEqual({ rolloutId: "r1", seq: 1, candidate: "v2", weight: 50, shadowPercent: 0 });
    const buckets = (counts: Record<number, number>) =>
      Array.from({ length: LATENCY_BUCKETS_MS.length + 1 }, (_, i) => counts[i] ?? 0);
    expect(traffic).toEqual({
      v1: {
        requests: 2,
        failures: 0,
        clientErrors: 0,
        buckets: buckets({ 0: 1, 5: 1 }),
        latency: [
          [fineBucket(0.4), 1],
          [fineBucket(30), 1],
        ],
      },
      v2: {
        requests: 3,
        failures: 1,
        clientErrors: 1,
        buckets: buckets({ [LATENCY_BUCKETS_MS.length]: 1 }),
        latency: [[fineBucket(60_000), 1]],
        shadowed: 2,
        divergent: 1,
      },
    });
    // A copy: the record is not changed by later requests.
    applied.traffic.answered("v1", "ok", 1);
    expect(traffic.v1?.requests).toBe(2);
    expect(split(10).toNodeSplit().traffic).toEqual({
      v1: { requests: 0, failures: 0, clientErrors: 0, buckets: buckets({}), latency: [] },
      v2: { requests: 0, failures: 0, clientErrors: 0, buckets: buckets({}), latency: [], shadowed: 0, divergent: 0 },
    });
  });
});
