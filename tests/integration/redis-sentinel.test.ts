/**
 * cutover on Redis behind Sentinel (redis+sentinel://), all real processes: a master, a replica and
 * three sentinels (tests/support/redis-sentinel.ts), the controller and scripted nodes on the
 * sentinel URL. The state contract holds there; the master SIGKILLed right after a rollout and in
 * the middle of one loses nothing that was reported committed (pointer, history), and the next
 * activation succeeds once Sentinel has failed over. Each kill prints the failover gap the test saw:
 * from the SIGKILL to the first write that succeeded through the sentinel URL. Sentinels that cannot
 * be reached, or never answer, fail a command within the state timeout.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Controller } from "../../controller/controller.js";
import { RedisRolloutStore } from "../../controller/state/rollout-store.js";
import type { ModelState } from "../../core/model-state.js";
import { createRedis, type RedisClient } from "../../core/redis/connection.js";
import { RedisDownloadSlots } from "../../core/redis/download-slots.js";
import { RedisFleetState } from "../../core/redis/fleet-state.js";
import { StateKeys } from "../../core/state-keys.js";
import { type ControllerHarness, MODEL, startControllerHarness, TOKEN } from "../support/controller-harness.js";
import { freePort } from "../support/free-port.js";
import { waitUntil } from "../support/redis-process.js";
import { type SentinelTestSetup, startRedisSentinel } from "../support/redis-sentinel.js";
import { startSilentServer } from "../support/silent-server.js";
import { stateContract } from "../support/state-contract.js";

let sentinel: SentinelTestSetup;
let harness: ControllerHarness;
let redis: RedisClient;
let testNumber = 0;

beforeAll(async () => {
  [sentinel, harness] = await Promise.all([startRedisSentinel(), startControllerHarness()]);
});
afterAll(async () => {
  await harness?.stop();
  await sentinel?.stop();
});
beforeEach(() => {
  redis = createRedis({ url: sentinel.url, name: "test" });
});
afterEach(() => {
  redis.disconnect();
});

stateContract("Redis behind Sentinel", () => {
  const keys = new StateKeys(`c${testNumber++}:`);
  const fleet = new RedisFleetState(redis, keys);
  return { fleet, store: new RedisRolloutStore(fleet), slots: new RedisDownloadSlots(redis, keys) };
});

async function activate(controller: Controller, version: string) {
  const response = await controller.app.request(`/v1/models/${MODEL}/activate`, {
    method: "POST",
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify({ version, timeoutMs: 15_000 }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** Activates until it is no longer refused because the killed rollout's lock is still held. */
async function activateOnceFree(controller: Controller, version: string) {
  let result = await activate(controller, version);
  for (let i = 0; i < 60 && result.status === 409; i++) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    result = await activate(controller, version);
  }
  return result;
}

/**
 * SIGKILLs the master and writes through the sentinel URL every 25 ms until one succeeds; resolves
 * with the gap (kill → that write) and the new master's port.
 */
async function killMasterAndMeasure(probe: RedisClient): Promise<{ gapMs: number; promoted: number }> {
  const killedAt = Date.now();
  const killed = await sentinel.killMaster();
  let gapMs = -1;
  for (let i = 0; gapMs < 0; i++) {
    const ok = await probe.set("failover-probe", String(i)).then(
      () => true,
      () => false,
    );
    if (ok) gapMs = Date.now() - killedAt;
    else await new Promise((resolve) => setTimeout(resolve, 25));
    if (Date.now() - killedAt > 60_000) throw new Error("no write succeeded within 60 s of the kill");
  }
  const promoted = await sentinel.waitForFailover(killed);
  console.log(`sentinel failover gap (SIGKILL → first successful write): ${gapMs} ms; master ${killed} → ${promoted}`);
  return { gapMs, promoted };
}

async function fleetOn(prefix: string) {
  const controller = await harness.controller(prefix, {}, { redisUrl: sentinel.url });
  const nodes = [
    await harness.node(prefix, "n1", { redisUrl: sentinel.url }),
    await harness.node(prefix, "n2", { redisUrl: sentinel.url, stageDelayMs: 600 }),
  ];
  const fleet = new RedisFleetState(redis, new StateKeys(prefix));
  const liveNodes = () =>
    waitUntil("both nodes heartbeat again", async () => (await fleet.listNodes()).length === 2, 30_000);
  return { controller, nodes, fleet, liveNodes };
}

