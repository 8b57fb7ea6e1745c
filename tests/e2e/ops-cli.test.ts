import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningController, startControllerServer } from "../../controller/server.js";
import { runCli } from "../support/cli.js";
import { type ControllerHarness, MODEL, startControllerHarness, TOKEN } from "../support/controller-harness.js";
import { freePort } from "../support/free-port.js";

let harness: ControllerHarness;
let controller: RunningController;
let env: Record<string, string>;
const PREFIX = "cli:";

beforeAll(async () => {
  harness = await startControllerHarness();
  controller = await startControllerServer({ ...harness.config(PREFIX), port: await freePort() });
  env = { CUTOVER_URL: `http://127.0.0.1:${controller.port}`, CUTOVER_TOKEN: TOKEN };
});
afterAll(async () => {
  await controller.close();
  await harness.stop();
});

describe("cutover activate / rollback / status / history / nodes against a running controller", () => {
  it("activates, rolls back, and shows state, history and nodes; --json for machines", async () => {
    await harness.node(PREFIX, "n1", {});
    const activate = await runCli(["activate", MODEL, "v1", "--json"], env);
    expect(activate.code).toBe(0);
    expect(JSON.parse(activate.stdout)).toMatchObject({ to: "v1", revision: 1, confirmed: 1 });

    const second = await runCli(["activate", MODEL, "v2"], env);
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(
      /^demo → v2 at revision 2; 1\/1 node\(s\) confirmed\n {2}n1 {2}promoted {2}load 12 ms {2}warm-up 3 ms\nswitch spread 0 ms\n$/,
    );

    const rollback = await runCli(["rollback", MODEL], env);
    expect(rollback.code).toBe(0);
    expect(rollback.stdout).toMatch(/^demo → v1 at revision 3/);

    const status = await runCli(["status"], env);
    expect(status.stdout).toMatch(/^MODEL +ACTIVE +PREVIOUS +REVISION +ROLLOUT +NODES ON ACTIVE\ndemo +v1 +v2 +3 +- +/);
    const history = await runCli(["history", MODEL, "--json"], env);
    expect((JSON.parse(history.stdout) as { history: { action: string }[] }).history.map((h) => h.action)).toEqual([
      "rollback",
      "activate",
      "activate",
    ]);
    const nodes = await runCli(["nodes"], env);
    expect(nodes.stdout).toMatch(/\nn1 +http:\/\/scripted\/n1 +scripted +demo@v1 /);
  });

  it("fails with one line and exit 1: aborted rollout, missing token, unreachable controller", async () => {
    await harness.node(PREFIX, "broken", { onPrepare: "fail" });
    const aborted = await runCli(["activate", MODEL, "v2"], env);
    expect(aborted.code).toBe(1);
    expect(aborted.stderr).toMatch(
      /^cutover: ROLLOUT_ABORTED: rollout of demo\/v2 aborted, nothing changed: node\(s\) failed to stage v2: broken DIGEST_MISMATCH: scripted failure\n$/,
    );

    const noToken = await runCli(["rollback", MODEL], { CUTOVER_URL: env.CUTOVER_URL ?? "" });
    expect([noToken.code, noToken.stderr]).toEqual([
      1,
      "cutover: INVALID_INPUT: changes need a bearer token: set CUTOVER_TOKEN (one of the controller's CUTOVER_TOKENS)\n",
    ]);

    const down = await runCli(["status"], { CUTOVER_URL: `http://127.0.0.1:${await freePort()}` });
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(
      /^cutover: CONTROLLER_UNREACHABLE: cannot reach the controller at http:\/\/127\.0\.0\.1:\d+/,
    );
  });
});
