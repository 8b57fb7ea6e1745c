import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Controller } from "../../controller/controller.js";
import type { RolloutResult } from "../../controller/rollout-coordinator.js";
import { ArtifactLayout } from "../../core/artifact-layout.js";
import type { HistoryEntry } from "../../core/model-state.js";
import { createObjectStore, readObject } from "../../core/store/index.js";
import { type ControllerHarness, MODEL, startControllerHarness, TOKEN } from "../support/controller-harness.js";

let harness: ControllerHarness;
let prefixNumber = 0;

beforeAll(async () => {
  harness = await startControllerHarness();
});
afterAll(() => harness.stop());

const auth = { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" };

async function post(controller: Controller, path: string, body: unknown, headers: Record<string, string> = auth) {
  const response = await controller.app.request(path, { method: "POST", headers, body: JSON.stringify(body) });
  return {
    status: response.status,
    body: (await response.json()) as Record<string, unknown> & {
      error?: { code: string; message: string; nodes?: unknown[] };
    },
  };
}

async function setup(): Promise<{ prefix: string; controller: Controller }> {
  const prefix = `r${prefixNumber++}:`;
  return { prefix, controller: await harness.controller(prefix) };
}

describe("activate and rollback", () => {
  it("round trip across two nodes: each step promoted, confirmed, and in history with by/from/to/outcome", async () => {
    const { prefix, controller } = await setup();
    const nodes = [await harness.node(prefix, "n1", {}), await harness.node(prefix, "n2", { stageDelayMs: 50 })];

    const first = await post(controller, `/v1/models/${MODEL}/activate`, { version: "v1" });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ from: null, to: "v1", revision: 1, changed: true, confirmed: 2 });
    const second = await post(controller, `/v1/models/${MODEL}/activate`, { version: "v2", expectRevision: 1 });
    expect(second.body).toMatchObject({ from: "v1", to: "v2", revision: 2, confirmed: 2 });
    expect((second.body as unknown as RolloutResult).switchSpreadMs).toBeGreaterThanOrEqual(0);
    const back = await post(controller, `/v1/models/${MODEL}/rollback`, {});
    expect(back.body).toMatchObject({ from: "v2", to: "v1", revision: 3 });
    expect(nodes.map((node) => node.active)).toEqual(["v1", "v1"]);

    const history = (await (await controller.app.request(`/v1/models/${MODEL}/history`)).json()) as {
      history: HistoryEntry[];
    };
    expect(
      history.history.map(({ action, by, from, to, outcome, revision }) => ({
        action,
        by,
        from,
        to,
        outcome,
        revision,
      })),
    ).toEqual([
      { action: "rollback", by: "alice", from: "v2", to: "v1", outcome: "promoted", revision: 3 },
      { action: "activate", by: "alice", from: "v1", to: "v2", outcome: "promoted", revision: 2 },
      { action: "activate", by: "alice", from: null, to: "v1", outcome: "promoted", revision: 1 },
    ]);
    expect(history.history[0]?.nodes.map((node) => [node.nodeId, node.outcome, node.loadMs])).toEqual([
      ["n1", "promoted", 12],
      ["n2", "promoted", 12],
    ]);

    const again = await post(controller, `/v1/models/${MODEL}/activate`, { version: "v1" });
    expect(again.body).toMatchObject({ changed: false, revision: 3 });
  });

  it("two concurrent activations: exactly one wins, the other gets 409", async () => {
    const { prefix, controller } = await setup();
    await harness.node(prefix, "n1", { stageDelayMs: 300 });
    const results = await Promise.all([
      post(controller, `/v1/models/${MODEL}/activate`, { version: "v1" }),
      post(controller, `/v1/models/${MODEL}/activate`, { version: "v2" }),
    ]);
    expect(results.map((r) => r.status).sort()).toEqual([200, 409]);
    expect(results.find((r) => r.status === 409)?.body.error?.code).toBe("ROLLOUT_IN_PROGRESS");
  });

  it("a stale expectRevision → 409 REVISION_MISMATCH", async () => {
    const { controller } = await setup();
    const result = await post(controller, `/v1/models/${MODEL}/activate`, { version: "v1", expectRevision: 7 });
    expect(result.status).toBe(409);
    expect(result.body.error).toMatchObject({
      code: "REVISION_MISMATCH",
      message: "demo is at revision 0, not the expected 7",
    });
  });
});

