/**
 * Progressive rollouts end to end on real nodes, a real controller, Redis and S3 (docs/OPERATIONS.md,
 * Progressive delivery): canary steps with bake and analysis, the split each node applies (within 2
 * points of the weight over 2,000 requests, sticky keys), automatic rollback on failures and on
 * latency, manual holds, abort, and a rollout whose controller died. The controller's reconcile tick
 * is called by the test (no timer), so each step happens when the test says.
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Controller } from "../../controller/controller.js";
import { verifyWebhook } from "../../controller/hooks/index.js";
import type { ProgressView } from "../../controller/progressive/progressive-runner.js";
import { pushVersion } from "../../controller/publisher.js";
import { ArtifactLayout } from "../../core/artifact-layout.js";
import type { NodeConfig } from "../../core/config.js";
import type { HistoryEntry } from "../../core/model-state.js";
import { SPLIT_KEY_HEADER } from "../../core/progressive.js";
import { ModelRegistry } from "../../core/registry.js";
import { createObjectStore } from "../../core/store/index.js";
import {
  type ControllerHarness,
  HOOK_SECRET,
  MODEL,
  startControllerHarness,
  TOKEN,
} from "../support/controller-harness.js";
import { startTestNode, type TestNode } from "../support/node-harness.js";
import { testKeyPair } from "../support/signing.js";
import { tempDir } from "../support/temp-dir.js";
import { startWebhookReceiver } from "../support/webhook-receiver.js";

const MODELS = join(import.meta.dirname, "../../models");
const DEMO_BODY = JSON.stringify({
  inputs: [{ name: "features", shape: [1, 4], datatype: "FP32", data: [0.5, -1.2, 3.3, 0.1] }],
});
const PACER_BODY = JSON.stringify({
  inputs: [
    { name: "x", shape: [1, 1024], datatype: "FP32", data: Array.from({ length: 1024 }, (_, i) => Math.sin(i)) },
  ],
});

let harness: ControllerHarness;
let work: Awaited<ReturnType<typeof tempDir>>;
let trusted: string[];
let prefixNumber = 0;
const nodes: TestNode[] = [];

beforeAll(async () => {
  harness = await startControllerHarness();
  work = await tempDir();
  const key = testKeyPair();
  const publicKey = join(work.path, "pacer.pub");
  await writeFile(publicKey, key.publicPem);
  trusted = [...harness.config("").trustedKeyPaths, publicKey];
  const registry = new ModelRegistry(createObjectStore(harness.config("").store), new ArtifactLayout(""));
  await pushVersion(registry, {
    path: join(MODELS, "demo-classifier/fails-negative"),
    model: MODEL,
    version: "fails",
    signingKey: key.signer,
  });
  for (const version of ["v1", "v2"]) {
    await pushVersion(registry, {
      path: join(MODELS, "pacer", version, "model.onnx"),
      goldenPath: join(MODELS, "pacer", version, "golden.json"),
      model: "pacer",
      version,
      signingKey: key.signer,
    });
  }
  registry.store.close();
});

afterEach(async () => {
  // Each test's nodes end with it: idle nodes of earlier tests would share this process's CPU.
  await Promise.all(nodes.splice(0).map((node) => node.close().catch(() => undefined)));
});

afterAll(async () => {
  await Promise.all(nodes.map((node) => node.close().catch(() => undefined)));
  await harness?.stop();
  await work?.cleanup();
});

interface Fleet {
  readonly prefix: string;
  readonly controller: Controller;
  readonly nodes: TestNode[];
  post<T>(path: string, body: unknown, token?: string): Promise<{ status: number; body: T }>;
}

async function fleet(model: string, count = 2, overrides: Partial<NodeConfig> = {}): Promise<Fleet> {
  const prefix = `progressive${prefixNumber++}:`;
  const controller = await harness.controller(prefix, {}, { trustedKeyPaths: trusted });
  const started: TestNode[] = [];
  for (let i = 1; i <= count; i++) {
    started.push(
      await startTestNode(harness, prefix, `p${prefixNumber}n${i}`, {
        models: [model],
        trustedKeyPaths: trusted,
        maxRequestBytes: 1024 * 1024,
        ...overrides,
      }),
    );
  }
  nodes.push(...started);
  return {
    prefix,
    controller,
    nodes: started,
    async post<T>(path: string, body: unknown, token = TOKEN) {
      const response = await controller.app.request(path, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      return { status: response.status, body: (await response.json()) as T };
    },
  };
}

interface Sent {
  readonly versions: Record<string, number>;
  readonly failed: number;
  readonly byKey: Map<string, string>;
}

/** `count` infer requests spread over the nodes, `concurrency` at a time; keys `key(i)` when given. */
async function send(
  target: Fleet,
  model: string,
  count: number,
  options: { body?: string; key?: (i: number) => string; concurrency?: number } = {},
): Promise<Sent> {
  const versions: Record<string, number> = {};
  const byKey = new Map<string, string>();
  let failed = 0;
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < count; i = next++) {
      const node = target.nodes[i % target.nodes.length];
      const key = options.key?.(i);
      const response = await fetch(`${node?.url}/v2/models/${model}/infer`, {
        method: "POST",
        headers: { "content-type": "application/json", ...(key !== undefined ? { [SPLIT_KEY_HEADER]: key } : {}) },
        body: options.body ?? DEMO_BODY,
      });
      const answer = (await response.json()) as { model_version?: string };
      if (response.status !== 200 || answer.model_version === undefined) failed++;
      else {
        versions[answer.model_version] = (versions[answer.model_version] ?? 0) + 1;
        if (key !== undefined) byKey.set(key, answer.model_version);
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency ?? 8 }, worker));
  return { versions, failed, byKey };
}

