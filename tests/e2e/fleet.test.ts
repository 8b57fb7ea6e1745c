/**
 * The central promise, shown with real processes: redis-server, s3rver, `cutover controller` and three
 * `cutover node` processes on loopback, and a load generator sending infer requests without pause at
 * concurrency 32. Bounded: 20 flips, a few faults (bad artifact, S3 cut off, a node killed, a node cut
 * off from the bus, Redis killed, the controller killed mid-rollout), each with a deadline.
 */
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { HistoryEntry, ModelState } from "../../core/model-state.js";
import { StateKeys } from "../../core/state-keys.js";
import { MODEL } from "../support/controller-harness.js";
import { type Fleet, startFleet } from "../support/fleet-harness.js";
import { infer, loadGenerator } from "../support/node-harness.js";

let fleet: Fleet;
const urls = () => fleet.nodes.map((node) => node.url);

beforeAll(async () => {
  fleet = await startFleet();
  expect((await fleet.activate("v1")).body).toMatchObject({ to: "v1", confirmed: 3 });
}, 120_000);
afterAll(() => fleet?.stop(), 60_000);

async function everyNodeServes(version: string): Promise<void> {
  await expect
    .poll(async () => (await Promise.all(urls().map((url) => infer(url)))).map((answer) => answer.version), {
      timeout: 15_000,
      interval: 100,
    })
    .toEqual(urls().map(() => version));
}

describe("a fleet of three node processes under continuous load (concurrency 32)", () => {
  it("20 alternating activations and rollbacks: no failed request, only v1 or v2, never the old version once a flip returned", async () => {
    const load = loadGenerator(urls(), 32);
    const flips: { target: string; returnedAt: number; nextSentAt: number }[] = [];
    try {
      await new Promise((resolve) => setTimeout(resolve, 300));
      for (let i = 0; i < 20; i++) {
        const sentAt = Date.now();
        const last = flips.at(-1);
        if (last) last.nextSentAt = sentAt;
        const result = i % 2 === 0 ? await fleet.activate("v2") : await fleet.rollback();
        const target = i % 2 === 0 ? "v2" : "v1";
        expect(result.status, JSON.stringify(result.body)).toBe(200);
        expect(result.body).toMatchObject({ to: target, confirmed: 3 });
        flips.push({ target, returnedAt: Date.now(), nextSentAt: Number.POSITIVE_INFINITY });
      }
      await new Promise((resolve) => setTimeout(resolve, 300));
    } finally {
      await load.stop();
    }
    const answers = load.answers;
    expect(answers.length).toBeGreaterThan(500);
    expect(answers.filter((a) => a.status !== 200)).toEqual([]);
    expect(new Set(answers.map((a) => a.version))).toEqual(new Set(["v1", "v2"]));
    for (const flip of flips) {
      const stale = answers.filter(
        (a) => a.sentAt > flip.returnedAt && a.sentAt < flip.nextSentAt && a.version !== flip.target,
      );
      expect(stale, `after the flip to ${flip.target}`).toEqual([]);
    }

    const response = await fetch(`${fleet.controller.url}/v1/models/${MODEL}/history?limit=100`);
    const { history } = (await response.json()) as { history: HistoryEntry[] };
    const flipsInHistory = history.slice(0, 20).reverse();
    expect(flipsInHistory.map((entry) => [entry.action, entry.to, entry.outcome])).toEqual(
      flips.map((flip, i) => [i % 2 === 0 ? "activate" : "rollback", flip.target, "promoted"]),
    );
    for (const entry of flipsInHistory) {
      expect(entry.nodes.map((node) => node.nodeId)).toEqual(["n1", "n2", "n3"]);
      expect(
        entry.nodes.every(
          (node) => node.outcome === "promoted" && node.loadMs !== undefined && node.switchedAt !== undefined,
        ),
      ).toBe(true);
      expect(entry.switchSpreadMs).toBeGreaterThanOrEqual(0);
    }
  }, 120_000);
});