describe("when nodes do not stage", () => {
  it("a node that fails → 504 ROLLOUT_ABORTED with its reason, state unchanged, nodes told to abort", async () => {
    const { prefix, controller } = await setup();
    const good = await harness.node(prefix, "good", {});
    await harness.node(prefix, "bad", { onPrepare: "fail" });
    const result = await post(controller, `/v1/models/${MODEL}/activate`, { version: "v1" });
    expect(result.status).toBe(504);
    expect(result.body.error?.code).toBe("ROLLOUT_ABORTED");
    expect(result.body.error?.message).toMatch(/bad DIGEST_MISMATCH: scripted failure/);
    expect(result.body.error?.nodes).toContainEqual({
      nodeId: "bad",
      outcome: "failed",
      code: "DIGEST_MISMATCH",
      reason: "scripted failure",
    });
    const state = await controller.fleet.getModelState(MODEL);
    expect(state).toMatchObject({ active: null, revision: 0, rollout: null });
    await expect.poll(() => good.received.map((m) => m.type)).toEqual(["prepare", "abort"]);
    const [entry] = await controller.fleet.history(MODEL);
    expect(entry).toMatchObject({ outcome: "aborted", to: "v1", revision: 0 });
  });

  it("a node that never answers → the deadline aborts the rollout", async () => {
    const { prefix, controller } = await setup();
    await harness.node(prefix, "n1", {});
    await harness.node(prefix, "silent", { onPrepare: "ignore" });
    const result = await post(controller, `/v1/models/${MODEL}/activate`, { version: "v1", timeoutMs: 600 });
    expect(result.status).toBe(504);
    expect(result.body.error?.message).toMatch(/not every node staged v1 within 600 ms: silent/);
    expect((await controller.fleet.getModelState(MODEL)).active).toBeNull();
  });

  it("a node whose heartbeat expires does not block the rollout", async () => {
    const { prefix, controller } = await setup();
    await harness.node(prefix, "n1", {});
    const dying = await harness.node(prefix, "dying", { onPrepare: "ignore", heartbeatTtlMs: 400 });
    dying.stopHeartbeats();
    const result = await post(controller, `/v1/models/${MODEL}/activate`, { version: "v1", timeoutMs: 10_000 });
    expect(result.status).toBe(200);
    expect((result.body as unknown as RolloutResult).nodes.map((node) => node.nodeId)).toEqual(["n1"]);
  });

  it("no live node: the pointer moves and the answer says no node confirmed it", async () => {
    const { controller } = await setup();
    const result = await post(controller, `/v1/models/${MODEL}/activate`, { version: "v2" });
    expect(result.status).toBe(200);
    expect(result.body).toMatchObject({ to: "v2", revision: 1, confirmed: 0, nodes: [] });
    expect(result.body.message).toMatch(/no live node serves demo, so no node confirmed it/);
  });
});

describe("checks before anything is published on the bus", () => {
  it("an incompatible schema → 422 unless allowed; unknown → 404; untrusted signature → 422", async () => {
    const { prefix, controller } = await setup();
    const node = await harness.node(prefix, "n1", {});
    await post(controller, `/v1/models/${MODEL}/activate`, { version: "v1" });

    const incompatible = await post(controller, `/v1/models/${MODEL}/activate`, { version: "v3" });
    expect(incompatible.status).toBe(422);
    expect(incompatible.body.error).toMatchObject({ code: "INCOMPATIBLE_SCHEMA" });
    expect(incompatible.body.error?.message).toMatch(/input features FP32\[batch,4\] becomes features FP32\[batch,8\]/);
    const unknown = await post(controller, `/v1/models/${MODEL}/activate`, { version: "v7" });
    expect([unknown.status, unknown.body.error?.code]).toEqual([404, "NOT_FOUND"]);
    const untrusted = await post(controller, `/v1/models/${MODEL}/activate`, { version: "v9" });
    expect([untrusted.status, untrusted.body.error?.code]).toEqual([422, "UNTRUSTED_KEY"]);
    expect(node.received.filter((m) => m.type === "prepare")).toHaveLength(1);

    const forced = await post(controller, `/v1/models/${MODEL}/activate`, { version: "v3", allowIncompatible: true });
    expect(forced.body).toMatchObject({ to: "v3", revision: 2 });
    const rollback = await post(controller, `/v1/models/${MODEL}/rollback`, {});
    expect(rollback.body).toMatchObject({ to: "v1", revision: 3 });
  });

  it("a version that verified is not read from the store again by that controller; a failure is not remembered", async () => {
    const { controller } = await setup();
    const store = createObjectStore(harness.config("").store);
    const signatureKey = new ArtifactLayout().signatureKey(MODEL, "v4");
    const signature = await readObject(store, signatureKey);
    try {
      expect((await post(controller, `/v1/models/${MODEL}/activate`, { version: "v4" })).status).toBe(200);
      await store.delete(signatureKey);
      // Versions are immutable: this controller checked v4 once and does not read it again.
      expect((await post(controller, `/v1/models/${MODEL}/activate`, { version: "v1" })).status).toBe(200);
      expect((await post(controller, `/v1/models/${MODEL}/activate`, { version: "v4" })).status).toBe(200);
      // Another controller reads the store: v4 is not published any more.
      const { controller: fresh } = await setup();
      const missing = await post(fresh, `/v1/models/${MODEL}/activate`, { version: "v4" });
      expect([missing.status, missing.body.error?.code]).toEqual([404, "NOT_FOUND"]);
      await store.put(signatureKey, signature);
      expect((await post(fresh, `/v1/models/${MODEL}/activate`, { version: "v4" })).status).toBe(200);
    } finally {
      await store.put(signatureKey, signature);
      store.close();
    }
  });
});

