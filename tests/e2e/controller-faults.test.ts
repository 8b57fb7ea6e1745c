import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Controller } from "../../controller/controller.js";
import { type ControllerHarness, MODEL, startControllerHarness, TOKEN } from "../support/controller-harness.js";
import { freePort, waitForPort } from "../support/free-port.js";

let harness: ControllerHarness;

beforeAll(async () => {
  harness = await startControllerHarness({ persistRedis: true });
});
afterAll(() => harness.stop());

async function activate(controller: Controller, version: string, timeoutMs = 10_000) {
  const response = await controller.app.request(`/v1/models/${MODEL}/activate`, {
    method: "POST",
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify({ version, timeoutMs }),
  });
  return { status: response.status, body: (await response.json()) as { error?: { code: string }; revision?: number } };
}

/** Retries until the model accepts a new rollout (a dead rollout's lock has expired). */
async function activateWhenFree(controller: Controller, version: string, withinMs: number) {
  const deadline = Date.now() + withinMs;
  for (;;) {
    const result = await activate(controller, version);
    if (result.status !== 409 || Date.now() > deadline) return result;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

describe("a rollout survives the failure of what it runs on", () => {
  it("Redis restarted in the middle of a rollout: it fails cleanly or completes, never half-applied, and nothing stays stuck", async () => {
    const prefix = "redis-restart:";
    const controller = await harness.controller(prefix);
    await harness.node(prefix, "n1", { stageDelayMs: 1_500 });
    const pending = activate(controller, "v1");
    await new Promise((resolve) => setTimeout(resolve, 300));
    await harness.redis.kill();
    const health = await controller.app.request("/healthz");
    expect([health.status, ((await health.json()) as { error: { code: string } }).error.code]).toEqual([
      503,
      "STATE_UNREACHABLE",
    ]);
    await new Promise((resolve) => setTimeout(resolve, 300));
    await harness.redis.start();
    const result = await pending;

    const state = await controller.fleet.getModelState(MODEL);
    if (result.status === 200) {
      expect(state).toMatchObject({ active: "v1", revision: 1 });
    } else {
      expect([503, 409]).toContain(result.status);
      expect(["STATE_UNREACHABLE", "LOCK_LOST"]).toContain(result.body.error?.code);
      expect([state.active, state.revision]).toEqual(state.active === "v1" ? ["v1", 1] : [null, 0]);
    }
    const next = await activateWhenFree(controller, "v2", 8_000);
    expect(next.status, JSON.stringify(next.body)).toBe(200);
    expect((await controller.fleet.getModelState(MODEL)).active).toBe("v2");
  });

  it("a controller process killed between prepare and promote: the next activation succeeds", async () => {
    const prefix = "controller-kill:";
    const node = await harness.node(prefix, "n1", { onPrepare: "ignore" });
    const port = await freePort();
    const child: ChildProcess = spawn(
      process.execPath,
      ["--import", "tsx", join(import.meta.dirname, "../../bin/main.ts"), "controller"],
      {
        env: {
          ...process.env,
          ...harness.env,
          CUTOVER_REDIS_PREFIX: prefix,
          CUTOVER_PORT: String(port),
          CUTOVER_ROLLOUT_LOCK_TTL_MS: "1500",
          AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
        },
        stdio: ["ignore", "ignore", "pipe"],
      },
    );
    let stderr = "";
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    try {
      await waitForPort(port, 20_000).catch((error: unknown) => {
        throw new Error(`the controller process did not start: ${stderr || String(error)}`);
      });
      void fetch(`http://127.0.0.1:${port}/v1/models/${MODEL}/activate`, {
        method: "POST",
        headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
        body: JSON.stringify({ version: "v1" }),
      }).catch(() => undefined);
      await expect.poll(() => node.received.map((m) => m.type), { timeout: 10_000 }).toEqual(["prepare"]);
    } finally {
      child.kill("SIGKILL");
    }
    const controller = await harness.controller(prefix);
    expect((await controller.fleet.getModelState(MODEL)).rollout).toMatchObject({ target: "v1", phase: "preparing" });
    node.options.onPrepare = "stage";
    const result = await activateWhenFree(controller, "v2", 6_000);
    expect(result.status).toBe(200);
    expect(await controller.fleet.getModelState(MODEL)).toMatchObject({ active: "v2", revision: 1, rollout: null });
  });
});
