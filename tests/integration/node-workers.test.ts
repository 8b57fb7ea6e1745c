/**
 * Versions run in worker threads (docs/NODE.md, Instances): a heavy run (≥ 0.3 s) does not hold the
 * node's event loop, queued requests of a batchable model share runs (and only with requests of the
 * same shape), a worker that dies fails only its own requests, and a version retired by a swap is
 * released only once the work its workers still run is done; a version's card that sets its own
 * instances wins over the node's CUTOVER_INSTANCES. Real nodes, controller, Redis and S3; every
 * assertion is about order, none about time.
 */
import { readFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Controller } from "../../controller/controller.js";
import { pushVersion } from "../../controller/publisher.js";
import { ArtifactLayout } from "../../core/artifact-layout.js";
import { ModelRegistry } from "../../core/registry.js";
import { createObjectStore } from "../../core/store/index.js";
import { PooledExecutor } from "../../inference/execution/version-executor.js";
import type { WorkerPool } from "../../inference/execution/worker-pool.js";
import type { LoadedVersion } from "../../inference/loaded-version.js";
import { DEFAULT_WORKER_NICE } from "../../inference/session-opener.js";
import { type ControllerHarness, startControllerHarness, TOKEN } from "../support/controller-harness.js";
import { type InferAnswer, infer, startTestNode, type TestNode } from "../support/node-harness.js";
import { testKeyPair } from "../support/signing.js";
import { tempDir } from "../support/temp-dir.js";

const MODELS = join(import.meta.dirname, "../../models");
const WIDTH = 1024;

let harness: ControllerHarness;
let work: Awaited<ReturnType<typeof tempDir>>;
let trusted: string[];
let prefixNumber = 0;
const nodes: TestNode[] = [];

beforeAll(async () => {
  harness = await startControllerHarness();
  work = await tempDir();
  const key = testKeyPair();
  const publicKey = join(work.path, "compute.pub");
  await writeFile(publicKey, key.publicPem);
  const config = harness.config("");
  trusted = [...config.trustedKeyPaths, publicKey];
  const registry = new ModelRegistry(createObjectStore(config.store), new ArtifactLayout(config.prefix));
  const push = (model: string, version: string) =>
    pushVersion(registry, {
      path: join(MODELS, model, "v1/model.onnx"),
      goldenPath: join(MODELS, model, "v1/golden.json"),
      model,
      version,
      signingKey: key.signer,
    });
  for (const version of ["v1", "v2"]) await push("heavy", version);
  await push("mixer", "v1");
  // The demo classifier (µs runs) twice, each version's card naming its own instances.
  for (const [version, instances] of [
    ["inline", 0],
    ["workers", 2],
  ] as const) {
    await pushVersion(registry, {
      path: join(MODELS, "demo-classifier/v1/model.onnx"),
      goldenPath: join(MODELS, "demo-classifier/v1/golden.json"),
      model: "demo",
      version,
      signingKey: key.signer,
      execution: { instances },
    });
  }
  registry.store.close();
});

afterAll(async () => {
  await Promise.all(nodes.map((node) => node.close().catch(() => undefined)));
  await harness?.stop();
  await work?.cleanup();
});

