/**
 * `/v2/health/ready` on a node that serves several models — the default (every model with state), as
 * infra/k8s ships it. Ready means: the node serves the fleet's active version of every model it is
 * assigned that has one. Real redis-server, real S3-protocol server, real nodes.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Controller } from "../../controller/controller.js";
import { type ControllerHarness, MODEL, startControllerHarness, TOKEN } from "../support/controller-harness.js";
import { infer, loadGenerator, startTestNode, type TestNode } from "../support/node-harness.js";

const SECOND = "second";
const FRESH = "fresh";

let harness: ControllerHarness;
const nodes: TestNode[] = [];

beforeAll(async () => {
  harness = await startControllerHarness();
  await harness.publish(SECOND, "v1", "v1");
  await harness.publish(SECOND, "v2", "v2");
  await harness.publish(FRESH, "corrupted", "v2", { corrupt: true });
  await harness.publish(FRESH, "v1", "v1");
}, 60_000);
afterAll(async () => {
  await Promise.all(nodes.map((node) => node.close().catch(() => undefined)));
  await harness.stop();
});

async function activate(controller: Controller, model: string, version: string) {
  const action = version === "rollback" ? "rollback" : "activate";
  const response = await controller.app.request(`/v1/models/${model}/${action}`, {
    method: "POST",
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify(version === "rollback" ? {} : { version, timeoutMs: 20_000 }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function readyStatus(url: string): Promise<number> {
  return (await fetch(`${url}/v2/health/ready`, { signal: AbortSignal.timeout(5_000) })).status;
}

/** Asks `/v2/health/ready` back to back until stopped; returns every status seen. */
function watchReady(url: string) {
  const statuses: number[] = [];
  let running = true;
  const watching = (async () => {
    while (running) statuses.push(await readyStatus(url).catch(() => 0));
  })();
  return {
    async stop() {
      running = false;
      await watching;
      return statuses;
    },
  };
}

describe("a node serving two models", () => {
  it("rolls each out independently under load: every request to either model succeeds and ready stays 200", async () => {
    const prefix = "two-models:";
    const controller = await harness.controller(prefix);
    const node = await startTestNode(harness, prefix, "t1", { models: [] });
    nodes.push(node);
    expect(await readyStatus(node.url)).toBe(503);
    expect((await activate(controller, MODEL, "v1")).body).toMatchObject({ to: "v1", confirmed: 1 });
    expect((await activate(controller, SECOND, "v1")).body).toMatchObject({ to: "v1", confirmed: 1 });
    expect(await readyStatus(node.url)).toBe(200);

    const load = loadGenerator([node.url], 8, [MODEL, SECOND]);
    const ready = watchReady(node.url);
    try {
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect((await activate(controller, MODEL, "v2")).body).toMatchObject({ to: "v2", confirmed: 1 });
      expect((await infer(node.url, { model: SECOND })).version).toBe("v1");
      expect((await activate(controller, SECOND, "v2")).body).toMatchObject({ to: "v2", confirmed: 1 });
      expect((await infer(node.url, { model: MODEL })).version).toBe("v2");
      expect((await activate(controller, MODEL, "rollback")).body).toMatchObject({ to: "v1", confirmed: 1 });
      expect((await infer(node.url, { model: SECOND })).version).toBe("v2");
      await new Promise((resolve) => setTimeout(resolve, 200));
    } finally {
      await load.stop();
    }
    const statuses = await ready.stop();

    const answers = load.answers;
    expect(answers.filter((a) => a.status !== 200)).toEqual([]);
    for (const model of [MODEL, SECOND]) {
      expect(new Set(answers.filter((a) => a.model === model).map((a) => a.version))).toEqual(new Set(["v1", "v2"]));
    }
    expect(statuses.length).toBeGreaterThan(10);
    expect(statuses.filter((status) => status !== 200)).toEqual([]);
  }, 60_000);
});

describe("a model whose first activation fails", () => {
  it.each([
    ["every model (CUTOVER_MODELS unset)", []],
    ["CUTOVER_MODELS lists it", [MODEL, FRESH]],
  ] as const)(
    "leaves the node ready while its other model serves — %s",
    async (_name, models) => {
      const prefix = `fresh-${models.length}:`;
      const controller = await harness.controller(prefix);
      const node = await startTestNode(harness, prefix, `f${models.length}`, { models: [...models] });
      nodes.push(node);
      expect((await activate(controller, MODEL, "v1")).body).toMatchObject({ to: "v1", confirmed: 1 });
      expect(await readyStatus(node.url)).toBe(200);

      const ready = watchReady(node.url);
      const failed = await activate(controller, FRESH, "corrupted");
      expect(failed.status).toBe(504);
      expect(failed.body).toMatchObject({
        error: {
          code: "ROLLOUT_ABORTED",
          nodes: [{ nodeId: node.config.nodeId, outcome: "failed", code: "DIGEST_MISMATCH" }],
        },
      });
      // The node has read the new model's state (it answered its prepare); a resync reads it again.
      await node.node.agent.resyncAll();
      expect(node.node.agent.record().models[FRESH]).toMatchObject({ active: null, lastError: expect.any(String) });
      const statuses = await ready.stop();
      expect(statuses.filter((status) => status !== 200)).toEqual([]);
      expect(await readyStatus(node.url)).toBe(200);
      expect((await infer(node.url)).version).toBe("v1");
      expect((await infer(node.url, { model: FRESH })).status).toBe(503);

      // Once it has an active version, the node is ready when it serves that too.
      expect((await activate(controller, FRESH, "v1")).body).toMatchObject({ to: "v1", confirmed: 1 });
      expect((await infer(node.url, { model: FRESH })).version).toBe("v1");
      expect(await readyStatus(node.url)).toBe(200);
    },
    60_000,
  );
});
