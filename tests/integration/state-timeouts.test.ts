/**
 * A state store that accepts connections and never answers (an overloaded Redis, a half-open link,
 * an SSM endpoint behind a black hole): every call fails with STATE_UNREACHABLE instead of hanging,
 * the controller answers 503, and a node serves what it last applied without waiting for the state.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Controller } from "../../controller/controller.js";
import { SsmPointerStore } from "../../controller/state/ssm-pointer-store.js";
import { AppliedStore } from "../../inference/applied-record.js";
import { type ControllerHarness, MODEL, startControllerHarness, TOKEN } from "../support/controller-harness.js";
import { infer, startTestNode, type TestNode } from "../support/node-harness.js";
import { type SilentServer, startSilentServer } from "../support/silent-server.js";

/** The bound these tests configure; the deadlines below are several times it. */
const BOUND_MS = 500;
const HUNG_AFTER_MS = 10 * BOUND_MS;

let harness: ControllerHarness;
let silent: SilentServer;

beforeAll(async () => {
  [harness, silent] = await Promise.all([startControllerHarness(), startSilentServer()]);
});
afterAll(async () => {
  await silent.stop();
  await harness.stop();
});

/** Settles like `work`, or rejects with "hung" if it has not settled after HUNG_AFTER_MS. */
async function settlesInTime<T>(work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`hung: no answer after ${HUNG_AFTER_MS} ms`)), HUNG_AFTER_MS);
  });
  try {
    return await Promise.race([work, hung]);
  } finally {
    clearTimeout(timer);
  }
}

async function answer(controller: Controller, path: string, init?: RequestInit) {
  const response = await settlesInTime(Promise.resolve(controller.app.request(path, init)));
  const body = (await response.json()) as { error?: { code: string; message: string } };
  return [response.status, body.error?.code];
}

const activate = (version: string): RequestInit => ({
  method: "POST",
  headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
  body: JSON.stringify({ version, allowNoNodes: true }),
});

describe("a controller whose Redis accepts connections and never answers", () => {
  it("answers /healthz, reads and activate with 503 STATE_UNREACHABLE instead of hanging", async () => {
    const controller = await harness.controller(
      "silent-redis:",
      {},
      {
        redisUrl: silent.redisUrl,
        stateTimeoutMs: BOUND_MS,
      },
    );
    expect(await answer(controller, "/healthz")).toEqual([503, "STATE_UNREACHABLE"]);
    expect(await answer(controller, "/v1/models")).toEqual([503, "STATE_UNREACHABLE"]);
    expect(await answer(controller, `/v1/models/${MODEL}`)).toEqual([503, "STATE_UNREACHABLE"]);
    expect(await answer(controller, `/v1/nodes`)).toEqual([503, "STATE_UNREACHABLE"]);
    expect(await answer(controller, `/v1/models/${MODEL}/activate`, activate("v1"))).toEqual([
      503,
      "STATE_UNREACHABLE",
    ]);
    expect(silent.accepted()).toBeGreaterThan(0);
  });
});

describe("SSM that accepts connections and never answers", () => {
  const credentials = { accessKeyId: "test", secretAccessKey: "test" };
  const pointer = { active: "v1", previous: null, revision: 1, updatedAt: null, updatedBy: null };

  it("the pointer store fails reads and writes with STATE_UNREACHABLE within its bound", async () => {
    const store = new SsmPointerStore({
      path: "/cutover/silent",
      endpoint: silent.httpUrl,
      credentials,
      timeoutMs: BOUND_MS,
    });
    try {
      await expect(settlesInTime(store.read(MODEL))).rejects.toMatchObject({
        code: "STATE_UNREACHABLE",
        message: expect.stringMatching(/SSM/),
      });
      await expect(settlesInTime(store.write(MODEL, pointer))).rejects.toMatchObject({ code: "STATE_UNREACHABLE" });
    } finally {
      store.close();
    }
  });

  it("a controller keeping its pointers there answers activate and rollback with 503", async () => {
    const controller = await harness.controller(
      "silent-ssm:",
      {},
      {
        pointers: { kind: "ssm", path: "/cutover/silent", endpoint: silent.httpUrl, region: "us-east-1" },
        stateTimeoutMs: BOUND_MS,
      },
    );
    expect(await answer(controller, `/v1/models/${MODEL}/activate`, activate("v1"))).toEqual([
      503,
      "STATE_UNREACHABLE",
    ]);
    expect(await answer(controller, `/v1/models/${MODEL}/rollback`, { ...activate("v1"), body: "{}" })).toEqual([
      503,
      "STATE_UNREACHABLE",
    ]);
  });
});

describe("a node whose Redis accepts connections and never answers", () => {
  const nodes: TestNode[] = [];
  afterAll(async () => {
    await Promise.all(nodes.map((node) => node.close().catch(() => undefined)));
  });

  it("listens and serves its cached version before its first state read completes", async () => {
    const prefix = "silent-node:";
    const controller = await harness.controller(prefix);
    const first = await startTestNode(harness, prefix, "s1");
    nodes.push(first);
    const activated = await controller.app.request(`/v1/models/${MODEL}/activate`, activate("v1"));
    expect(activated.status).toBe(200);
    const applied = new AppliedStore(first.config.cacheDir);
    await expect.poll(async () => (await applied.read()).models[MODEL]?.version).toBe("v1");
    await first.close();

    const black = await startSilentServer();
    try {
      // A bound far longer than this test: no state read can complete while it runs.
      const second = await startTestNode(harness, prefix, "s1", {
        cacheDir: first.config.cacheDir,
        redisUrl: black.redisUrl,
        stateTimeoutMs: 120_000,
        waitForJoin: false,
      });
      nodes.push(second);
      let joined = false;
      void second.node.agent.joined.then(() => {
        joined = true;
      });
      const served = await settlesInTime(infer(second.url));
      expect([served.status, served.version]).toEqual([200, "v1"]);
      expect(joined).toBe(false);
      expect(black.accepted()).toBeGreaterThan(0);
    } finally {
      // Dropping the connections fails the node's pending commands, so it closes at once.
      await black.stop();
    }
  });
});
