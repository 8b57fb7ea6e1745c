/**
 * The per-model node index on a real redis-server: what its keys hold as nodes change what they serve,
 * expire and leave; that a node of an earlier version (which keeps no index) is never left out; and
 * what one model's read costs against reading every record, counted by Redis itself.
 */
import type { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { NodeRecord } from "../../core/model-state.js";
import { createRedis, type RedisClient } from "../../core/redis/connection.js";
import { RedisFleetState } from "../../core/redis/fleet-state.js";
import { StateKeys } from "../../core/state-keys.js";
import { measureRedis } from "../support/redis-counters.js";
import { type RedisTestServer, startRedisServer } from "../support/redis-server.js";

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
  fleet = new RedisFleetState(redis, new StateKeys(`idx${testNumber++}:`));
});
afterEach(() => {
  redis.disconnect();
});

function record(nodeId: string, serves: string[], models: readonly string[] = serves): NodeRecord {
  const now = new Date().toISOString();
  const status = { active: "v1", revision: 1, warm: ["v0"], staged: null, lastError: null };
  return {
    nodeId,
    url: `http://${nodeId}:8080`,
    executionProvider: "cpu",
    startedAt: now,
    updatedAt: now,
    serves,
    models: Object.fromEntries(models.map((model) => [model, status])),
  };
}

const members = async (key: string) => (await redis.zrange(key, "0", "-1")).sort();

describe("the per-model node index", () => {
  it("holds each live node under what it serves now; a record stays one key", async () => {
    const { keys } = fleet;
    const n1 = record("n1", ["demo", "other"]);
    await fleet.heartbeat(n1, 10_000);
    await fleet.heartbeat(record("n2", []), 10_000);
    expect(await members(keys.modelNodes("demo"))).toEqual(["n1"]);
    expect(await members(keys.modelNodes("other"))).toEqual(["n1"]);
    expect(await members(keys.allModelNodes())).toEqual(["n2"]);
    expect(await members(keys.indexedNodes())).toEqual(["n1", "n2"]);
    expect(JSON.parse((await redis.get(keys.node("n1"))) ?? "null")).toEqual(n1);
    expect((await redis.keys(`${keys.prefix}*`)).sort()).toEqual(
      [
        keys.node("n1"),
        keys.node("n2"),
        keys.nodes(),
        keys.indexedNodes(),
        keys.modelNodes("demo"),
        keys.modelNodes("other"),
        keys.allModelNodes(),
      ].sort(),
    );

    // What it no longer serves, it leaves at its next heartbeat; serving every model moves it to that index.
    await fleet.heartbeat(record("n1", ["other"]), 10_000);
    await fleet.heartbeat(record("n2", ["demo"]), 10_000);
    expect(await members(keys.modelNodes("demo"))).toEqual(["n2"]);
    expect(await members(keys.modelNodes("other"))).toEqual(["n1"]);
    expect(await members(keys.allModelNodes())).toEqual([]);
    await fleet.heartbeat(record("n1", []), 10_000);
    expect(await members(keys.modelNodes("other"))).toEqual([]);
    expect(await members(keys.allModelNodes())).toEqual(["n1"]);

    await fleet.deregister("n1");
    await fleet.deregister("n2");
    await fleet.deregister("n3");
    expect(await redis.keys(`${keys.prefix}*`)).toEqual([]);
  });

  it("drops entries whose heartbeat expired at the next heartbeat into the same index", async () => {
    const { keys } = fleet;
    await fleet.heartbeat(record("gone", ["demo"]), 100);
    await fleet.heartbeat(record("gone-all", []), 100);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await members(keys.modelNodes("demo"))).toEqual(["gone"]);
    expect(await fleet.listModelNodes("demo")).toEqual([]);
    await fleet.heartbeat(record("n1", ["demo"]), 10_000);
    await fleet.heartbeat(record("n2", []), 10_000);
    expect(await members(keys.modelNodes("demo"))).toEqual(["n1"]);
    expect(await members(keys.allModelNodes())).toEqual(["n2"]);
    expect(await members(keys.indexedNodes())).toEqual(["n1", "n2"]);
  });

  it("a live node of an earlier version (record and node index only) still counts: readers read every record", async () => {
    const { keys } = fleet;
    await fleet.heartbeat(record("n1", ["demo"]), 10_000);
    await fleet.heartbeat(record("n2", ["other"]), 10_000);
    await redis.set(keys.node("old"), JSON.stringify(record("old", ["demo"])), "PX", 10_000);
    await redis.zadd(keys.nodes(), Date.now() + 10_000, "old");
    expect((await fleet.listModelNodes("demo")).map((n) => n.nodeId)).toEqual(["n1", "old"]);
    expect((await fleet.listModelNodes("other")).map((n) => n.nodeId)).toEqual(["n2"]);
    await fleet.deregister("old");
    expect((await fleet.listModelNodes("demo")).map((n) => n.nodeId)).toEqual(["n1"]);
  });

  it("corrupt index replies and records are STATE errors, never a silent empty list", async () => {
    await redis.set(fleet.keys.modelNodes("demo"), "not a sorted set");
    await expect(fleet.listModelNodes("demo")).rejects.toMatchObject({ code: "STATE_UNREACHABLE" });
    await redis.del(fleet.keys.modelNodes("demo"));
    await fleet.heartbeat(record("n1", ["demo"]), 10_000);
    await redis.set(fleet.keys.node("n1"), "{not json", "PX", 10_000);
    await expect(fleet.listModelNodes("demo")).rejects.toMatchObject({ code: "STATE_CORRUPT" });
  });
});

describe("what one model's read costs, counted by Redis", () => {
  it("reads that model's records only: 10 of 200 nodes", async () => {
    const models = Array.from({ length: 20 }, (_, i) => `model-${i}`);
    // 200 nodes, 10 per model; each record carries the status of the model it serves.
    for (let i = 0; i < 200; i++) {
      await fleet.heartbeat(record(`node-${String(i).padStart(3, "0")}`, [models[i % 20] ?? "model-0"]), 60_000);
    }
    let everyRecord: NodeRecord[] = [];
    let indexed: NodeRecord[] = [];
    const all = await measureRedis(redis as Redis, async () => {
      everyRecord = await fleet.listNodes();
    });
    const one = await measureRedis(redis as Redis, async () => {
      indexed = await fleet.listModelNodes("model-3");
    });
    expect(indexed).toEqual(everyRecord.filter((node) => node.serves.includes("model-3")));
    expect(indexed).toHaveLength(10);
    // Every record: ZRANGEBYSCORE + MGET of 200. One model: MULTI (2 × ZCOUNT, 2 × ZRANGEBYSCORE) + MGET of 10.
    expect(Object.fromEntries(all.commands)).toEqual({ zrangebyscore: 1, mget: 1 });
    expect(Object.fromEntries(one.commands)).toEqual({
      multi: 1,
      zcount: 2,
      zrangebyscore: 2,
      exec: 1,
      mget: 1,
    });
    expect(one.outputBytes).toBeLessThan(all.outputBytes / 10);
  });
});