describe("the HTTP API", () => {
  it("changes need a valid bearer token; the token's name is recorded as by", async () => {
    const { controller } = await setup();
    const none = await post(
      controller,
      `/v1/models/${MODEL}/activate`,
      { version: "v1" },
      { "content-type": "application/json" },
    );
    expect([none.status, none.body.error?.code]).toEqual([401, "UNAUTHORIZED"]);
    const wrong = await post(
      controller,
      `/v1/models/${MODEL}/rollback`,
      {},
      { authorization: "Bearer nope-nope-nope-nope", "content-type": "application/json" },
    );
    expect([wrong.status, wrong.body.error?.message]).toEqual([401, "invalid bearer token"]);
    const bob = await post(
      controller,
      `/v1/models/${MODEL}/activate`,
      { version: "v1" },
      { authorization: "Bearer bob-token-0123456789abcdef" },
    );
    expect(bob.status).toBe(200);
    expect((await controller.fleet.history(MODEL))[0]?.by).toBe("bob");
  });

  it("bad input is a 400 that names the problem; unknown models and routes are 404", async () => {
    const { controller } = await setup();
    const cases: [string, unknown, RegExp][] = [
      [`/v1/models/${MODEL}/activate`, { version: 3 }, /version/],
      [`/v1/models/${MODEL}/activate`, { version: "v1", extra: true }, /extra/],
      [`/v1/models/${MODEL}/activate`, { version: "../v1" }, /invalid version name/],
      [`/v1/models/Bad.Model/activate`, { version: "v1" }, /invalid model name/],
      [`/v1/models/${MODEL}/rollback`, {}, /no previous version/],
    ];
    for (const [path, body, message] of cases) {
      const result = await post(controller, path, body);
      expect(result.status, path).toBe(400);
      expect(result.body.error?.message).toMatch(message);
    }
    const notJson = await controller.app.request(`/v1/models/${MODEL}/activate`, {
      method: "POST",
      headers: auth,
      body: "{",
    });
    expect(notJson.status).toBe(400);
    expect((await controller.app.request("/v1/models/nothing-here")).status).toBe(404);
    expect((await controller.app.request("/v2/whatever")).status).toBe(404);
  });

  it("lists models with node counts, one model in detail, nodes, health and metrics", async () => {
    const { prefix, controller } = await setup();
    await harness.node(prefix, "n1", {});
    await post(controller, `/v1/models/${MODEL}/activate`, { version: "v2" });
    const listed = async () =>
      ((await (await controller.app.request("/v1/models")).json()) as { models: { model: string; nodes: unknown }[] })
        .models;
    // The node's heartbeat (every 100 ms) carries its new active version.
    await expect
      .poll(listed)
      .toContainEqual(expect.objectContaining({ model: MODEL, nodes: { live: 1, onActive: 1 } }));
    const detail = (await (await controller.app.request(`/v1/models/${MODEL}`)).json()) as {
      versions: { version: string }[];
      nodes: unknown[];
    };
    expect(detail.versions.map((v) => v.version)).toEqual(expect.arrayContaining(["v1", "v2", "v3", "v4", "v9"]));
    expect(detail.nodes).toHaveLength(1);
    expect((await controller.app.request("/healthz")).status).toBe(200);
    const metrics = await (await controller.app.request("/metrics")).text();
    expect(metrics).toMatch(/cutover_rollouts_total\{model="demo",action="activate",outcome="promoted"\} 1/);
    expect(metrics).toMatch(/cutover_active_revision\{model="demo"\} 1/);
    expect(metrics).toMatch(/cutover_switch_spread_seconds_count\{model="demo"\} 1/);
  });
});
