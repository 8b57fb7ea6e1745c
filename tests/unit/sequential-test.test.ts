/**
 * The judge's anytime-valid test (controller/progressive/sequential-test.ts) and the fine latency
 * histogram it bins (core/latency-histogram.ts).
 */
import { describe, expect, it } from "vitest";
import { logEvidence, logGamma } from "../../controller/progressive/sequential-test.js";
import {
  bucketValue,
  FineHistogram,
  fineBucket,
  histogramQuantileFine,
  mergeHistograms,
} from "../../core/latency-histogram.js";
import { seededRandom } from "../support/seeded-random.js";

describe("the anytime-valid evidence", () => {
  it("ln Γ matches known values", () => {
    expect(logGamma(1)).toBeCloseTo(0, 12);
    expect(logGamma(0.5)).toBeCloseTo(Math.log(Math.sqrt(Math.PI)), 12);
    expect(logGamma(10)).toBeCloseTo(Math.log(362_880), 10);
    expect(logGamma(0.2)).toBeCloseTo(1.524_063_822_430_784, 10);
  });

  it("is 1 before any answer, and the same however the counts were reached", () => {
    expect(logEvidence([{ candidate: 0, baseline: 0 }], 0.1)).toBe(0);
    const split = logEvidence([{ candidate: 3, baseline: 1 }], 0.5);
    expect(
      logEvidence(
        [
          { candidate: 3, baseline: 1 },
          { candidate: 0, baseline: 0 },
        ],
        0.5,
      ),
    ).toBe(split);
    expect(() => logEvidence([], 1)).toThrow(RangeError);
  });

  it("grows with answers that favour the candidate far beyond its share", () => {
    // Every failure on a 10 % candidate: 22 after 3, conclusive (≥ 100) after 4.
    const evidence = [1, 2, 3, 4].map((n) => Math.exp(logEvidence([{ candidate: n, baseline: 0 }], 0.1)));
    expect(evidence[0]).toBeLessThan(evidence[1] ?? 0);
    expect(evidence[2]).toBeCloseTo(22, 6);
    expect(evidence[3]).toBeGreaterThan(100);
  });

  it("under the null, looked at after every answer, reaches 100 in at most ~1 % of sequences", () => {
    const random = seededRandom(42);
    let alarms = 0;
    const runs = 400;
    for (let run = 0; run < runs; run++) {
      const share = [0.1, 0.5][run % 2] ?? 0.5;
      const bins = Array.from({ length: 6 }, () => ({ candidate: 0, baseline: 0 }));
      for (let answer = 0; answer < 1_500; answer++) {
        const bin = bins[Math.floor(random() * bins.length)];
        if (bin === undefined) continue;
        if (random() < share) bin.candidate++;
        else bin.baseline++;
        if (logEvidence(bins, share) >= Math.log(100)) {
          alarms++;
          break;
        }
      }
    }
    expect(alarms).toBeLessThanOrEqual(runs * 0.02);
  });
});

describe("the fine latency histogram", () => {
  it("knows every latency from 10 µs to minutes within ±2 %", () => {
    for (const ms of [0.011, 0.3, 1, 2.5, 47, 999, 120_000]) {
      expect(Math.abs(bucketValue(fineBucket(ms)) / ms - 1)).toBeLessThan(0.021);
    }
    expect(fineBucket(0)).toBe(0);
    expect(fineBucket(Number.POSITIVE_INFINITY)).toBe(479);
  });

  it("is sparse, mergeable, and gives quantiles within 2 %", () => {
    const a = new FineHistogram();
    const b = new FineHistogram();
    for (let i = 1; i <= 100; i++) (i % 2 === 0 ? a : b).observe(i);
    const merged = mergeHistograms([a.sparse(), b.sparse()]);
    expect(merged.reduce((sum, [, count]) => sum + count, 0)).toBe(100);
    expect(merged.map(([bucket]) => bucket)).toEqual([...merged.map(([bucket]) => bucket)].sort((x, y) => x - y));
    expect(histogramQuantileFine(merged, 0.5)).toBeGreaterThan(50 * 0.98);
    expect(histogramQuantileFine(merged, 0.5)).toBeLessThan(50 * 1.02);
    expect(histogramQuantileFine(merged, 0.99)).toBeGreaterThan(99 * 0.98);
    expect(histogramQuantileFine([], 0.5)).toBeNull();
  });
});
