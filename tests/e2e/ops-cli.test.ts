import { createServer } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningController, startControllerServer } from "../../controller/server.js";
import { runCli } from "../support/cli.js";
import { type ControllerHarness, MODEL, startControllerHarness, TOKEN } from "../support/controller-harness.js";
import { freePort } from "../support/free-port.js";
import { type SilentServer, startSilentServer } from "../support/silent-server.js";

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
      /^demo → v2 at revision 2; 1\/1 node\(s\) confirmed\n {2}n1 {2}promoted {2}load 12 ms {2}warm-up 3 ms\nswitch spread 0\.0 ms\n$/,
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

describe("activate and rollback tell a pipeline whether the fleet serves the version", () => {
  const servers: RunningController[] = [];
  afterAll(() => Promise.all(servers.map((server) => server.close())));

  /** A controller of its own on `prefix`, so that this test alone decides which nodes are live. */
  async function controllerOn(prefix: string): Promise<Record<string, string>> {
    const server = await startControllerServer(
      { ...harness.config(prefix), port: await freePort() },
      { confirmTimeoutMs: 1_000 },
    );
    servers.push(server);
    return { CUTOVER_URL: `http://127.0.0.1:${server.port}`, CUTOVER_TOKEN: TOKEN };
  }

  async function active(on: Record<string, string>): Promise<string | null> {
    const status = await runCli(["status", MODEL, "--json"], on);
    return (JSON.parse(status.stdout) as { state: { active: string | null } }).state.active;
  }

  it("no live node: exit 1 NOT_ENOUGH_NODES and nothing moves; --allow-no-nodes sets the pointer; --min-nodes refuses", async () => {
    const on = await controllerOn("cli-empty:");
    const refused = await runCli(["activate", MODEL, "v1"], on);
    expect([refused.code, refused.stdout, refused.stderr]).toEqual([
      1,
      "",
      "cutover: NOT_ENOUGH_NODES: no live node serves demo; nothing changed (start a node, or allowNoNodes / --allow-no-nodes to set the pointer before a fleet starts)\n",
    ]);
    expect(await active(on)).toBeNull();

    const allowed = await runCli(["activate", MODEL, "v1", "--allow-no-nodes"], on);
    expect([allowed.code, allowed.stdout]).toEqual([
      0,
      "demo → v1 at revision 1; no live node serves demo (allowed): nodes load it when they start\n",
    ]);
    expect(await active(on)).toBe("v1");

    await harness.node("cli-empty:", "e1", {});
    const tooFew = await runCli(["activate", MODEL, "v2", "--min-nodes", "2"], on);
    expect([tooFew.code, tooFew.stderr]).toEqual([
      1,
      "cutover: NOT_ENOUGH_NODES: 1 live node(s) serve demo (e1), fewer than the 2 required (minNodes / --min-nodes); nothing changed\n",
    ]);
    const badFlag = await runCli(["rollback", MODEL, "--min-nodes", "0"], on);
    expect(badFlag.code).toBe(2);
    expect(badFlag.stderr).toMatch(/--min-nodes must be an integer ≥ 1/);
    expect(await active(on)).toBe("v1");
  }, 60_000);

  it("a node that staged but did not confirm: exit 3, the node named in text and --json, the pointer moved, history says so", async () => {
    const on = await controllerOn("cli-mute:");
    await harness.node("cli-mute:", "m1", {});
    await harness.node("cli-mute:", "m2", { confirm: false });

    const text = await runCli(["activate", MODEL, "v1"], on);
    expect(text.code).toBe(3);
    expect(text.stdout).toBe(
      [
        "demo → v1 at revision 1; 1/2 node(s) confirmed, not confirmed: m2 (no confirmation within 1000 ms)",
        "  m1  promoted  load 12 ms  warm-up 3 ms",
        "  m2  unconfirmed  load 12 ms  warm-up 3 ms  no confirmation within 1000 ms",
        "switch spread 0.0 ms",
        "",
      ].join("\n"),
    );
    expect(text.stderr).toBe(
      "cutover: PROMOTE_UNCONFIRMED: demo → v1 at revision 1, but 1 of 2 node(s) did not confirm serving it: m2\n",
    );

    const json = await runCli(["activate", MODEL, "v2", "--json"], on);
    expect(json.code).toBe(3);
    expect(JSON.parse(json.stdout)).toMatchObject({
      to: "v2",
      revision: 2,
      confirmed: 1,
      fullyConfirmed: false,
      unconfirmed: ["m2"],
    });
    expect(await active(on)).toBe("v2");

    const history = await runCli(["history", MODEL], on);
    expect(history.stdout.split("\n")[1]).toMatch(
      / activate +alice +v1 +v2 +promoted +2 +2 +1\/2 node\(s\) confirmed; not confirmed: m2 \(no confirmation within 1000 ms\)$/,
    );

    const rollback = await runCli(["rollback", MODEL, "--json"], on);
    expect(rollback.code).toBe(3);
    expect(JSON.parse(rollback.stdout)).toMatchObject({ to: "v1", revision: 3, unconfirmed: ["m2"] });
    expect(rollback.stderr).toMatch(/^cutover: PROMOTE_UNCONFIRMED: .*: m2\n$/);
  }, 60_000);

  it("--help of activate and rollback lists the exit codes", async () => {
    for (const command of ["activate", "rollback"]) {
      const help = await runCli([command, "--help"]);
      expect(help.code, command).toBe(0);
      expect(help.stdout).toMatch(/--allow-no-nodes/);
      expect(help.stdout).toMatch(/--min-nodes <n>/);
      expect(help.stdout).toMatch(
        /\n {2}3 {2}promoted \(the pointer moved\), but not every node that staged it confirmed/,
      );
    }
  });
});

