/**
 * The rules every state backend must keep — Redis (Lua scripts) and in-memory (the embedded default):
 * the same sequence of transitions gives the same answers on both.
 */
import { beforeEach, describe, expect, it } from "vitest";
import type { RolloutTransitions } from "../../controller/state/rollout-transitions.js";
import type { DownloadSlots } from "../../core/download-slots.js";
import type { FleetStateStore } from "../../core/fleet-state.js";
import type { HistoryEntry, NodeRecord } from "../../core/model-state.js";
import type { Progressive } from "../../core/progressive.js";

export interface StateBackend {
  readonly fleet: FleetStateStore;
  readonly store: RolloutTransitions;
  readonly slots: DownloadSlots;
}

export function stateContract(name: string, create: () => StateBackend): void {
  describe(`state on ${name}`, () => {
    let fleet: FleetStateStore;
    let store: RolloutTransitions;
    let slots: DownloadSlots;
    beforeEach(() => {
      ({ fleet, store, slots } = create());
    });

    function entry(rolloutId: string, outcome: HistoryEntry["outcome"], to: string): HistoryEntry {
      const now = new Date().toISOString();
      return {
        rolloutId,
        action: "activate",
        by: "ops",
        startedAt: now,
        finishedAt: now,
        from: null,
        to,
        outcome,
        revision: 1,
        nodes: [],
      };
    }

    describe("model state transitions on a real Redis", () => {
      it("begin → promote → finish moves the pointer, records history and frees the lock", async () => {
        const lease = await store.begin("demo", { target: "v1", by: "alice", lockTtlMs: 10_000 });
        expect((await fleet.getModelState("demo")).rollout).toMatchObject({
          id: lease.rollout.id,
          target: "v1",
          phase: "preparing",
        });

        const promoted = await store.promote(lease);
        expect(promoted).toMatchObject({ active: "v1", previous: null, revision: 1, updatedBy: "alice" });
        expect(await store.finish(lease, entry(lease.rollout.id, "promoted", "v1"))).toBe(true);

        expect(await fleet.getModelState("demo")).toMatchObject({ active: "v1", revision: 1, rollout: null });
        expect((await fleet.history("demo")).map((h) => h.rolloutId)).toEqual([lease.rollout.id]);
        expect(await fleet.listModelNames()).toEqual(["demo"]);

        const second = await store.begin("demo", { target: "v2", by: "bob", lockTtlMs: 10_000, expectRevision: 1 });
        expect(await store.promote(second)).toMatchObject({ active: "v2", previous: "v1", revision: 2 });
        await store.finish(second, entry(second.rollout.id, "promoted", "v2"));
        expect((await fleet.history("demo")).map((h) => h.to)).toEqual(["v2", "v1"]);
      });

      it("a second rollout while one runs → ROLLOUT_IN_PROGRESS naming the first; a stale revision → REVISION_MISMATCH", async () => {
        const lease = await store.begin("demo", { target: "v1", by: "alice", lockTtlMs: 10_000 });
        await expect(store.begin("demo", { target: "v2", by: "bob", lockTtlMs: 10_000 })).rejects.toMatchObject({
          code: "ROLLOUT_IN_PROGRESS",
          message: expect.stringContaining(`${lease.rollout.id} → v1, by alice`),
        });
        await store.finish(lease, entry(lease.rollout.id, "aborted", "v1"));
        await expect(
          store.begin("demo", { target: "v2", by: "bob", lockTtlMs: 10_000, expectRevision: 3 }),
        ).rejects.toMatchObject({
          code: "REVISION_MISMATCH",
          message: "demo is at revision 0, not the expected 3",
        });
      });

      it("an abort leaves the pointer as it was", async () => {
        const first = await store.begin("demo", { target: "v1", by: "a", lockTtlMs: 10_000 });
        await store.promote(first);
        await store.finish(first, entry(first.rollout.id, "promoted", "v1"));
        const lease = await store.begin("demo", { target: "v2", by: "a", lockTtlMs: 10_000 });
        await store.finish(lease, entry(lease.rollout.id, "aborted", "v2"));
        expect(await fleet.getModelState("demo")).toMatchObject({
          active: "v1",
          previous: null,
          revision: 1,
          rollout: null,
        });
      });

      it("a controller that died mid-rollout leaves nothing stuck: the lock expires, the next rollout clears its leftovers", async () => {
        const dead = await store.begin("demo", { target: "v1", by: "dead", lockTtlMs: 150 });
        await new Promise((resolve) => setTimeout(resolve, 250));
        const next = await store.begin("demo", { target: "v2", by: "alive", lockTtlMs: 10_000 });
        expect((await fleet.getModelState("demo")).rollout).toMatchObject({ id: next.rollout.id, by: "alive" });

        await expect(store.promote(dead)).rejects.toMatchObject({ code: "LOCK_LOST" });
        expect(await store.finish(dead, entry(dead.rollout.id, "aborted", "v1"))).toBe(false);
        expect((await fleet.getModelState("demo")).rollout?.id).toBe(next.rollout.id);
        expect(await store.extend(dead, 1000)).toBe(false);
        expect(await store.extend(next, 1000)).toBe(true);
      });
    });

    describe("progressive rollouts: recorded between steps, resumed by whichever controller ticks", () => {
      const progressive = (): Progressive => ({
        strategy: "canary",
        steps: [10, 50],
        step: 0,
        weight: 0,
        seq: 0,
        bakeMs: 60_000,
        bakeUntil: null,
        manual: false,
        holding: null,
        shadowPercent: 0,
        baseline: "v1",
        analysis: { maxErrorRate: 0.01, maxP99Ratio: 1.5, minRequests: 100 },
        lastAnalysis: null,
      });

      it("update → release keeps the record and blocks new rollouts; resume takes it again; promote completes it", async () => {
        const first = await store.begin("demo", { target: "v1", by: "ops", lockTtlMs: 10_000 });
        await store.promote(first);
        await store.finish(first, entry(first.rollout.id, "promoted", "v1"));

        const lease = await store.begin("demo", {
          target: "v2",
          by: "alice",
          lockTtlMs: 10_000,
          progressive: progressive(),
        });
        expect(lease.rollout.progressive?.steps).toEqual([10, 50]);
        const analysed = {
          ...lease.rollout,
          phase: "progressing" as const,
          progressive: {
            ...progressive(),
            weight: 10,
            seq: 1,
            bakeUntil: 1_796_000_000_123,
            hooks: [{ event: "pre-traffic" as const, url: "http://127.0.0.1:9/hook" }],
            lastAnalysis: {
              at: new Date(0).toISOString(),
              step: 0,
              weight: 10,
              verdict: "pass" as const,
              reason: "within thresholds",
              baseline: { requests: 900, failures: 1, errorRate: 0.001111111, p99Ms: 4.25 },
              candidate: { requests: 100, failures: 0, errorRate: 0, p99Ms: null },
            },
          },
        };
        const updated = await store.update(lease, analysed);
        expect(updated.rollout).toEqual(analysed);
        expect(await store.release(updated)).toBe(true);
        expect(await store.release(updated)).toBe(false);
        // Recorded exactly, arrays and nulls included, with the pointer untouched.
        expect(await fleet.getModelState("demo")).toMatchObject({ active: "v1", revision: 1, rollout: analysed });

        await expect(store.begin("demo", { target: "v3", by: "bob", lockTtlMs: 10_000 })).rejects.toMatchObject({
          code: "ROLLOUT_IN_PROGRESS",
          message: expect.stringContaining(lease.rollout.id),
        });
        expect(await store.resume("demo", { rolloutId: "someone-else", lockTtlMs: 10_000 })).toBeUndefined();
        const resumed = await store.resume("demo", { rolloutId: lease.rollout.id, lockTtlMs: 10_000 });
        expect(resumed?.rollout).toEqual(analysed);
        expect(resumed?.startState).toMatchObject({ active: "v1", revision: 1, rollout: null });
        await expect(store.resume("demo", { lockTtlMs: 10_000 })).rejects.toMatchObject({
          code: "ROLLOUT_IN_PROGRESS",
        });
        if (resumed === undefined) throw new Error("not resumed");
        await expect(store.update(updated, analysed)).rejects.toMatchObject({ code: "LOCK_LOST" });

        expect(await store.promote(resumed)).toMatchObject({ active: "v2", previous: "v1", revision: 2 });
        expect(await store.finish(resumed, entry(resumed.rollout.id, "promoted", "v2"))).toBe(true);
        expect(await fleet.getModelState("demo")).toMatchObject({ active: "v2", rollout: null });
        expect(await store.resume("demo", { lockTtlMs: 10_000 })).toBeUndefined();
      });

      it("a rollout whose controller died is resumed once its lock expired", async () => {
        const dead = await store.begin("demo", { target: "v1", by: "dead", lockTtlMs: 150 });
        await expect(store.resume("demo", { lockTtlMs: 10_000 })).rejects.toMatchObject({
          code: "ROLLOUT_IN_PROGRESS",
        });
        await new Promise((resolve) => setTimeout(resolve, 250));
        const taken = await store.resume("demo", { lockTtlMs: 10_000 });
        expect(taken?.rollout.id).toBe(dead.rollout.id);
        if (taken === undefined) throw new Error("not resumed");
        expect(await store.finish(taken, entry(taken.rollout.id, "aborted", "v1"))).toBe(true);
        expect((await fleet.getModelState("demo")).rollout).toBeNull();
      });
    });

    describe("node heartbeats", () => {
      const record = (nodeId: string): NodeRecord => ({
        nodeId,
        url: `http://${nodeId}:8080`,
        executionProvider: "cpu",
        startedAt: new Date().toISOString(),
        updatedAt: new Date().toISOString(),
        serves: [],
        models: { demo: { active: "v1", revision: 1, warm: [], staged: null, lastError: null } },
      });

      it("a node is live while its heartbeat lasts, and gone after it expires or deregisters", async () => {
        await fleet.heartbeat(record("n1"), 10_000);
        await fleet.heartbeat(record("n2"), 100);
        expect((await fleet.listNodes()).map((n) => n.nodeId)).toEqual(["n1", "n2"]);
        await new Promise((resolve) => setTimeout(resolve, 200));
        expect((await fleet.listNodes()).map((n) => n.nodeId)).toEqual(["n1"]);
        await fleet.deregister("n1");
        expect(await fleet.listNodes()).toEqual([]);
      });

      const serving = (nodeId: string, serves: string[]): NodeRecord => ({ ...record(nodeId), serves });
      const ids = async (model: string) => (await fleet.listModelNodes(model)).map((n) => n.nodeId);

      it("a model's nodes are those that list it and those that serve every model, whole records, sorted", async () => {
        await fleet.heartbeat(serving("n3", []), 10_000);
        await fleet.heartbeat(serving("n2", ["other"]), 10_000);
        await fleet.heartbeat(serving("n1", ["demo", "other"]), 10_000);
        expect(await ids("demo")).toEqual(["n1", "n3"]);
        expect(await ids("other")).toEqual(["n1", "n2", "n3"]);
        expect(await ids("unserved")).toEqual(["n3"]);
        expect(await fleet.listModelNodes("demo")).toEqual((await fleet.listNodes()).filter((n) => n.nodeId !== "n2"));
      });

      it("a node that stops serving a model leaves its list on its next heartbeat, and every list once it expires or deregisters", async () => {
        await fleet.heartbeat(serving("n1", ["demo"]), 10_000);
        await fleet.heartbeat(serving("n2", []), 10_000);
        await fleet.heartbeat(serving("n3", ["demo"]), 100);
        expect(await ids("demo")).toEqual(["n1", "n2", "n3"]);

        await fleet.heartbeat(serving("n1", ["other"]), 10_000);
        await fleet.heartbeat(serving("n2", ["other"]), 10_000);
        expect(await ids("demo")).toEqual(["n3"]);
        expect(await ids("other")).toEqual(["n1", "n2"]);
        expect(await ids("unserved")).toEqual([]);

        await new Promise((resolve) => setTimeout(resolve, 200));
        expect(await ids("demo")).toEqual([]);
        await fleet.heartbeat(serving("n2", []), 10_000);
        expect(await ids("demo")).toEqual(["n2"]);
        await fleet.deregister("n2");
        await fleet.deregister("n1");
        expect(await ids("other")).toEqual([]);
        expect(await ids("demo")).toEqual([]);
      });
    });

    describe("download slots: the fleet-wide fan-in limit", () => {
      it("holds at most `limit` per version; a holder keeps its own; a freed slot goes to the next", async () => {
        expect(await slots.acquire("demo", "v1", "n1", 2, 10_000)).toBe(true);
        expect(await slots.acquire("demo", "v1", "n2", 2, 10_000)).toBe(true);
        expect(await slots.acquire("demo", "v1", "n3", 2, 10_000)).toBe(false);
        expect(await slots.acquire("demo", "v1", "n1", 2, 10_000)).toBe(true);
        // Another version of the model, and another model, count on their own.
        expect(await slots.acquire("demo", "v2", "n3", 1, 10_000)).toBe(true);
        expect(await slots.acquire("other", "v1", "n3", 1, 10_000)).toBe(true);
        await slots.release("demo", "v1", "n1");
        await slots.release("demo", "v1", "n9");
        expect(await slots.acquire("demo", "v1", "n3", 2, 10_000)).toBe(true);
        expect(await slots.acquire("demo", "v1", "n4", 2, 10_000)).toBe(false);
      });

      it("a lease renewed lasts; one not renewed expires, frees its slot, and cannot be renewed", async () => {
        const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
        expect(await slots.acquire("demo", "v1", "n1", 1, 1_000)).toBe(true);
        await sleep(500);
        expect(await slots.renew("demo", "v1", "n1", 1_000)).toBe(true);
        await sleep(700);
        expect(await slots.acquire("demo", "v1", "n2", 1, 1_000)).toBe(false);
        await sleep(700);
        expect(await slots.renew("demo", "v1", "n1", 1_000)).toBe(false);
        expect(await slots.acquire("demo", "v1", "n2", 1, 1_000)).toBe(true);
        expect(await slots.renew("demo", "v1", "n3", 1_000)).toBe(false);
      });
    });
  });
}
