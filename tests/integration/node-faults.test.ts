import { chmod, cp, readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Controller } from "../../controller/controller.js";
import { RedisRolloutStore } from "../../controller/state/rollout-store.js";
import { encodeMessage, parseReport, type ReportMessage } from "../../core/messages.js";
import { createRedis } from "../../core/redis/connection.js";
import { RedisFleetState } from "../../core/redis/fleet-state.js";
import { RedisBus } from "../../core/redis/redis-bus.js";
import { StateKeys } from "../../core/state-keys.js";
import { type ControllerHarness, MODEL, startControllerHarness, TOKEN } from "../support/controller-harness.js";
import { infer, loadGenerator, startTestNode, type TestNode } from "../support/node-harness.js";
import { DEMO } from "../support/registry-contract.js";

let harness: ControllerHarness;
const nodes: TestNode[] = [];

beforeAll(async () => {
  harness = await startControllerHarness();
});
afterAll(async () => {
  await Promise.all(nodes.map((node) => node.close().catch(() => undefined)));
  await harness.stop();
});

async function activate(controller: Controller, version: string, extra: Record<string, unknown> = {}) {
  const response = await controller.app.request(`/v1/models/${MODEL}/activate`, {
    method: "POST",
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify({ version, timeoutMs: 20_000, ...extra }),
  });
  return (await response.json()) as Record<string, unknown>;
}

async function node(
  prefix: string,
  id: string,
  overrides: Parameters<typeof startTestNode>[3] = {},
): Promise<TestNode> {
  const started = await startTestNode(harness, prefix, id, overrides);
  nodes.push(started);
  return started;
}

describe("a node when Redis goes away", () => {
  it("keeps serving while cut off, then converges to a version activated meanwhile", async () => {
    const prefix = "partition:";
    const controller = await harness.controller(prefix);
    const cut = await node(prefix, "p1", { proxyRedis: true });
    await activate(controller, "v1");
    expect((await infer(cut.url)).version).toBe("v1");

    cut.redisProxy?.block();
    await expect.poll(async () => (await controller.fleet.listNodes()).length, { timeout: 5_000 }).toBe(0);
    // Its heartbeat expired: to the controller no node serves the model, so this must be asked for.
    expect(await activate(controller, "v2")).toMatchObject({ error: { code: "NOT_ENOUGH_NODES" } });
    expect(await activate(controller, "v2", { allowNoNodes: true })).toMatchObject({
      to: "v2",
      confirmed: 0,
      fullyConfirmed: true,
    });
    const whileCut = await infer(cut.url);
    expect([whileCut.status, whileCut.version]).toEqual([200, "v1"]);

    cut.redisProxy?.unblock();
    await expect.poll(async () => (await infer(cut.url)).version, { timeout: 10_000, interval: 100 }).toBe("v2");
    await expect
      .poll(async () => (await controller.fleet.listNodes()).map((n) => n.models[MODEL]?.active))
      .toEqual(["v2"]);
  });

  it("a prepare missed while reconnecting is answered from the state, and the rollout completes", async () => {
    const prefix = "missed-prepare:";
    const controller = await harness.controller(prefix);
    const flaky = await node(prefix, "m1", { proxyRedis: true, heartbeatTtlMs: 3_000, resyncMs: 60_000 });
    await activate(controller, "v1");
    flaky.redisProxy?.block();
    const pending = activate(controller, "v2");
    await new Promise((resolve) => setTimeout(resolve, 300));
    flaky.redisProxy?.unblock();
    expect(await pending).toMatchObject({ to: "v2", confirmed: 1 });
    expect((await infer(flaky.url)).version).toBe("v2");
  });

  it("keeps serving while the Redis process is dead", async () => {
    const prefix = "redis-dead:";
    const controller = await harness.controller(prefix);
    const alive = await node(prefix, "k1");
    await activate(controller, "v1");
    await harness.redis.kill();
    try {
      const load = loadGenerator([alive.url], 8);
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      const answers = await load.stop();
      expect(answers.length).toBeGreaterThan(50);
      expect(answers.filter((a) => a.status !== 200 || a.version !== "v1")).toEqual([]);
    } finally {
      await harness.redis.start();
    }
  });

  it("shuts down cleanly: drains, leaves the fleet, releases its sessions", async () => {
    const prefix = "shutdown:";
    const controller = await harness.controller(prefix);
    const leaving = await node(prefix, "s1");
    await activate(controller, "v1");
    await activate(controller, "v2");
    const slot = leaving.node.agent.slots.get(MODEL);
    const loaded = slot?.all() ?? [];
    expect(loaded.map((l) => l.version).sort()).toEqual(["v1", "v2"]);
    await leaving.close();
    expect(await controller.fleet.listNodes()).toEqual([]);
    expect(loaded.every((l) => l.released)).toBe(true);
  });
});

