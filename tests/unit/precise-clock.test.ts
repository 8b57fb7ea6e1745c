import { describe, expect, it } from "vitest";
import { preciseNow } from "../../core/precise-clock.js";

describe("preciseNow: the wall clock with sub-millisecond resolution", () => {
  it("stays within the millisecond Date.now() names, and has fractions of one", () => {
    const fractions = new Set<number>();
    for (let i = 0; i < 2_000; i++) {
      const before = Date.now();
      const now = preciseNow();
      const after = Date.now();
      expect(now).toBeGreaterThanOrEqual(before);
      expect(now).toBeLessThan(after + 1);
      fractions.add(Math.round((now % 1) * 10));
    }
    // Readings land on more than whole milliseconds.
    expect(fractions.size).toBeGreaterThan(1);
  });

  it("two readings in a row are a few microseconds apart, not 0 or 1 ms", () => {
    const gaps: number[] = [];
    for (let i = 0; i < 200; i++) {
      const first = preciseNow();
      gaps.push(preciseNow() - first);
    }
    expect(gaps.filter((gap) => gap > 0 && gap < 0.5).length).toBeGreaterThan(100);
  });
});