describe("a controller that takes the request and never answers", () => {
  let silent: SilentServer;
  beforeAll(async () => {
    silent = await startSilentServer();
  });
  afterAll(() => silent.stop());

  it("a read fails with one line once CUTOVER_CLIENT_TIMEOUT_MS has passed", async () => {
    const started = Date.now();
    const run = await runCli(["status"], { CUTOVER_URL: silent.httpUrl, CUTOVER_CLIENT_TIMEOUT_MS: "500" });
    expect([run.code, run.stdout, run.stderr]).toEqual([
      1,
      "",
      `cutover: CONTROLLER_UNREACHABLE: cannot reach the controller at ${silent.httpUrl}/: GET /v1/models: no answer within 0.5 s\n`,
    ]);
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it("activate waits its --timeout plus the margin, then says the rollout may still be running", async () => {
    const run = await runCli(["activate", MODEL, "v2", "--timeout", "0.5"], {
      CUTOVER_URL: silent.httpUrl,
      CUTOVER_TOKEN: TOKEN,
      CUTOVER_CLIENT_TIMEOUT_MS: "500",
    });
    expect([run.code, run.stderr]).toEqual([
      1,
      `cutover: CONTROLLER_UNREACHABLE: cannot reach the controller at ${silent.httpUrl}/: POST /v1/models/demo/activate: no answer within 1 s; the rollout may still be running: check with cutover status demo\n`,
    ]);
  });
});

describe("activate waits as long as its --timeout says", () => {
  it("takes an answer that comes after CUTOVER_CLIENT_TIMEOUT_MS but within --timeout plus it", async () => {
    const slow = createServer((request, response) => {
      request.resume();
      setTimeout(() => {
        response.setHeader("content-type", "application/json");
        response.end(JSON.stringify({ model: MODEL, to: "v2", revision: 7, fullyConfirmed: true }));
      }, 1_500);
    });
    await new Promise<void>((resolve) => slow.listen(0, "127.0.0.1", resolve));
    const address = slow.address();
    const port = typeof address === "object" && address !== null ? address.port : 0;
    try {
      const run = await runCli(["activate", MODEL, "v2", "--timeout", "2", "--json"], {
        CUTOVER_URL: `http://127.0.0.1:${port}`,
        CUTOVER_TOKEN: TOKEN,
        CUTOVER_CLIENT_TIMEOUT_MS: "500",
      });
      expect(run.stderr).toBe("");
      expect(run.code).toBe(0);
      expect(JSON.parse(run.stdout)).toMatchObject({ to: "v2", revision: 7 });
    } finally {
      await new Promise<void>((resolve) => slow.close(() => resolve()));
    }
  });
});

describe("a password written in CUTOVER_URL is never printed", () => {
  it("the unreachable error shows the URL with its password replaced", async () => {
    const port = await freePort();
    const run = await runCli(["status"], { CUTOVER_URL: `http://ops:hunter2@127.0.0.1:${port}` });
    expect(run.code).toBe(1);
    expect(run.stderr).not.toMatch(/hunter2/);
    expect(run.stderr).toMatch(
      new RegExp(
        `^cutover: CONTROLLER_UNREACHABLE: cannot reach the controller at http://ops:\\*\\*\\*@127\\.0\\.0\\.1:${port}/ `,
      ),
    );
  });
});

describe("a wrong flag value is a wrong command line: exit 2, the flag named, nothing sent", () => {
  it.each([
    [["activate", MODEL, "v2", "--expect-revision", "x"], "--expect-revision must be an integer ≥ 0"],
    [["activate", MODEL, "v2", "--expect-revision", "1.5"], "--expect-revision must be an integer ≥ 0"],
    [["activate", MODEL, "v2", "--timeout", "abc"], "--timeout must be a number of seconds from 0.1 to 3600"],
    [["history", MODEL, "--limit", "abc"], "--limit must be an integer from 1 to 1000"],
    [["dev", "--port", "abc"], "--port must be an integer from 0 to 65535"],
    [["dev", "--node-port", "abc"], "--node-port must be an integer from 0 to 65535"],
    [["dev", "--nodes", "abc"], "--nodes must be an integer from 1 to 16"],
    [["dev", "--nodes", "0"], "--nodes must be an integer from 1 to 16"],
  ])("%j", async (args, message) => {
    const silent = await startSilentServer();
    try {
      const run = await runCli(args, { CUTOVER_URL: silent.httpUrl, CUTOVER_TOKEN: TOKEN });
      expect(run.code).toBe(2);
      expect(run.stderr).toContain(message);
      expect(silent.accepted()).toBe(0);
    } finally {
      await silent.stop();
    }
  });
});
