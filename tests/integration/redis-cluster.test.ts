/**
 * cutover on a Redis Cluster (redis+cluster://), all real processes: three masters
 * (tests/support/redis-cluster.ts), the controller and two real inference nodes that serve two
 * models, whose keys (`{model}` hash tags) live on different masters. The state contract holds
 * there (every Lua script and the node MGET stay in one slot, or Redis would answer CROSSSLOT);
 * both models roll out at once and every node hears both over cluster pub/sub; the master a node's
 * subscription is on is killed and restarted, and the next rollouts still reach every node. A cluster
 * that cannot be reached, or never answers, fails a command within the state timeout.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Controller } from "../../controller/controller.js";
import { RedisRolloutStore } from "../../controller/state/rollout-store.js";
import { createRedis, type RedisClient } from "../../core/redis/connection.js";
import { RedisDownloadSlots } from "../../core/redis/download-slots.js";
import { RedisFleetState } from "../../core/redis/fleet-state.js";
import { StateKeys } from "../../core/state-keys.js";
import { type ControllerHarness, startControllerHarness, TOKEN } from "../support/controller-harness.js";
import { freePort } from "../support/free-port.js";
import { infer, startTestNode, type TestNode } from "../support/node-harness.js";
import { type ClusterTestSetup, startRedisCluster } from "../support/redis-cluster.js";
import { waitUntil } from "../support/redis-process.js";
import { startSilentServer } from "../support/silent-server.js";
import { stateContract } from "../support/state-contract.js";

const PREFIX = "fleet:";
const CANDIDATES = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"];

let cluster: ClusterTestSetup;
let harness: ControllerHarness;
let redis: RedisClient;
let testNumber = 0;
/** Two model names whose `{model}` slots are served by different masters. */
let models: [string, string];
const nodes: TestNode[] = [];

beforeAll(async () => {
  [cluster, harness] = await Promise.all([startRedisCluster(), startControllerHarness()]);
  const owners = await Promise.all(CANDIDATES.map((name) => cluster.masterOf(`{${name}}`)));
  const second = owners.findIndex((owner) => owner !== owners[0]);
  models = [CANDIDATES[0] ?? "", CANDIDATES[second] ?? ""];
  for (const model of models) {
    await harness.publish(model, "v1", "v1");
    await harness.publish(model, "v2", "v2");
  }
});
afterAll(async () => {
  await Promise.all(nodes.map((node) => node.close().catch(() => undefined)));
  await harness?.stop();
  await cluster?.stop();
});
beforeEach(() => {
  redis = createRedis({ url: cluster.url, name: "test" });
});
afterEach(() => {
  redis.disconnect();
});

stateContract("a Redis Cluster", () => {
  const keys = new StateKeys(`c${testNumber++}:`);
  const fleet = new RedisFleetState(redis, keys);
  return { fleet, store: new RedisRolloutStore(fleet), slots: new RedisDownloadSlots(redis, keys) };
});

