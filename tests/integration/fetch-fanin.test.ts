import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRedis, type RedisClient } from "../../core/redis/connection.js";
import { RedisFleetState } from "../../core/redis/fleet-state.js";
import { StateKeys } from "../../core/state-keys.js";
import { type ControllerHarness, MODEL, startControllerHarness, TOKEN } from "../support/controller-harness.js";
import { type CuttingProxy, startCuttingProxy } from "../support/cutting-proxy.js";
import { startTestNode, type TestNode } from "../support/node-harness.js";

let harness: ControllerHarness;
let proxy: CuttingProxy;
let redis: RedisClient;
const nodes: TestNode[] = [];

beforeAll(async () => {
  harness = await startControllerHarness();
  proxy = await startCuttingProxy(Number(new URL(harness.s3.endpoint).port));
  redis = createRedis({ url: harness.redis.url, name: "fanin-test" });
});
afterAll(async () => {
  await Promise.all(nodes.map((node) => node.close().catch(() => undefined)));
  redis.disconnect();
  await proxy.close();
  await harness.stop();
});

describe("the fleet-wide fan-in limit (CUTOVER_FETCH_FANIN)", () => {
  it("with a cap of 1, three nodes download v1 one at a time, the others waiting; all stage and the rollout succeeds", async () => {
    const prefix = "fanin:";
    const keys = new StateKeys(prefix);
    const fleet = new RedisFleetState(redis, keys);
    const controller = await harness.controller(prefix);
    const base = harness.config(prefix);
    if (base.store.kind !== "s3") throw new Error("the harness store is S3");
    const ids = ["f1", "f2", "f3"];
    for (const id of ids) {
      nodes.push(
        await startTestNode(harness, prefix, id, {
          // Each node reads the store through the proxy, which holds every GET of v1's model.onnx.
          store: { ...base.store, endpoint: proxy.endpoint },
          fetchFanIn: 1,
          // The demo version is ~1.5 KB: with 256-byte parts it is worth a slot (one part's worth or more).
          ranged: { partBytes: 256, partsInFlight: 2, rangedFromBytes: 1024 * 1024 },
        }),
      );
    }
    const modelGet = /^GET [^ ]*\/demo\/v1\/model\.onnx/;
    const modelGets = () => proxy.requests.filter((head) => modelGet.test(head)).length;
    const states = async () =>
      (await fleet.listNodes()).map((node) => node.models[MODEL]?.staged?.state ?? "none").sort();
    proxy.hold(modelGet);

    const activate = async () => {
      const response = await controller.app.request(`/v1/models/${MODEL}/activate`, {
        method: "POST",
        headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
        body: JSON.stringify({ version: "v1", timeoutMs: 60_000 }),
      });
      return { status: response.status, body: (await response.json()) as Record<string, unknown> };
    };
    const activation = activate();

    for (let round = 1; round <= ids.length; round++) {
      // One node holds the slot and its GET waits at the proxy; the others wait for the slot.
      await expect.poll(modelGets, { timeout: 15_000 }).toBe(round);
      const holders = await redis.zrange(keys.downloadSlots(MODEL, "v1"), "0", "-1");
      expect(holders).toHaveLength(1);
      const waiting = ids.length - round;
      await expect
        .poll(async () => (await states()).filter((state) => state === "waiting").length, { timeout: 10_000 })
        .toBe(waiting);
      // Nobody else reads the file while the holder's GET is held.
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(modelGets()).toBe(round);
      proxy.release();
      if (round < ids.length) proxy.hold(modelGet);
    }

    const result = await activation;
    expect(result.status).toBe(200);
    expect(result.body).toMatchObject({ to: "v1", confirmed: 3, fullyConfirmed: true });
    expect(modelGets()).toBe(3);
    // Every slot was given back.
    expect(await redis.zcard(keys.downloadSlots(MODEL, "v1"))).toBe(0);
  });
});