const share = (sent: Sent, version: string) =>
  ((sent.versions[version] ?? 0) / Object.values(sent.versions).reduce((sum, n) => sum + n, 0)) * 100;

/** Until every node's heartbeat record carries the current step's counts of at least `requests` answers. */
async function reported(target: Fleet, model: string, requests: number): Promise<void> {
  for (let waited = 0; ; waited += 100) {
    const state = await target.controller.fleet.getModelState(model);
    const seq = state.rollout?.progressive?.seq;
    const records = await target.controller.fleet.listNodes();
    const counted = records
      .map((record) => record.models[model]?.split)
      .filter((split) => split !== undefined && split.seq === seq && split.rolloutId === state.rollout?.id)
      .reduce((sum, split) => sum + Object.values(split?.traffic ?? {}).reduce((n, t) => n + t.requests, 0), 0);
    if (counted >= requests) return;
    if (waited > 20_000) throw new Error(`the nodes reported ${counted} of ${requests} requests for seq ${seq}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function history(target: Fleet, model: string): Promise<HistoryEntry[]> {
  return target.controller.fleet.history(model, 10);
}

async function activateAllAtOnce(target: Fleet, model: string, version: string): Promise<void> {
  const { status, body } = await target.post(`/v1/models/${model}/activate`, { version });
  expect([status, body]).toMatchObject([200, { to: version }]);
}

describe("progressive rollouts", () => {
  it("a good candidate goes 10 → 50 → 100 %, each split within 2 points over 2,000 requests, nothing failed", async () => {
    const target = await fleet(MODEL);
    await activateAllAtOnce(target, MODEL, "v1");
    const started = await target.post<ProgressView>(`/v1/models/${MODEL}/activate`, {
      version: "v2",
      canary: [10, 50],
      bakeMs: 200,
      minRequests: 50,
    });
    expect(started).toMatchObject({
      status: 200,
      body: { state: "progressing", weight: 10, step: 0, unconfirmed: [] },
    });

    const first = await send(target, MODEL, 2_000);
    expect(first.failed).toBe(0);
    expect(Math.abs(share(first, "v2") - 10)).toBeLessThanOrEqual(2);
    await reported(target, MODEL, 2_000);
    const second = await target.controller.progressive.tick(MODEL);
    expect(second).toMatchObject({ state: "progressing", weight: 50, step: 1 });

    const half = await send(target, MODEL, 2_000);
    expect(half.failed).toBe(0);
    expect(Math.abs(share(half, "v2") - 50)).toBeLessThanOrEqual(2);
    await reported(target, MODEL, 2_000);
    const done = await target.controller.progressive.tick(MODEL);
    expect(done).toMatchObject({ state: "promoted", promotion: { to: "v2", fullyConfirmed: true } });

    const after = await send(target, MODEL, 200);
    expect(after.versions).toEqual({ v2: 200 });
    const [entry] = await history(target, MODEL);
    expect(entry).toMatchObject({ to: "v2", from: "v1", outcome: "promoted", strategy: "canary", steps: [10, 50] });
    expect(entry?.analyses?.map((analysis) => [analysis.weight, analysis.verdict])).toEqual([
      [10, "pass"],
      [50, "pass"],
    ]);
    expect(entry?.analyses?.[0]?.candidate.requests).toBeGreaterThanOrEqual(150);
  });

  it("a request key keeps its version at a weight, and a key on the candidate stays there as the weight grows", async () => {
    const target = await fleet(MODEL);
    await activateAllAtOnce(target, MODEL, "v1");
    await target.post(`/v1/models/${MODEL}/activate`, { version: "v2", canary: [10, 50], manual: true });
    const key = (i: number) => `user-${i % 300}`;
    const once = await send(target, MODEL, 600, { key });
    const twice = await send(target, MODEL, 600, { key });
    expect(twice.byKey).toEqual(once.byKey);
    const onCandidate = [...once.byKey].filter(([, version]) => version === "v2").map(([name]) => name);
    expect(onCandidate.length).toBeGreaterThan(10);

    expect((await target.post<ProgressView>(`/v1/models/${MODEL}/promote`, {})).body).toMatchObject({ weight: 50 });
    const grown = await send(target, MODEL, 600, { key });
    for (const name of onCandidate) expect(grown.byKey.get(name)).toBe("v2");
    await target.post(`/v1/models/${MODEL}/abort`, {});
  });

  it("--manual holds each step until promote; abort at 50 % returns every request to the baseline", async () => {
    const target = await fleet(MODEL);
    await activateAllAtOnce(target, MODEL, "v1");
    const held = await target.post<ProgressView>(`/v1/models/${MODEL}/activate`, {
      version: "v2",
      canary: [20, 50],
      manual: true,
      minRequests: 10,
    });
    expect(held.body).toMatchObject({ state: "progressing", weight: 20, holding: expect.stringContaining("manual") });
    await send(target, MODEL, 200);
    await reported(target, MODEL, 200);
    // The bake (0) is over and the analysis passes, but a manual step holds.
    expect(await target.controller.progressive.tick(MODEL)).toMatchObject({ weight: 20, holding: expect.any(String) });
    expect((await target.post<ProgressView>(`/v1/models/${MODEL}/promote`, { expectStep: 0 })).body).toMatchObject({
      weight: 50,
    });
    // A second promote from someone who still sees step 1 is refused: it does not move the rollout on again.
    const stale = await target.post<{ error: { code: string; message: string } }>(`/v1/models/${MODEL}/promote`, {
      expectStep: 0,
    });
    expect([stale.status, stale.body.error.code]).toEqual([409, "REVISION_MISMATCH"]);
    expect(stale.body.error.message).toContain("at step 2 now, not 1");
    expect((await target.controller.fleet.getModelState(MODEL)).rollout?.progressive?.weight).toBe(50);
    const half = await send(target, MODEL, 400);
    expect(half.versions.v2).toBeGreaterThan(150);

    // An abort meant for another rollout (a page that is behind) is refused and changes nothing.
    const other = await target.post<{ error: { code: string } }>(`/v1/models/${MODEL}/abort`, {
      expectRolloutId: "an-earlier-rollout",
    });
    expect([other.status, other.body.error.code]).toEqual([409, "REVISION_MISMATCH"]);
    const rollout = (await target.controller.fleet.getModelState(MODEL)).rollout;
    expect(rollout?.progressive?.weight).toBe(50);
    const aborted = await target.post<ProgressView>(`/v1/models/${MODEL}/abort`, { expectRolloutId: rollout?.id });
    expect(aborted.body).toMatchObject({ state: "aborted", weight: 0, unconfirmed: [] });
    expect((await send(target, MODEL, 300)).versions).toEqual({ v1: 300 });
    const [entry] = await history(target, MODEL);
    expect(entry).toMatchObject({ outcome: "aborted", reason: "aborted by alice", to: "v2" });
    expect(await target.controller.fleet.getModelState(MODEL)).toMatchObject({ active: "v1", rollout: null });
    const refused = await target.post<{ error: { code: string } }>(`/v1/models/${MODEL}/promote`, {});
    expect([refused.status, refused.body.error.code]).toEqual([400, "INVALID_INPUT"]);
  });

  it("a candidate that fails on a class of inputs is rolled back automatically, with the figures in history", async () => {
    const target = await fleet(MODEL);
    await activateAllAtOnce(target, MODEL, "v1");
    const started = await target.post<ProgressView>(`/v1/models/${MODEL}/activate`, {
      version: "fails",
      canary: [50],
      bakeMs: 60_000,
      minRequests: 50,
    });
    expect(started.body).toMatchObject({ state: "progressing", weight: 50 });
    // One request in four has a negative first feature: the candidate's run fails on those (500).
    const negative = JSON.stringify({
      inputs: [{ name: "features", shape: [1, 4], datatype: "FP32", data: [-0.5, -1.2, 3.3, 0.1] }],
    });
    let failures = 0;
    for (const round of [0, 1, 2, 3]) {
      const sent = await send(target, MODEL, 100, round === 0 ? { body: negative } : {});
      failures += sent.failed;
    }
    expect(failures).toBeGreaterThan(20);
    await reported(target, MODEL, 400);
    // The bake has a minute to go: a breach does not wait for it.
    const verdict = await target.controller.progressive.tick(MODEL);
    expect(verdict).toMatchObject({ state: "rolled-back", weight: 0, reason: expect.stringContaining("failure rate") });
    const [entry] = await history(target, MODEL);
    const analysis = entry?.analyses?.at(-1);
    expect(entry).toMatchObject({ outcome: "aborted", to: "fails" });
    expect(analysis).toMatchObject({ verdict: "fail", baseline: { failures: 0 } });
    expect(analysis?.candidate.failures).toBe(failures);
    expect((await send(target, MODEL, 100, { body: negative })).versions).toEqual({ v1: 100 });
  });

  it("a candidate that fails a request the baseline served is refused before any traffic moves (REPLAY_FAILED)", async () => {
    const target = await fleet(MODEL, 1);
    await activateAllAtOnce(target, MODEL, "v1");
    // v1 answers a negative first feature; the candidate fails on it. The node keeps the first request
    // it serves, then at most one every 100 ms.
    const negative = JSON.stringify({
      inputs: [{ name: "features", shape: [1, 4], datatype: "FP32", data: [-0.5, -1.2, 3.3, 0.1] }],
    });
    expect((await send(target, MODEL, 1, { body: negative })).versions).toEqual({ v1: 1 });
    const refused = await target.post<{ error: { code: string; nodes: { code: string; message: string }[] } }>(
      `/v1/models/${MODEL}/activate`,
      { version: "fails", canary: [50], minRequests: 50 },
    );
    expect(refused.body).toMatchObject({
      state: "aborted",
      reason: expect.stringMatching(
        /REPLAY_FAILED.*recent request 1 of 1, which the active version answered, fails on it \(5xx\)/,
      ),
    });
    expect((await send(target, MODEL, 20, { body: negative })).versions).toEqual({ v1: 20 });
    const [entry] = await history(target, MODEL);
    expect(entry).toMatchObject({ to: "fails", outcome: "aborted", reason: expect.stringContaining("REPLAY_FAILED") });
  });

  it("a candidate that rejects (4xx) what clients send is rolled back; its 400s name it", async () => {
    // v3 takes 8 features where v1 takes 4: forced past the schema gate, it answers 400 to every
    // existing client — which the analysis read as "0.00 % failed" while it counted only 5xx.
    const target = await fleet(MODEL);
    await activateAllAtOnce(target, MODEL, "v1");
    const started = await target.post<ProgressView>(`/v1/models/${MODEL}/activate`, {
      version: "v3",
      allowIncompatible: true,
      canary: [50],
      bakeMs: 60_000,
      minRequests: 50,
    });
    expect(started.body).toMatchObject({ state: "progressing", weight: 50 });
    const rejected = await fetch(`${target.nodes[0]?.url}/v2/models/${MODEL}/versions/v3/infer`, {
      method: "POST",
      body: DEMO_BODY,
    });
    expect([rejected.status, await rejected.json()]).toEqual([
      400,
      {
        error: "input features: shape [1,4] does not fit the model's [batch,8]",
        model_name: MODEL,
        model_version: "v3",
      },
    ]);
    const sent = await send(target, MODEL, 300);
    expect(sent.failed).toBeGreaterThan(50);
    await reported(target, MODEL, 300);
    const verdict = await target.controller.progressive.tick(MODEL);
    expect(verdict).toMatchObject({
      state: "rolled-back",
      weight: 0,
      reason: expect.stringContaining("rejection (4xx) rate"),
    });
    const analysis = (await history(target, MODEL))[0]?.analyses?.at(-1);
    expect(analysis).toMatchObject({
      verdict: "fail",
      baseline: { clientErrors: 0, failures: 0 },
      candidate: { failures: 0 },
    });
    // The pinned request above is not the split's: only the split's 4xx are judged.
    expect(analysis?.candidate.clientErrors).toBe(sent.failed);
    expect((await send(target, MODEL, 50)).versions).toEqual({ v1: 50 });
  });

  it("a candidate three times slower is rolled back by the latency check, with the figures in history", {
    timeout: 90_000,
  }, async () => {
    // Workers at the main thread's priority: the test's latencies are the versions' runs, not how the
    // other test processes on this machine outrank a niced worker.
    // One intra-op thread per session: onnxruntime's pool threads spin between runs, and four
    // sessions' spinning threads in this one test process would be what the latencies measure.
    const target = await fleet("pacer", 2, { workerNice: 0, intraOpThreads: 1 });
    await activateAllAtOnce(target, "pacer", "v1");
    const started = await target.post<ProgressView>(`/v1/models/pacer/activate`, {
      version: "v2",
      canary: [50],
      // The pacer's runs take ~21 and ~62 ms here: three times, and well past the default 25 ms floor
      // (a busy machine adds tens of ms to a few requests of either version).
      minRequests: 100,
    });
    expect(started.body).toMatchObject({ state: "progressing", weight: 50 });
    // One request at a time: each answer's latency is its own run, not a queue behind another.
    const sent = await send(target, "pacer", 300, { body: PACER_BODY, concurrency: 1 });
    expect(sent.failed).toBe(0);
    await reported(target, "pacer", 300);
    const verdict = await target.controller.progressive.tick("pacer");
    expect(verdict, JSON.stringify(verdict?.lastAnalysis)).toMatchObject({
      state: "rolled-back",
      weight: 0,
      reason: expect.stringContaining("median"),
    });
    const [entry] = await history(target, "pacer");
    expect(entry).toMatchObject({ outcome: "aborted", strategy: "canary" });
    const analysis = entry?.analyses?.at(-1);
    expect(analysis?.verdict).toBe("fail");
    expect(analysis?.candidate.p99Ms).toBeGreaterThan(1.5 * (analysis?.baseline.p99Ms ?? Number.POSITIVE_INFINITY));
    expect((await send(target, "pacer", 20, { body: PACER_BODY })).versions).toEqual({ v1: 20 });
  });

  it("hooks: a failing pre-traffic hook aborts before traffic moves; step and complete deliveries are signed", async () => {
    const target = await fleet(MODEL, 1);
    await activateAllAtOnce(target, MODEL, "v1");
    const gate = await startWebhookReceiver(() => 503);
    const watcher = await startWebhookReceiver(() => 200);
    try {
      const refused = await target.post<ProgressView>(`/v1/models/${MODEL}/activate`, {
        version: "v2",
        canary: [50],
        hooks: [{ event: "pre-traffic", url: gate.url }],
      });
      expect(refused.body).toMatchObject({
        state: "aborted",
        weight: 0,
        reason: expect.stringContaining("pre-traffic"),
      });
      expect(gate.received.length).toBeGreaterThanOrEqual(1);
      expect(await target.controller.fleet.getModelState(MODEL)).toMatchObject({ active: "v1", rollout: null });
      expect((await send(target, MODEL, 50)).versions).toEqual({ v1: 50 });

      const events = ["pre-traffic", "step", "complete"] as const;
      const started = await target.post<ProgressView>(`/v1/models/${MODEL}/activate`, {
        version: "v2",
        canary: [50],
        // Few requests (this is about the hooks, not the judge): latency floors no busy box reaches.
        minRequests: 10,
        maxP50Ratio: 1000,
        maxP99Ratio: 1000,
        hooks: events.map((event) => ({ event, url: watcher.url })),
      });
      expect(started.body).toMatchObject({ state: "progressing", weight: 50 });
      await send(target, MODEL, 100);
      await reported(target, MODEL, 100);
      expect(await target.controller.progressive.tick(MODEL)).toMatchObject({ state: "promoted" });
      const deliveries = await watcher.arrived(3);
      for (const delivery of deliveries) expect(verifyWebhook(HOOK_SECRET, delivery.headers, delivery.body)).toBe(true);
      expect(verifyWebhook("another-secret-0123456789", deliveries[0]?.headers ?? {}, deliveries[0]?.body ?? "")).toBe(
        false,
      );
      const payloads = deliveries.map((delivery) => JSON.parse(delivery.body) as { event: string; to: string });
      expect(payloads.map((payload) => [payload.event, payload.to])).toEqual(events.map((event) => [event, "v2"]));
    } finally {
      await Promise.all([gate.stop(), watcher.stop()]);
    }
  });

  it("a rollout whose controller died is ended by the next tick of any controller, in history", async () => {
    const target = await fleet(MODEL, 1);
    await activateAllAtOnce(target, MODEL, "v1");
    const other = await harness.controller(target.prefix, {}, { trustedKeyPaths: trusted });
    // A rollout begun with a short lock and never finished: what a controller killed mid-rollout leaves.
    await target.controller.transitions.begin(MODEL, { target: "v2", by: "dead-controller", lockTtlMs: 300 });
    expect(await other.progressive.tick(MODEL)).toBeUndefined();
    expect((await other.fleet.getModelState(MODEL)).rollout).not.toBeNull();
    await new Promise((resolve) => setTimeout(resolve, 400));
    await other.progressive.tick(MODEL);
    expect((await other.fleet.getModelState(MODEL)).rollout).toBeNull();
    const [entry] = await other.fleet.history(MODEL, 1);
    expect(entry).toMatchObject({
      outcome: "aborted",
      by: "dead-controller",
      reason: expect.stringContaining("controller stopped"),
    });
  });
});
