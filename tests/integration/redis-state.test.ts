import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { RedisRolloutStore } from "../../controller/state/rollout-store.js";
import { createRedis, type RedisClient } from "../../core/redis/connection.js";
import { RedisDownloadSlots } from "../../core/redis/download-slots.js";
import { RedisFleetState } from "../../core/redis/fleet-state.js";
import { StateKeys } from "../../core/state-keys.js";
import { type RedisTestServer, startRedisServer } from "../support/redis-server.js";
import { stateContract } from "../support/state-contract.js";

let server: RedisTestServer;
let redis: RedisClient;
let fleet: RedisFleetState;
let testNumber = 0;

beforeAll(async () => {
  server = await startRedisServer();
});
afterAll(() => server.stop());
beforeEach(() => {
  redis = createRedis({ url: server.url, name: "test" });
  fleet = new RedisFleetState(redis, new StateKeys(`t${testNumber++}:`));
});
afterEach(() => {
  redis.disconnect();
});

stateContract("a real redis-server", () => {
  const keys = new StateKeys(`c${testNumber++}:`);
  const fleet = new RedisFleetState(redis, keys);
  return { fleet, store: new RedisRolloutStore(fleet), slots: new RedisDownloadSlots(redis, keys) };
});

describe("Redis specifics", () => {
  it("corrupt state is STATE_CORRUPT, not a silent default", async () => {
    await redis.set(fleet.keys.modelState("demo"), "{not json");
    await expect(fleet.getModelState("demo")).rejects.toMatchObject({ code: "STATE_CORRUPT" });
  });
});

describe("when Redis goes away", () => {
  it("reads fail fast with STATE_UNREACHABLE, and work again once Redis is back", async () => {
    await fleet.getModelState("demo");
    await server.kill();
    const started = Date.now();
    await expect(fleet.getModelState("demo")).rejects.toMatchObject({ code: "STATE_UNREACHABLE" });
    expect(Date.now() - started).toBeLessThan(10_000);
    await server.start();
    await expect.poll(() => fleet.getModelState("demo").then((s) => s.revision), { timeout: 10_000 }).toBe(0);
  });
});