describe("a staged version whose rollout never promotes", () => {
  it("is dropped and released on the next resync", async () => {
    const prefix = "ghost:";
    const controller = await harness.controller(prefix);
    const staging = await node(prefix, "g1");
    await activate(controller, "v1");
    const redis = createRedis({ url: harness.redis.url, name: "scripted-controller" });
    const listener = createRedis({ url: harness.redis.url, name: "report-listener" });
    try {
      const keys = new StateKeys(prefix);
      // The node's answer proves it staged v2 (a resync may drop it again at any moment after).
      const stagedReport = new Promise<ReportMessage>((resolve) => {
        listener.on("message", (_channel: string, payload: string) => {
          const report = parseReport(payload);
          if (report.rolloutId === "ghost") resolve(report);
        });
      });
      await listener.subscribe(keys.reportChannel(MODEL));
      // A controller that died right after `prepare`: the rollout is not in the state.
      await redis.publish(
        keys.commandChannel(MODEL),
        encodeMessage({ type: "prepare", model: MODEL, version: "v2", rolloutId: "ghost" }),
      );
      expect(await stagedReport).toMatchObject({ type: "staged", version: "v2" });
      const slot = staging.node.agent.slots.get(MODEL);
      await expect.poll(() => slot?.staged ?? null, { timeout: 5_000 }).toBeNull();
      expect(slot?.all().map((loaded) => loaded.version)).toEqual(["v1"]);
      // Its session was released: only v1's is resident.
      await expect
        .poll(
          async () =>
            (await (await fetch(`${staging.url}/metrics`)).text()).match(/^cutover_resident_sessions (\d+)/m)?.[1],
        )
        .toBe("1");
      expect((await infer(staging.url)).version).toBe("v1");
    } finally {
      redis.disconnect();
      listener.disconnect();
    }
  });
});

describe("a promote that arrives after a resync already applied it", () => {
  it("is still confirmed to its rollout (no rollout waits on a node that is already there)", async () => {
    const prefix = "late-promote:";
    const controller = await harness.controller(prefix);
    const late = await node(prefix, "l1");
    await activate(controller, "v1");
    await expect.poll(async () => (await infer(late.url)).version).toBe("v1");
    // A controller that promoted in the state, then was slow to publish: the node's resync gets there first.
    const redis = createRedis({ url: harness.redis.url, name: "scripted-controller" });
    const subscriber = createRedis({ url: harness.redis.url, name: "scripted-controller-sub" });
    const fleet = new RedisFleetState(redis, new StateKeys(prefix));
    const bus = new RedisBus(redis, subscriber);
    const reports: ReportMessage[] = [];
    try {
      await bus.subscribe(fleet.keys.reportChannel(MODEL), (payload) => reports.push(parseReport(payload)));
      const transitions = new RedisRolloutStore(fleet);
      const lease = await transitions.begin(MODEL, { target: "v2", by: "slow", lockTtlMs: 10_000 });
      const promoted = await transitions.promote(lease);
      await expect.poll(async () => (await infer(late.url)).version, { timeout: 5_000 }).toBe("v2");
      await expect.poll(() => reports.filter((r) => r.type === "promoted").length).toBe(1);
      await bus.publish(
        fleet.keys.commandChannel(MODEL),
        encodeMessage({
          type: "promote",
          model: MODEL,
          version: "v2",
          revision: promoted.revision,
          rolloutId: lease.rollout.id,
        }),
      );
      await expect.poll(() => reports.filter((r) => r.type === "promoted").length).toBe(2);
      expect(
        reports.every((r) => r.type === "promoted" && r.rolloutId === lease.rollout.id && r.version === "v2"),
      ).toBe(true);
    } finally {
      redis.disconnect();
      subscriber.disconnect();
    }
  });
});

describe("a node restarted while Redis and S3 are both down", () => {
  it("serves its last applied version from the local cache, re-verified, and is ready; with nothing applied it is not", async () => {
    const prefix = "restart:";
    const controller = await harness.controller(prefix);
    const first = await node(prefix, "r1");
    await activate(controller, "v2");
    expect((await infer(first.url)).version).toBe("v2");
    await first.close();

    await Promise.all([harness.redis.kill(), harness.s3.kill()]);
    try {
      const second = await node(prefix, "r1", { cacheDir: first.config.cacheDir });
      const answer = await infer(second.url);
      expect([answer.status, answer.version]).toEqual([200, "v2"]);
      expect((await fetch(`${second.url}/v2/health/ready`)).status).toBe(200);
      // No applied.json and no state to read: it serves nothing.
      const empty = await node(prefix, "r2");
      expect((await fetch(`${empty.url}/v2/health/ready`)).status).toBe(503);
    } finally {
      await Promise.all([harness.redis.start(), harness.s3.start()]);
    }
  });
});

