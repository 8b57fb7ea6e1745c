import { describe, expect, it } from "vitest";
import { ReconcileQueue } from "../../inference/reconcile-queue.js";

/** A cycle that waits until released, counting how many ran and how many ran at once. */
function gatedCycles() {
  const releases: (() => void)[] = [];
  const counts = { started: 0, running: 0, mostAtOnce: 0 };
  const cycle = async () => {
    counts.started++;
    counts.running++;
    counts.mostAtOnce = Math.max(counts.mostAtOnce, counts.running);
    await new Promise<void>((resolve) => releases.push(resolve));
    counts.running--;
  };
  const releaseNext = async () => {
    while (releases.length === 0) await new Promise((resolve) => setTimeout(resolve, 1));
    releases.shift()?.();
  };
  return { cycle, counts, releaseNext };
}

describe("ReconcileQueue: one cycle at a time, requests coalesce", () => {
  it("requests made while a cycle runs share one more cycle, which starts after it", async () => {
    const { cycle, counts, releaseNext } = gatedCycles();
    const queue = new ReconcileQueue(cycle, () => undefined);
    const first = queue.request();
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(counts.started).toBe(1);
    const waiting = [queue.request(), queue.request(), queue.request()];
    expect(waiting[0]).toBe(waiting[1]);
    expect(waiting[1]).toBe(waiting[2]);
    expect(waiting[0]).not.toBe(first);
    await releaseNext();
    await first;
    await releaseNext();
    await Promise.all(waiting);
    expect(counts.started).toBe(2);
    expect(counts.mostAtOnce).toBe(1);
  });

  it("a cycle that throws is reported and the queue goes on; request() never rejects", async () => {
    const errors: unknown[] = [];
    let calls = 0;
    const queue = new ReconcileQueue(
      async () => {
        calls++;
        if (calls === 1) throw new Error("boom");
      },
      (error) => errors.push(error),
    );
    await expect(queue.request()).resolves.toBeUndefined();
    await expect(queue.request()).resolves.toBeUndefined();
    expect(calls).toBe(2);
    expect(errors).toEqual([new Error("boom")]);
  });
});