async function activate(controller: Controller, model: string, version: string) {
  const response = await controller.app.request(`/v1/models/${model}/activate`, {
    method: "POST",
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify({ version, timeoutMs: 20_000 }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** Both models to `version` at once; both must succeed with both nodes confirming. */
async function flipBoth(controller: Controller, version: string): Promise<number> {
  const started = Date.now();
  const results = await Promise.all(models.map((model) => activate(controller, model, version)));
  for (const [i, result] of results.entries()) {
    expect(result.status, JSON.stringify(result.body)).toBe(200);
    expect(result.body).toMatchObject({ model: models[i], to: version, confirmed: 2, fullyConfirmed: true });
  }
  for (const node of nodes) {
    for (const model of models) expect((await infer(node.url, { model })).version).toBe(version);
  }
  return Date.now() - started;
}

describe("two models on different masters", () => {
  let controller: Controller;

  beforeAll(async () => {
    controller = await harness.controller(PREFIX, {}, { redisUrl: cluster.url });
    for (const id of ["n1", "n2"]) {
      nodes.push(await startTestNode(harness, PREFIX, id, { redisUrl: cluster.url, models: [...models] }));
    }
  });

  it("roll out concurrently; both nodes hear both models' commands", async () => {
    const [a, b] = models;
    const [masterA, masterB] = [await cluster.masterOf(`{${a}}`), await cluster.masterOf(`{${b}}`)];
    expect(masterA).not.toBe(masterB);

    const firstMs = await flipBoth(controller, "v1");
    const secondMs = await flipBoth(controller, "v2");
    console.log(`cluster: both models flipped at once in ${firstMs} ms (cold), ${secondMs} ms (second)`);

    // The keys are where the slots say: each model's state, lock and history on its own master.
    const keys = new StateKeys(PREFIX);
    for (const model of models) {
      const slot = await cluster.keySlot(keys.modelState(model));
      expect(await cluster.keySlot(keys.history(model))).toBe(slot);
      expect(await cluster.keysInSlot(slot)).toBeGreaterThanOrEqual(2);
    }
    expect(await cluster.keySlot(keys.node("n1"))).toBe(await cluster.keySlot(keys.nodes()));
  }, 120_000);

  it("the master under a node's subscription killed and restarted: the next rollouts still reach every node", async () => {
    const port = await cluster.nodeWithClient("ioredis-cluster(subscriber):cutover-node-n1-sub");
    expect(port, "n1's subscriber connection is on some master").toBeDefined();
    if (port === undefined) return;
    let probeKey = "";
    for (let i = 0; probeKey === ""; i++)
      if ((await cluster.masterOf(`{probe-${i}}`)) === port) probeKey = `{probe-${i}}`;
    const killedAt = Date.now();
    await cluster.kill(port);
    // Longer than cluster-node-timeout (2 s): the other masters mark it failed and, with no replica
    // to promote, the whole cluster refuses commands (CLUSTERDOWN) until it is back.
    const restart = new Promise((resolve) => setTimeout(resolve, 3_000)).then(() => cluster.start(port));
    let answeredAt = 0;
    while (answeredAt === 0) {
      const ok = await redis.get(probeKey).then(
        () => true,
        () => false,
      );
      if (ok) answeredAt = Date.now();
      else await new Promise((resolve) => setTimeout(resolve, 25));
      if (Date.now() - killedAt > 60_000) throw new Error("the cluster did not answer within 60 s of the kill");
    }
    await restart;
    await cluster.waitUntilOk();
    console.log(
      `cluster: master ${port} SIGKILLed for 3 s → first successful read ${answeredAt - killedAt} ms after the kill`,
    );
    const moved = await cluster.nodeWithClient("ioredis-cluster(subscriber):cutover-node-n1-sub");
    console.log(`cluster: n1's subscription was on ${port}, now on ${moved}`);

    // The nodes' heartbeats (1 s TTL) lapsed while the cluster was down; a rollout needs them live.
    const fleet = new RedisFleetState(redis, new StateKeys(PREFIX));
    await waitUntil("both nodes heartbeat again", async () => (await fleet.listNodes()).length === 2, 30_000);
    const flipMs = await flipBoth(controller, "v1");
    console.log(`cluster: both models flipped at once after the restart in ${flipMs} ms`);
    expect(moved).toBeDefined();
  }, 120_000);
});

/** A port with nothing on it, shaped like the silent server. */
async function nothingListens(): Promise<{ port: number; stop(): Promise<void> }> {
  return { port: await freePort(), stop: async () => undefined };
}

describe("a cluster that cannot be reached, or never answers", () => {
  it.each([
    ["nothing listens", nothingListens],
    ["accepts and stays silent", startSilentServer],
  ])("%s: a command fails within the state timeout, it is not queued for ever", async (_, start) => {
    const server = await start();
    const client = createRedis({ url: `redis+cluster://127.0.0.1:${server.port}`, name: "bounded", timeoutMs: 500 });
    try {
      const startedAt = Date.now();
      await expect(client.get("{demo}:x")).rejects.toThrow();
      expect(Date.now() - startedAt).toBeLessThan(2_000);
    } finally {
      client.disconnect();
      await server.stop();
    }
  });
});