describe("the master SIGKILLed", () => {
  it("right after a rollout: the promotion and its history entry survive the failover; the next activation succeeds", async () => {
    const { controller, nodes, fleet, liveNodes } = await fleetOn("after:");
    const first = await activate(controller, "v1");
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    // No pause: the promotion waited (WAIT) for the replica before the controller answered.
    const { gapMs } = await killMasterAndMeasure(redis);
    expect(gapMs).toBeGreaterThan(0);

    const state: ModelState = await fleet.getModelState(MODEL);
    expect(state).toMatchObject({ active: "v1", revision: 1, rollout: null });
    expect((await fleet.history(MODEL)).map((entry) => [entry.rolloutId, entry.outcome])).toEqual([
      [first.body.rolloutId, "promoted"],
    ]);

    await liveNodes();
    const next = await activateOnceFree(controller, "v2");
    expect(next.status, JSON.stringify(next.body)).toBe(200);
    expect(next.body).toMatchObject({ from: "v1", to: "v2", revision: 2, confirmed: 2 });
    expect(nodes.map((node) => node.active)).toEqual(["v2", "v2"]);
    await sentinel.restartKilled();
  }, 120_000);

  it("in the middle of a rollout: it completes or aborts cleanly, nothing committed is lost, the next activation succeeds", async () => {
    const { controller, nodes, fleet, liveNodes } = await fleetOn("during:");
    const first = await activate(controller, "v1");
    expect(first.status, JSON.stringify(first.body)).toBe(200);

    const pending = activate(controller, "v2");
    await waitUntil(
      "the rollout to v2 is preparing",
      async () => (await fleet.getModelState(MODEL)).rollout?.phase === "preparing",
      10_000,
    );
    await killMasterAndMeasure(redis);
    const during = await pending;
    console.log(
      `sentinel: the rollout in flight during the failover answered ${during.status} ${JSON.stringify(during.body.error ?? "")}`,
    );
    // Completed (200), or failed cleanly: the state unreachable (503), nodes not staged in time (504).
    expect([200, 503, 504], JSON.stringify(during.body)).toContain(during.status);
    const promoted = during.status === 200;

    await liveNodes();
    const next = await activateOnceFree(controller, "v4");
    expect(next.status, JSON.stringify(next.body)).toBe(200);
    expect(next.body).toMatchObject({ to: "v4", from: promoted ? "v2" : "v1", confirmed: 2 });
    expect(nodes.map((node) => node.active)).toEqual(["v4", "v4"]);

    const state = await fleet.getModelState(MODEL);
    expect(state).toMatchObject({ active: "v4", previous: promoted ? "v2" : "v1", revision: promoted ? 3 : 2 });
    const promotions = (await fleet.history(MODEL))
      .filter((entry) => entry.outcome === "promoted")
      .map((entry) => [entry.to, entry.revision]);
    expect(promotions).toEqual(
      promoted
        ? [
            ["v4", 3],
            ["v2", 2],
            ["v1", 1],
          ]
        : [
            ["v4", 2],
            ["v1", 1],
          ],
    );
    await sentinel.restartKilled();
  }, 120_000);
});

describe("a manual failover (SENTINEL FAILOVER: the old master stays up, demoted to a replica)", () => {
  it("a connection made before follows to the new master; writes go on", async () => {
    await redis.set("manual-probe", "before");
    const from = await sentinel.masterPort();
    const startedAt = Date.now();
    await sentinel.failover();
    const to = await sentinel.waitForFailover(from);
    const serverPort = async () => {
      const info = String(await redis.call("INFO", "server"));
      return Number(/tcp_port:(\d+)/.exec(info)?.[1]);
    };
    await waitUntil("the test's connection is on the new master", async () => (await serverPort()) === to, 10_000);
    const followedMs = Date.now() - startedAt;
    await redis.set("manual-probe", "after");
    expect(await redis.get("manual-probe")).toBe("after");
    console.log(`sentinel: SENTINEL FAILOVER → the connection on the new master after ${followedMs} ms`);
  }, 60_000);
});

/** A port with nothing on it, shaped like the silent server. */
async function nothingListens(): Promise<{ port: number; stop(): Promise<void> }> {
  return { port: await freePort(), stop: async () => undefined };
}

describe("sentinels that cannot be reached, or never answer", () => {
  it.each([
    ["nothing listens", nothingListens],
    ["accepts and stays silent", startSilentServer],
  ])("%s: a command fails within the state timeout", async (_, start) => {
    const server = await start();
    const url = `redis+sentinel://127.0.0.1:${server.port}/cutover-test`;
    const client = createRedis({ url, name: "bounded", timeoutMs: 500 });
    try {
      const startedAt = Date.now();
      await expect(client.get("x")).rejects.toThrow();
      expect(Date.now() - startedAt).toBeLessThan(2_000);
    } finally {
      client.disconnect();
      await server.stop();
    }
  });
});