async function activate(controller: Controller, model: string, version: string) {
  const action = version === "rollback" ? "rollback" : "activate";
  const response = await controller.app.request(`/v1/models/${model}/${action}`, {
    method: "POST",
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify(version === "rollback" ? {} : { version, timeoutMs: 30_000 }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function fleet(model: string, overrides: Parameters<typeof startTestNode>[3]) {
  const prefix = `workers${prefixNumber++}:`;
  const controller = await harness.controller(prefix, {}, { trustedKeyPaths: trusted });
  const node = await startTestNode(harness, prefix, `w${prefixNumber}`, {
    models: [model],
    trustedKeyPaths: trusted,
    maxRequestBytes: 1024 * 1024,
    // Workers at the test's priority: beside other processes on a busy machine a niced worker gets a
    // sliver of a core, and 8 queued heavy runs outlast the request timeout (what is tested here is
    // the pool, not the priority; the crash test sets the default nice and checks it).
    workerNice: 0,
    ...overrides,
  });
  nodes.push(node);
  return { controller, node };
}

function resident(node: TestNode, model: string, version: string): LoadedVersion {
  const loaded = node.node.agent.slots.get(model)?.resident(version);
  if (loaded === undefined) throw new Error(`${model}/${version} is not resident`);
  return loaded;
}

function poolOf(loaded: LoadedVersion): WorkerPool {
  const executor = loaded.session;
  if (!(executor instanceof PooledExecutor)) throw new Error(`${loaded.version} runs ${executor.mode}`);
  return executor.pool;
}

async function until(condition: () => boolean, what: string): Promise<void> {
  for (let waited = 0; !condition(); waited += 5) {
    if (waited > 20_000) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** A thread's nice value as the kernel reports it: field 19 of /proc/<pid>/task/<tid>/stat. */
function kernelNice(threadId: number): number {
  const stat = readFileSync(`/proc/${process.pid}/task/${threadId}/stat`, "utf8");
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[16]);
}

function wave(length: number, phase: number): number[] {
  return Array.from({ length }, (_, i) => Math.round(Math.sin(i * phase) * 1e4) / 1e4);
}

const heavyBody = (phase = 0.01) => ({
  inputs: [{ name: "x", shape: [1, WIDTH], datatype: "FP32", data: wave(WIDTH, phase) }],
});

function inferHeavy(url: string, version?: string): Promise<InferAnswer> {
  return infer(url, { model: "heavy", body: heavyBody(), ...(version ? { version } : {}) });
}

describe("a heavy model runs in worker threads", () => {
  it("while a run of ≥ 0.3 s is in progress, /v2/health/live and a promote are answered before it completes", async () => {
    const { controller, node } = await fleet("heavy", { instances: 1, keepWarm: 1 });
    expect((await activate(controller, "heavy", "v1")).body).toMatchObject({ to: "v1", confirmed: 1 });
    expect((await activate(controller, "heavy", "v2")).body).toMatchObject({ to: "v2", confirmed: 1 });
    const pool = poolOf(resident(node, "heavy", "v2"));

    const order: string[] = [];
    const run = inferHeavy(node.url).then((answer) => {
      order.push("run");
      return answer;
    });
    await until(() => pool.busyInstances() === 1, "the run started");
    const live = fetch(`${node.url}/v2/health/live`).then((response) => {
      order.push("live");
      return response.status;
    });
    const promote = activate(controller, "heavy", "rollback").then((answer) => {
      order.push("promote");
      return answer;
    });
    const [answer, liveStatus, promoted] = await Promise.all([run, live, promote]);
    expect(liveStatus).toBe(200);
    expect(promoted.body).toMatchObject({ to: "v1", confirmed: 1 });
    expect(answer).toMatchObject({ status: 200, version: "v2" });
    expect(order.indexOf("run")).toBe(2);
  });

  it("a worker that dies fails only its own request (500); the version serves on from a new worker; the node lives", async () => {
    const { controller, node } = await fleet("heavy", { instances: 2, workerNice: DEFAULT_WORKER_NICE });
    expect((await activate(controller, "heavy", "v1")).body).toMatchObject({ to: "v1", confirmed: 1 });
    const pool = poolOf(resident(node, "heavy", "v1"));
    const running = [inferHeavy(node.url), inferHeavy(node.url)];
    await until(() => pool.busyInstances() === 2, "both instances run");
    pool.crashInstance(0);
    const answers = await Promise.all(running);
    expect(answers.map((answer) => answer.status).sort()).toEqual([200, 500]);
    expect(answers.find((answer) => answer.status === 500)?.body).toEqual({
      error: "internal error (see the node's log)",
      model_name: "heavy",
      model_version: "v1",
    });

    await until(() => pool.servingInstances() === 2, "the replacement worker opened its session and warmed up");
    const after = await Promise.all([inferHeavy(node.url), inferHeavy(node.url)]);
    expect(after.map((answer) => [answer.status, answer.version])).toEqual([
      [200, "v1"],
      [200, "v1"],
    ]);
    expect((await fetch(`${node.url}/v2/health/live`)).status).toBe(200);
    const metrics = await (await fetch(`${node.url}/metrics`)).text();
    expect(metrics).toMatch(/cutover_version_worker_restarts_total\{model="heavy",version="v1"\} 1/);
    // The replacement, like the first workers, runs below the main thread's priority (as the kernel says).
    const mainNice = kernelNice(process.pid);
    const priorities = pool.threadPriorities();
    expect(priorities).toHaveLength(2);
    for (const priority of priorities) {
      if (!("threadId" in priority)) throw new Error(`a worker kept its priority: ${priority.unchanged}`);
      expect(kernelNice(priority.threadId)).toBe(Math.min(19, mainNice + DEFAULT_WORKER_NICE));
    }
  });

  it("a version retired by a swap is released only after the work still running in its workers", async () => {
    const { controller, node } = await fleet("heavy", { instances: 1, keepWarm: 0 });
    expect((await activate(controller, "heavy", "v1")).body).toMatchObject({ to: "v1", confirmed: 1 });
    const v1 = resident(node, "heavy", "v1");
    const pool = poolOf(v1);
    const runs = Array.from({ length: 8 }, () => inferHeavy(node.url));
    await until(() => pool.busyInstances() === 1, "v1 runs");

    expect((await activate(controller, "heavy", "v2")).body).toMatchObject({ to: "v2", confirmed: 1 });
    // Swapped: v1 is neither active nor kept warm, and its worker is still running its requests.
    expect(node.node.agent.slots.get("heavy")?.active?.version).toBe("v2");
    expect(v1.retired).toBe(true);
    expect(v1.released).toBe(false);
    expect(pool.busyInstances()).toBe(1);

    const answers = await Promise.all(runs);
    expect(answers.map((answer) => [answer.status, answer.version])).toEqual(runs.map(() => [200, "v1"]));
    await until(() => v1.released && pool.servingInstances() === 0, "v1's worker released its session and ended");
    expect((await inferHeavy(node.url)).version).toBe("v2");
  });
});

describe("dynamic batching", () => {
  const mixerBody = (i: number, n: number) => ({
    inputs: [
      { name: "x", shape: [1, WIDTH], datatype: "FP32", data: wave(WIDTH, 0.001 * (i + 1)) },
      { name: "offset", shape: [1, n], datatype: "FP32", data: Array.from({ length: n }, (_, k) => i + k) },
    ],
  });
  const output = (answer: InferAnswer, name: string) =>
    answer.body.outputs?.find((candidate) => candidate.name === name)?.data ?? [];

  it("queued requests share runs; the answers equal unbatched ones, and requests of another shape never share a run", async () => {
    const { controller, node } = await fleet("mixer", { instances: 1, maxBatch: 8 });
    expect((await activate(controller, "mixer", "v1")).body).toMatchObject({ to: "v1", confirmed: 1 });
    expect(resident(node, "mixer", "v1").execution).toEqual({ mode: "workers", instances: 1 });
    const count = 24;
    const shapeOf = (i: number) => (i % 3 === 0 ? 3 : 2);
    const alone: InferAnswer[] = [];
    for (let i = 0; i < count; i++)
      alone.push(await infer(node.url, { model: "mixer", body: mixerBody(i, shapeOf(i)) }));
    const together = await Promise.all(
      Array.from({ length: count }, (_, i) => infer(node.url, { model: "mixer", body: mixerBody(i, shapeOf(i)) })),
    );

    for (let i = 0; i < count; i++) {
      const [batched, unbatched] = [together[i], alone[i]];
      if (batched === undefined || unbatched === undefined) throw new Error("missing answer");
      expect(batched.status).toBe(200);
      const n = shapeOf(i);
      expect(output(batched, "offset_mean")[0]).toBeCloseTo(i + (n - 1) / 2, 5);
      const [y, reference] = [output(batched, "y"), output(unbatched, "y")];
      expect(y.length).toBe(WIDTH);
      for (let k = 0; k < WIDTH; k++) {
        expect(Math.abs((y[k] ?? 0) - (reference[k] ?? 0))).toBeLessThanOrEqual(
          1e-4 + 1e-4 * Math.abs(reference[k] ?? 0),
        );
      }
    }
    const metrics = await (await fetch(`${node.url}/metrics`)).text();
    const value = (name: string) =>
      Number(new RegExp(`${name}\\{model="mixer",version="v1"\\} (\\S+)`).exec(metrics)?.[1] ?? Number.NaN);
    const runs = value("cutover_version_batch_requests_count");
    const requests = value("cutover_version_batch_requests_sum");
    // Every request counted once (warm-up runs are not requests), and fewer runs than requests.
    expect(requests).toBe(2 * count);
    expect(runs).toBeLessThan(requests);
  });
});

describe("a version's card sets its own instances (push --instances)", () => {
  const demoBody = { inputs: [{ name: "features", shape: [1, 4], datatype: "FP32", data: [0.5, -1.2, 3.3, 0.1] }] };
  const instancesSeries = async (url: string) =>
    (await (await fetch(`${url}/metrics`)).text())
      .split("\n")
      .filter((line) => line.startsWith("cutover_version_instances{"));

  it("instances 0 runs on the main thread of a node set to 2; instances 2 in workers on a node set to 0", async () => {
    const two = await fleet("demo", { instances: 2 });
    expect((await activate(two.controller, "demo", "inline")).body).toMatchObject({ to: "inline", confirmed: 1 });
    expect(resident(two.node, "demo", "inline").execution).toEqual({ mode: "inline", instances: 1 });
    expect(await instancesSeries(two.node.url)).toEqual([
      'cutover_version_instances{model="demo",version="inline",mode="inline"} 1',
    ]);

    const zero = await fleet("demo", { instances: 0 });
    expect((await activate(zero.controller, "demo", "workers")).body).toMatchObject({ to: "workers", confirmed: 1 });
    expect(resident(zero.node, "demo", "workers").execution).toEqual({ mode: "workers", instances: 2 });
    expect(await instancesSeries(zero.node.url)).toEqual([
      'cutover_version_instances{model="demo",version="workers",mode="workers"} 2',
    ]);
    expect((await infer(zero.node.url, { model: "demo", body: demoBody })).status).toBe(200);
  });
});