describe("faults, with zero failed requests on the version being served", () => {
  it("a bad artifact (a changed byte) is pushed and activated: aborted with each node's reason, nothing changes", async () => {
    const load = loadGenerator(urls(), 8);
    const result = await fleet.activate("bad");
    const answers = await load.stop();
    expect(result.status).toBe(504);
    expect(String((result.body.error as { message: string }).message)).toMatch(/DIGEST_MISMATCH/);
    expect(answers.filter((a) => a.status !== 200 || a.version !== "v1")).toEqual([]);
    await everyNodeServes("v1");
  }, 60_000);

  it("S3 unreachable during prepare (for the nodes): aborted with STORE_UNREACHABLE; the nodes keep serving", async () => {
    for (const node of fleet.nodes) node.s3Proxy.block();
    const load = loadGenerator(urls(), 8);
    try {
      const result = await fleet.activate("v5", { timeoutMs: 30_000 });
      expect(result.status).toBe(504);
      expect(String((result.body.error as { message: string }).message)).toMatch(/STORE_UNREACHABLE/);
    } finally {
      for (const node of fleet.nodes) node.s3Proxy.unblock();
    }
    const answers = await load.stop();
    expect(answers.filter((a) => a.status !== 200 || a.version !== "v1")).toEqual([]);
  }, 90_000);

  it("a node killed during prepare does not block the rollout; restarted, it converges", async () => {
    const [first, second, third] = fleet.nodes;
    if (!first || !second || !third) throw new Error("three nodes expected");
    const load = loadGenerator([first.url, second.url], 8);
    await third.kill();
    const result = await fleet.activate("v2");
    const answers = await load.stop();
    expect(result.status, JSON.stringify(result.body)).toBe(200);
    expect((result.body.nodes as { nodeId: string }[]).map((node) => node.nodeId)).toEqual(["n1", "n2"]);
    expect(answers.filter((a) => a.status !== 200)).toEqual([]);
    await third.start();
    await everyNodeServes("v2");
  }, 90_000);

  it("one node cut off from the bus during a rollout keeps serving, and converges within the resync interval", async () => {
    const cut = fleet.nodes[2];
    if (!cut) throw new Error("three nodes expected");
    cut.redisProxy.block();
    const load = loadGenerator(urls(), 8);
    try {
      const result = await fleet.activate("v1");
      expect(result.status, JSON.stringify(result.body)).toBe(200);
      expect((await infer(cut.url)).version).toBe("v2");
    } finally {
      cut.redisProxy.unblock();
    }
    await everyNodeServes("v1");
    const answers = await load.stop();
    expect(answers.filter((a) => a.status !== 200)).toEqual([]);
  }, 90_000);

  it("Redis killed and restarted during a rollout: it fails cleanly or completes, the nodes keep serving, the next one succeeds", async () => {
    const load = loadGenerator(urls(), 8);
    const pending = fleet.activate("v2");
    await fleet.redis.kill();
    await new Promise((resolve) => setTimeout(resolve, 500));
    await fleet.redis.start();
    const result = await pending;
    expect([200, 409, 503, 504]).toContain(result.status);
    let next = await fleet.activate("v2");
    for (let i = 0; i < 40 && next.status === 409; i++) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      next = await fleet.activate("v2");
    }
    expect(next.status, JSON.stringify(next.body)).toBe(200);
    await everyNodeServes("v2");
    const answers = await load.stop();
    expect(answers.filter((a) => a.status !== 200)).toEqual([]);
    expect(new Set(answers.map((a) => a.version))).toEqual(new Set(["v1", "v2"]));
  }, 120_000);

  it("the controller killed between prepare and promote: nothing changes; restarted, the next activation succeeds once the lock expires", async () => {
    const load = loadGenerator(urls(), 8);
    // The nodes cannot reach S3, so they stay in prepare (fetching v5) while the controller dies.
    for (const node of fleet.nodes) node.s3Proxy.block();
    const redis = new Redis(fleet.redis.url);
    try {
      const pending = fleet.activate("v5", { timeoutMs: 30_000 }).catch(() => undefined);
      const stateKey = new StateKeys(fleet.env.CUTOVER_REDIS_PREFIX).modelState(MODEL);
      await expect
        .poll(async () => (JSON.parse((await redis.get(stateKey)) ?? "{}") as ModelState).rollout?.phase, {
          timeout: 10_000,
          interval: 20,
        })
        .toBe("preparing");
      await fleet.controller.kill();
      await pending;
      for (const node of fleet.nodes) node.s3Proxy.unblock();
      // Nobody promotes: the nodes keep serving v2.
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      expect((await Promise.all(urls().map((url) => infer(url)))).map((answer) => answer.version)).toEqual(
        urls().map(() => "v2"),
      );
      await fleet.controller.start();
      let next = await fleet.activate("v5");
      for (let i = 0; i < 40 && next.status === 409; i++) {
        await new Promise((resolve) => setTimeout(resolve, 250));
        next = await fleet.activate("v5");
      }
      expect(next.status, JSON.stringify(next.body)).toBe(200);
      expect(next.body).toMatchObject({ to: "v5", confirmed: 3 });
      await everyNodeServes("v5");
    } finally {
      for (const node of fleet.nodes) node.s3Proxy.unblock();
      redis.disconnect();
    }
    const answers = await load.stop();
    expect(answers.filter((a) => a.status !== 200)).toEqual([]);
    expect(new Set(answers.map((a) => a.version))).toEqual(new Set(["v2", "v5"]));
  }, 120_000);
});
