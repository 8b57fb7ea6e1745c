/**
 * The progressive commands as an operator types them, against a running controller server (its
 * reconcile loop on) and a real node: `activate --canary --manual`, `status`, `promote`, `abort`, and
 * `activate --canary --bake` following the rollout to its end while requests flow.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningController, startControllerServer } from "../../controller/server.js";
import { runCli } from "../support/cli.js";
import { type ControllerHarness, MODEL, startControllerHarness, TOKEN } from "../support/controller-harness.js";
import { freePort } from "../support/free-port.js";
import { loadGenerator, startTestNode, type TestNode } from "../support/node-harness.js";

let harness: ControllerHarness;
let controller: RunningController;
let node: TestNode;
let env: Record<string, string>;
const PREFIX = "cli-progressive:";

beforeAll(async () => {
  harness = await startControllerHarness();
  controller = await startControllerServer({ ...harness.config(PREFIX), port: await freePort() });
  node = await startTestNode(harness, PREFIX, "c1", {});
  env = { CUTOVER_URL: `http://127.0.0.1:${controller.port}`, CUTOVER_TOKEN: TOKEN };
});
afterAll(async () => {
  await node?.close();
  await controller?.close();
  await harness?.stop();
});

describe("cutover activate --canary, promote, abort, status", () => {
  it("--manual holds the first step; status shows it; promote takes it to 100 %; abort ends another", {
    timeout: 90_000,
  }, async () => {
    expect((await runCli(["activate", MODEL, "v1"], env)).code).toBe(0);
    const held = await runCli(["activate", MODEL, "v2", "--canary", "30", "--manual"], env);
    expect([held.code, held.stderr]).toEqual([0, ""]);
    expect(held.stdout).toMatch(
      /^demo: v1 → v2: 30 % \(step 1\/1\), holding: manual: `cutover promote demo` moves on\n/,
    );

    const status = await runCli(["status", MODEL], env);
    expect(status.stdout).toMatch(/\ncanary v1 → v2: 30 % at step 1\/1 \(30, then 100 %\), bake over\nholding: manual/);
    const table = await runCli(["status"], env);
    expect(table.stdout).toMatch(/\ndemo +v1 +- +1 +→ v2 \(30 %\)/);

    const busy = await runCli(["activate", MODEL, "v4"], env);
    expect([busy.code, busy.stderr]).toEqual([
      1,
      expect.stringMatching(
        /^cutover: ROLLOUT_IN_PROGRESS: .*`cutover promote demo` or `cutover abort demo` moves it on\n$/,
      ),
    ]);

    const promoted = await runCli(["promote", MODEL], env);
    expect(promoted.stdout).toMatch(/^demo: v1 → v2: promoted to 100 % after 1 step\(s\)\n/);
    expect((await runCli(["status", MODEL, "--json"], env)).stdout).toMatch(/"active": ?"v2"/);

    expect((await runCli(["activate", MODEL, "v1", "--linear", "25", "--manual"], env)).code).toBe(0);
    const aborted = await runCli(["abort", MODEL], env);
    expect(aborted.stdout).toMatch(/^demo: v2 → v1: aborted to 0 %: aborted by alice\n/);
    const refused = await runCli(["promote", MODEL], env);
    expect([refused.code, refused.stderr]).toEqual([
      1,
      "cutover: INVALID_INPUT: no progressive rollout of demo is in progress (activate --canary or --linear starts one)\n",
    ]);
  });

  it("without --manual, activate follows the rollout step by step to the promotion while requests flow", {
    timeout: 90_000,
  }, async () => {
    const { state } = JSON.parse((await runCli(["status", MODEL, "--json"], env)).stdout) as {
      state: { active: string };
    };
    const from = state.active;
    const to = from === "v1" ? "v2" : "v1";
    const load = loadGenerator([node.url], 2);
    try {
      const followed = await runCli(
        // A few requests per step (this follows the CLI, not the judge): a floor no chance can reach
        // in the median of a few answers, where a 1.2× one would hold the step (inconclusive, exit 4).
        ["activate", MODEL, to, "--canary", "20,60", "--bake", "1s", "--min-requests", "5", "--max-p50-ratio", "10"],
        env,
      );
      expect([followed.code, followed.stderr]).toEqual([0, ""]);
      expect(followed.stdout).toContain(`demo: ${from} → ${to}: 20 % (step 1/2)\n`);
      expect(followed.stdout).toContain("\ndemo: 60 % (step 2/2)\n");
      expect(followed.stdout).toMatch(
        new RegExp(`\\n${from} → ${to}: promoted at revision \\d+\\n {2}20 % \\(step 1\\): pass — candidate `),
      );
    } finally {
      const answers = await load.stop();
      expect(answers.filter((answer) => answer.status !== 200)).toEqual([]);
    }
  });

  it("refuses bad strategy flags before anything is sent, naming the flag", { timeout: 60_000 }, async () => {
    const steps = await runCli(["activate", MODEL, "v2", "--canary", "10,150"], env);
    expect([steps.code, steps.stderr]).toEqual([
      2,
      expect.stringContaining("--canary must be whole percents from 1 to 99"),
    ]);
    const bake = await runCli(["activate", MODEL, "v2", "--canary", "10", "--bake", "soon"], env);
    expect([bake.code, bake.stderr]).toEqual([2, expect.stringContaining("--bake must be a duration")]);
    const order = await runCli(["activate", MODEL, "v2", "--canary", "50,10"], env);
    expect([order.code, order.stderr]).toEqual([1, "cutover: INVALID_INPUT: canary steps must grow: 50,10\n"]);
  });
});
