/**
 * A controller process SIGKILLed in the middle of a canary: the rollout stays recorded in Redis, and
 * another controller's reconcile tick carries it through its next steps to the promotion, while
 * requests keep being answered (none fails). Real controller process, real nodes, Redis and S3.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ControllerHarness, MODEL, startControllerHarness, TOKEN } from "../support/controller-harness.js";
import { freePort, waitForPort } from "../support/free-port.js";
import { loadGenerator, startTestNode, type TestNode } from "../support/node-harness.js";

let harness: ControllerHarness;
const nodes: TestNode[] = [];

beforeAll(async () => {
  harness = await startControllerHarness();
});
afterAll(async () => {
  await Promise.all(nodes.map((node) => node.close()));
  await harness.stop();
});

function startControllerProcess(prefix: string, port: number): { child: ChildProcess; log: () => string } {
  const child = spawn(
    process.execPath,
    ["--import", "tsx", join(import.meta.dirname, "../../bin/main.ts"), "controller"],
    {
      env: {
        ...process.env,
        ...harness.env,
        CUTOVER_REDIS_PREFIX: prefix,
        CUTOVER_PORT: String(port),
        CUTOVER_ROLLOUT_LOCK_TTL_MS: "1500",
        CUTOVER_RECONCILE_MS: "200",
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
      },
      stdio: ["ignore", "ignore", "pipe"],
    },
  );
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  return { child, log: () => stderr };
}

describe("a progressive rollout outlives its controller", () => {
  it("SIGKILL mid-canary: another controller's tick continues it to 100 %, no request fails", {
    timeout: 90_000,
  }, async () => {
    const prefix = "progressive-kill:";
    const first = await harness.controller(prefix);
    for (const id of ["k1", "k2"]) nodes.push(await startTestNode(harness, prefix, id, {}));
    const activated = await first.app.request(`/v1/models/${MODEL}/activate`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ version: "v1" }),
    });
    expect(activated.status).toBe(200);
    const load = loadGenerator(
      nodes.map((node) => node.url),
      4,
    );

    const port = await freePort();
    const doomed = startControllerProcess(prefix, port);
    let rolloutId: string;
    try {
      await waitForPort(port, 20_000).catch((error: unknown) => {
        throw new Error(`the controller process did not start: ${doomed.log() || String(error)}`);
      });
      const response = await fetch(`http://127.0.0.1:${port}/v1/models/${MODEL}/activate`, {
        method: "POST",
        headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
        // Few requests per step (this is about the controller's death, not the judge): a median floor
        // no chance can reach in a few answers.
        body: JSON.stringify({ version: "v2", canary: [30, 60], bakeMs: 1_500, minRequests: 20, maxP50Ratio: 10 }),
      });
      const view = (await response.json()) as { state: string; weight: number; rolloutId: string };
      expect([response.status, view.state, view.weight], doomed.log()).toEqual([200, "progressing", 30]);
      rolloutId = view.rolloutId;
    } finally {
      doomed.child.kill("SIGKILL");
    }

    // Another controller (its own loop) finds the rollout in the state and moves it on.
    const second = await harness.controller(prefix);
    second.startReconciling(200);
    await expect
      .poll(
        async () => (await second.fleet.history(MODEL, 5)).find((entry) => entry.rolloutId === rolloutId)?.outcome,
        {
          timeout: 30_000,
          interval: 200,
        },
      )
      .toBe("promoted");
    const answers = await load.stop();
    expect(answers.filter((answer) => answer.status !== 200)).toEqual([]);
    expect(new Set(answers.map((answer) => answer.version))).toEqual(new Set(["v1", "v2"]));
    const [entry] = await second.fleet.history(MODEL, 1);
    expect(entry).toMatchObject({ rolloutId, outcome: "promoted", strategy: "canary", steps: [30, 60] });
    expect(entry?.analyses?.map((analysis) => analysis.verdict)).toEqual(["pass", "pass"]);
    expect(await second.fleet.getModelState(MODEL)).toMatchObject({ active: "v2", previous: "v1", rollout: null });
  });
});