describe("a node whose Redis lost its data (FLUSHALL)", () => {
  it("follows the state from its new revision: an activation at revision 1 is applied and confirmed, not ignored until revision 6", async () => {
    const prefix = "flushed:";
    const controller = await harness.controller(prefix);
    const follower = await node(prefix, "f1");
    for (const version of ["v1", "v2", "v1", "v2", "v1"]) await activate(controller, version);
    await expect.poll(async () => (await controller.fleet.listNodes())[0]?.models[MODEL]?.revision).toBe(5);

    await harness.redis.flushAll();
    expect(await controller.fleet.getModelState(MODEL)).toMatchObject({ active: null, revision: 0 });
    // The node keeps serving what it applied; its next heartbeat puts it back in the fleet.
    expect((await infer(follower.url)).version).toBe("v1");
    await expect.poll(async () => (await controller.fleet.listNodes()).length).toBe(1);

    expect(await activate(controller, "v2")).toMatchObject({
      to: "v2",
      revision: 1,
      confirmed: 1,
      fullyConfirmed: true,
      unconfirmed: [],
    });
    expect((await infer(follower.url)).version).toBe("v2");
    await expect
      .poll(async () => (await controller.fleet.listNodes())[0]?.models[MODEL])
      .toMatchObject({ active: "v2", revision: 1 });
    // From there on it counts with the state: revision 2 is newer than what it applied.
    expect(await activate(controller, "v1")).toMatchObject({ revision: 2, confirmed: 1, fullyConfirmed: true });
    expect((await infer(follower.url)).version).toBe("v1");
  });
});

describe("a crafted applied.json", () => {
  it("naming a signed version folder outside the cache (../../…): the entry is ignored with a log line, the node serves the fleet's version", async () => {
    const prefix = "crafted:";
    const controller = await harness.controller(prefix);
    const first = await node(prefix, "c1");
    await activate(controller, "v2");
    expect((await infer(first.url)).version).toBe("v2");
    await first.close();

    // A complete, signed copy of v2 beside the cache, and an applied.json that points at it with a
    // revision newer than the fleet's (so, once loaded, state would never replace it).
    const cache = first.config.cacheDir;
    await cp(join(cache, "versions", MODEL, "v2"), join(dirname(cache), "outside"), { recursive: true });
    const traversal = "../../../outside";
    await writeFile(
      join(cache, "applied.json"),
      JSON.stringify({ models: { [MODEL]: { version: traversal, revision: 99 } } }),
    );

    const lines: string[] = [];
    const second = await node(prefix, "c1", { cacheDir: cache, log: (line) => lines.push(line) });
    const answer = await infer(second.url);
    expect([answer.status, answer.version]).toEqual([200, "v2"]);
    expect(
      second.node.agent.slots
        .get(MODEL)
        ?.all()
        .map((loaded) => loaded.version),
    ).not.toContain(traversal);
    expect(lines.join("\n")).toMatch(
      /applied\.json: ignored an entry: version name "\.\.\/\.\.\/\.\.\/outside" of demo breaks the rule/,
    );
  });
});

describe("a node restarted over a cache whose model changed on disk", () => {
  // model.onnx in a version folder is a hard link to its blob: writing over it changes the blob too.
  for (const [what, bytes] of [
    ["another signed model's bytes", () => readFile(join(DEMO, "v1", "model.onnx"))],
    ["garbled bytes", async () => Buffer.from("not a protobuf")],
  ] as const) {
    it(`(${what}) downloads the signed file again and serves the signed model, without operator action`, async () => {
      const prefix = `tampered-${what.split(" ")[0]}:`;
      const controller = await harness.controller(prefix);
      const first = await node(prefix, "t1");
      await activate(controller, "v2");
      const signed = await infer(first.url);
      expect([signed.status, signed.version]).toEqual([200, "v2"]);
      await first.close();

      const cached = join(first.config.cacheDir, "versions", MODEL, "v2", "model.onnx");
      await chmod(cached, 0o644);
      await writeFile(cached, await bytes());

      const lines: string[] = [];
      const second = await node(prefix, "t1", { cacheDir: first.config.cacheDir, log: (line) => lines.push(line) });
      await expect.poll(async () => (await infer(second.url)).status, { timeout: 10_000, interval: 100 }).toBe(200);
      const answer = await infer(second.url);
      expect([answer.version, answer.body]).toEqual([signed.version, signed.body]);
      expect(await readFile(cached)).toEqual(await readFile(join(DEMO, "v2", "model.onnx")));
      expect(lines.join("\n")).toMatch(
        /cannot serve the last applied demo\/v2: model\.onnx: sha256 \w+ does not match/,
      );
    });
  }
});
