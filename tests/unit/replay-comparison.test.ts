/**
 * How a candidate's outputs on replayed requests are judged against the active version's
 * (inference/replay-comparison.ts): within the tolerance golden vectors use, worst errors over every
 * compared value, the first divergence named; and the report as the CLI and page word it.
 */
import * as ort from "onnxruntime-node";
import { describe, expect, it } from "vitest";
import { mergedReplayReport, replaySummary } from "../../core/replay-report.js";
import { ReplayComparison } from "../../inference/replay-comparison.js";

const floats = (...values: number[]) => ({ y: new ort.Tensor("float32", new Float32Array(values), [values.length]) });

describe("replay comparison", () => {
  it("counts a request divergent when any output is outside absolute + relative × |expected|", () => {
    const comparison = new ReplayComparison({ absolute: 0.01, relative: 0.1 });
    comparison.add(0, floats(1, 2), floats(1.05, 2.1));
    comparison.add(1, floats(1, 0), floats(1.2, 0));
    comparison.add(2, floats(0, 4), floats(0.02, 4));
    // Relative to the output's scale: a value expected near zero does not make it explode.
    comparison.add(3, floats(1e-9, 1), floats(1e-3, 1));
    const report = comparison.report(5);
    expect(report).toMatchObject({ replayed: 5, compared: 4, divergent: 2 });
    expect(report.worstAbsolute).toBeCloseTo(0.2, 5);
    expect(report.worstRelative).toBeCloseTo(0.2, 5);
    expect(report.first).toMatch(/^request 2, output y: value 0 is 1\.2\d*, expected 1 /);
  });

  it("an output the candidate did not produce, or of another shape, diverges without a figure", () => {
    const comparison = new ReplayComparison({ absolute: 0, relative: 0 });
    comparison.add(0, floats(1, 2), {});
    comparison.add(1, floats(1, 2), floats(1, 2, 3));
    expect(comparison.report(2)).toEqual({
      replayed: 2,
      compared: 2,
      divergent: 2,
      first: "request 1, output y: not produced",
    });
  });

  it("words a report, and merges the fleet's", () => {
    const one = { replayed: 32, compared: 30, divergent: 0, worstAbsolute: 1e-7, worstRelative: 2e-7 };
    const two = { replayed: 10, compared: 10, divergent: 1, worstAbsolute: 0.25, worstRelative: 0.0005, first: "x" };
    expect(replaySummary(one)).toBe("32 replayed, 0 of 30 compared diverged (worst 1e-7 absolute, 0.00002 % relative)");
    expect(replaySummary({ replayed: 5, compared: 0, divergent: 0 })).toBe("5 replayed, none with outputs to compare");
    expect(mergedReplayReport([one, two])).toEqual({
      replayed: 42,
      compared: 40,
      divergent: 1,
      worstAbsolute: 0.25,
      worstRelative: 0.0005,
      first: "x",
    });
    expect(mergedReplayReport([])).toBeNull();
  });
});
