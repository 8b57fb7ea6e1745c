import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Controller, ControllerTuning } from "../../controller/controller.js";
import type { RolloutResult } from "../../controller/rollout-result.js";
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

async function setup(tuning: ControllerTuning = {}): Promise<{ prefix: string; controller: Controller }> {
  const prefix = `r${prefixNumber++}:`;
  return { prefix, controller: await harness.controller(prefix, tuning) };
}

describe("activate and rollback", () => {
  it("round trip across two nodes: each step promoted, confirmed, and in history with by/from/to/outcome", async () => {
    const { prefix, controller } = await setup();
    const nodes = [await harness.node(prefix, "n1", {}), await harness.node(prefix, "n2", { stageDelayMs: 50 })];

    const first = await post(controller, `/v1/models/${MODEL}/activate`, { version: "v1" });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({
      from: null,
      to: "v1",
      revision: 1,
      changed: true,
      confirmed: 2,
      fullyConfirmed: true,
      unconfirmed: [],
    });
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
    const result = await post(controller, `/v1/models/${MODEL}/activate`, {
      version: "v1",
      expectRevision: 7,
      allowNoNodes: true,
    });
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

  it("a node still staging when another node's failure aborts the rollout is `pending`, not a timeout", async () => {
    const { prefix, controller } = await setup();
    await harness.node(prefix, "slow", { onPrepare: "ignore" });
    await harness.node(prefix, "bad", { onPrepare: "fail" });
    const result = await post(controller, `/v1/models/${MODEL}/activate`, { version: "v1", timeoutMs: 20_000 });
    expect(result.status).toBe(504);
    expect(result.body.error?.nodes).toContainEqual({
      nodeId: "slow",
      outcome: "pending",
      reason: "still staging when the rollout was aborted",
    });
    const [entry] = await controller.fleet.history(MODEL);
    expect(entry?.nodes.find((node) => node.nodeId === "slow")?.outcome).toBe("pending");
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

  it("a live node whose heartbeat expires while staging leaves fewer staged than required: aborted", async () => {
    const { prefix, controller } = await setup();
    const dying = await harness.node(prefix, "dying", { onPrepare: "ignore", heartbeatTtlMs: 2_000 });
    dying.stopHeartbeats();
    const result = await post(controller, `/v1/models/${MODEL}/activate`, { version: "v1", timeoutMs: 10_000 });
    expect([result.status, result.body.error?.code]).toEqual([409, "NOT_ENOUGH_NODES"]);
    expect(result.body.error?.message).toMatch(
      /^rollout of demo\/v1 aborted, nothing changed: only 0 node\(s\) staged v1 \(the others' heartbeats expired\), fewer than the 1 required$/,
    );
    expect(await controller.fleet.getModelState(MODEL)).toMatchObject({ active: null, revision: 0, rollout: null });
    expect((await controller.fleet.history(MODEL))[0]).toMatchObject({ outcome: "aborted", to: "v1", revision: 0 });
  });
});

describe("how many live nodes a rollout needs", () => {
  it("no live node → 409 NOT_ENOUGH_NODES before anything changes: no lock, no pointer, no history", async () => {
    const { controller } = await setup();
    const refused = await post(controller, `/v1/models/${MODEL}/activate`, { version: "v2" });
    expect(refused.status).toBe(409);
    expect(refused.body.error).toEqual({
      code: "NOT_ENOUGH_NODES",
      message:
        "no live node serves demo; nothing changed (start a node, or allowNoNodes / --allow-no-nodes to set the pointer before a fleet starts)",
    });
    expect(await controller.fleet.getModelState(MODEL)).toMatchObject({ active: null, revision: 0, rollout: null });
    expect(await controller.fleet.history(MODEL)).toEqual([]);

    // No lock was left behind: the same activation with allowNoNodes goes through at once.
    const allowed = await post(controller, `/v1/models/${MODEL}/activate`, { version: "v2", allowNoNodes: true });
    expect(allowed.status).toBe(200);
    expect(allowed.body).toMatchObject({
      to: "v2",
      revision: 1,
      confirmed: 0,
      nodes: [],
      fullyConfirmed: true,
      unconfirmed: [],
      message: "demo → v2 at revision 1; no live node serves demo (allowed): nodes load it when they start",
    });
    expect((await controller.fleet.getModelState(MODEL)).active).toBe("v2");

    // Rollback asks the same: refused with nobody serving, unless allowed.
    const back = await post(controller, `/v1/models/${MODEL}/rollback`, { to: "v1" });
    expect([back.status, back.body.error?.code]).toEqual([409, "NOT_ENOUGH_NODES"]);
    expect((await controller.fleet.getModelState(MODEL)).active).toBe("v2");
    const allowedBack = await post(controller, `/v1/models/${MODEL}/rollback`, { to: "v1", allowNoNodes: true });
    expect(allowedBack.body).toMatchObject({ from: "v2", to: "v1", revision: 2, fullyConfirmed: true });
  });

  it("minNodes: fewer live nodes → 409 naming them, and no node hears a prepare; enough → promoted", async () => {
    const { prefix, controller } = await setup();
    const first = await harness.node(prefix, "n1", {});
    const refused = await post(controller, `/v1/models/${MODEL}/activate`, { version: "v1", minNodes: 2 });
    expect(refused.status).toBe(409);
    expect(refused.body.error).toEqual({
      code: "NOT_ENOUGH_NODES",
      message: "1 live node(s) serve demo (n1), fewer than the 2 required (minNodes / --min-nodes); nothing changed",
    });
    expect(first.received).toEqual([]);
    expect(await controller.fleet.getModelState(MODEL)).toMatchObject({ active: null, revision: 0 });

    await harness.node(prefix, "n2", {});
    const enough = await post(controller, `/v1/models/${MODEL}/activate`, { version: "v1", minNodes: 2 });
    expect(enough.body).toMatchObject({ to: "v1", revision: 1, confirmed: 2, fullyConfirmed: true });
  });

  it("the options are checked: minNodes is an integer ≥ 1, allowNoNodes a boolean, and they exclude each other", async () => {
    const { controller } = await setup();
    const cases: [string, unknown, RegExp][] = [
      [`/v1/models/${MODEL}/activate`, { version: "v1", minNodes: 0 }, /^invalid request body: minNodes: /],
      [`/v1/models/${MODEL}/activate`, { version: "v1", minNodes: 1.5 }, /^invalid request body: minNodes: /],
      [`/v1/models/${MODEL}/activate`, { version: "v1", allowNoNodes: "yes" }, /^invalid request body: allowNoNodes: /],
      [`/v1/models/${MODEL}/rollback`, { to: "v1", minNodes: -1 }, /^invalid request body: minNodes: /],
      [
        `/v1/models/${MODEL}/activate`,
        { version: "v1", allowNoNodes: true, minNodes: 2 },
        /^allowNoNodes \(--allow-no-nodes\) and minNodes \(--min-nodes\) exclude each other$/,
      ],
    ];
    for (const [path, body, message] of cases) {
      const result = await post(controller, path, body);
      expect([result.status, result.body.error?.code], JSON.stringify(body)).toEqual([400, "INVALID_INPUT"]);
      expect(result.body.error?.message).toMatch(message);
    }
    expect((await controller.fleet.getModelState(MODEL)).revision).toBe(0);
  });
});

describe("when a node that staged does not confirm the promotion", () => {
  it("the pointer moves, the answer says fullyConfirmed: false and names the node; history says so; rollback too", async () => {
    const { prefix, controller } = await setup({ confirmTimeoutMs: 1_000 });
    await harness.node(prefix, "n1", {});
    const mute = await harness.node(prefix, "n2", { confirm: false });

    const result = await post(controller, `/v1/models/${MODEL}/activate`, { version: "v1" });
    expect(result.status).toBe(200);
    expect(result.body).toMatchObject({
      to: "v1",
      revision: 1,
      changed: true,
      confirmed: 1,
      fullyConfirmed: false,
      unconfirmed: ["n2"],
      message: "demo → v1 at revision 1; 1/2 node(s) confirmed, not confirmed: n2 (no confirmation within 1000 ms)",
    });
    expect((result.body as unknown as RolloutResult).nodes.map(({ nodeId, outcome }) => [nodeId, outcome])).toEqual([
      ["n1", "promoted"],
      ["n2", "unconfirmed"],
    ]);
    expect(mute.received.map((m) => m.type)).toEqual(["prepare", "promote"]);
    expect(await controller.fleet.getModelState(MODEL)).toMatchObject({ active: "v1", revision: 1, rollout: null });
    const [entry] = await controller.fleet.history(MODEL);
    expect(entry).toMatchObject({
      action: "activate",
      outcome: "promoted",
      revision: 1,
      reason: "1/2 node(s) confirmed; not confirmed: n2 (no confirmation within 1000 ms)",
    });
    expect(entry?.nodes.find((node) => node.nodeId === "n2")).toMatchObject({
      outcome: "unconfirmed",
      reason: "no confirmation within 1000 ms",
    });

    await post(controller, `/v1/models/${MODEL}/activate`, { version: "v2" });
    const back = await post(controller, `/v1/models/${MODEL}/rollback`, {});
    expect(back.status).toBe(200);
    expect(back.body).toMatchObject({ to: "v1", revision: 3, fullyConfirmed: false, unconfirmed: ["n2"] });
    expect((await controller.fleet.history(MODEL))[0]).toMatchObject({ action: "rollback", outcome: "promoted" });
  });

  it("a node whose heartbeat expires after staging is named with that reason, without waiting out the timeout", async () => {
    const { prefix, controller } = await setup({ confirmTimeoutMs: 20_000 });
    await harness.node(prefix, "n1", {});
    const cut = await harness.node(prefix, "cut", { confirm: false, heartbeatTtlMs: 500, stageDelayMs: 100 });
    const pending = post(controller, `/v1/models/${MODEL}/activate`, { version: "v1" });
    await expect.poll(() => cut.received.map((m) => m.type)).toEqual(["prepare", "promote"]);
    cut.stopHeartbeats();
    const started = Date.now();
    const result = await pending;
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(result.body).toMatchObject({
      fullyConfirmed: false,
      unconfirmed: ["cut"],
      message:
        "demo → v1 at revision 1; 1/2 node(s) confirmed, not confirmed: cut (its heartbeat expired before it confirmed)",
    });
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
    expect(incompatible.body.error?.message).toMatch(
      /input "features" FP32\[batch,4\] becomes "features" FP32\[batch,8\]/,
    );
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

  it("a remembered signature is confirmed against the store on each activation: deleted → NOT_FOUND, back → activates", async () => {
    const { controller } = await setup();
    const store = createObjectStore(harness.config("").store);
    const signatureKey = new ArtifactLayout().signatureKey(MODEL, "v4");
    const signature = await readObject(store, signatureKey);
    // No node: the pointer alone is what these activations are about.
    const activate = (on: Controller, version: string) =>
      post(on, `/v1/models/${MODEL}/activate`, { version, allowNoNodes: true });
    try {
      expect((await activate(controller, "v4")).status).toBe(200);
      await store.delete(signatureKey);
      expect((await activate(controller, "v1")).status).toBe(200);
      // This controller verified v4 before; one look at the store shows its signature is gone.
      const missing = await activate(controller, "v4");
      expect([missing.status, missing.body.error?.code]).toEqual([404, "NOT_FOUND"]);
      await store.put(signatureKey, signature);
      expect((await activate(controller, "v4")).status).toBe(200);
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
      { version: "v1", allowNoNodes: true },
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
