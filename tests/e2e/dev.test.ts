import { type ChildProcess, spawn } from "node:child_process";
import { rm } from "node:fs/promises";
import { connect } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli, TSX_IMPORT } from "../support/cli.js";
import { consecutiveFreePorts } from "../support/free-port.js";
import { infer } from "../support/node-harness.js";
import { tempDir } from "../support/temp-dir.js";

const ROOT = join(import.meta.dirname, "../..");

interface Dev {
  child: ChildProcess;
  stdout: string;
  stderr: string;
  exited: Promise<number | null>;
}

/** Starts `cutover dev` (two nodes) as a process in `cwd` and waits for its banner. */
async function startDev(
  dir: string,
  port: number,
  nodePort: number,
  options: { cwd?: string; args?: readonly string[] } = {},
): Promise<Dev> {
  const child = spawn(
    process.execPath,
    [
      "--import",
      TSX_IMPORT,
      join(ROOT, "bin/main.ts"),
      "dev",
      "--dir",
      dir,
      "--port",
      String(port),
      "--node-port",
      String(nodePort),
      "--nodes",
      "2",
      ...(options.args ?? []),
    ],
    {
      cwd: options.cwd ?? ROOT,
      env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  const dev: Dev = {
    child,
    stdout: "",
    stderr: "",
    exited: new Promise((resolve) => child.on("exit", (code) => resolve(code))),
  };
  child.stdout?.on("data", (chunk: Buffer) => {
    dev.stdout += chunk.toString();
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    dev.stderr += chunk.toString();
  });
  const deadline = Date.now() + 30_000;
  while (!dev.stdout.includes("Ctrl-C stops everything")) {
    if (Date.now() > deadline || child.exitCode !== null)
      throw new Error(`cutover dev did not come up:\n${dev.stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return dev;
}

describe("npm start (cutover dev): the whole product in one process, no Redis, no S3", () => {
  let work: Awaited<ReturnType<typeof tempDir>>;
  let ports: { controller: number; node: number };
  beforeAll(async () => {
    work = await tempDir();
    // Three consecutive ports: the controller, then the two nodes (cutover dev numbers nodes upwards).
    const base = await consecutiveFreePorts(3);
    ports = { controller: base, node: base + 1 };
  });
  afterAll(() => work.cleanup());

  it("first run: makes a key, publishes the demo, serves v1; the printed commands flip and roll back", async () => {
    const dir = join(work.path, ".cutover");
    const dev = await startDev(dir, ports.controller, ports.node);
    try {
      expect(dev.stderr).toMatch(/made a signing key/);
      expect(dev.stderr).toMatch(/published demo\/v1\npublished demo\/v2\npublished demo\/v3/);
      const exported = /export (CUTOVER_URL=\S+) (CUTOVER_TOKEN=\S+)/.exec(dev.stdout);
      const env = Object.fromEntries((exported?.slice(1) ?? []).map((pair) => pair.split("=") as [string, string]));
      const curl = /curl -s (\S+)\/v2\/models\/demo\/infer -d '(.+)'/.exec(dev.stdout);
      const nodeUrl = curl?.[1] ?? "";
      expect(JSON.parse(curl?.[2] ?? "null")).toMatchObject({ inputs: [{ name: "features" }] });
      const nodes = [nodeUrl, `http://127.0.0.1:${ports.node + 1}`];

      for (const url of nodes) expect((await infer(url)).version).toBe("v1");
      const activated = await runCli(["activate", "demo", "v2"], env);
      expect([activated.code, activated.stdout.split("\n")[0]]).toEqual([
        0,
        "demo → v2 at revision 2; 2/2 node(s) confirmed",
      ]);
      for (const url of nodes) expect((await infer(url)).version).toBe("v2");
      const rolledBack = await runCli(["rollback", "demo"], env);
      expect(rolledBack.stdout).toMatch(/^demo → v1 at revision 3; 2\/2 node\(s\) confirmed\n.*load 0 ms/);
      for (const url of nodes) expect((await infer(url)).version).toBe("v1");
      expect((await runCli(["history", "demo", "--json"], env)).code).toBe(0);
    } finally {
      dev.child.kill("SIGINT");
    }
    expect(await dev.exited).toBe(0);
  });

  it("a port already in use is a one-line error, not a stack trace", async () => {
    const { createServer } = await import("node:net");
    const blocker = createServer();
    const port = await new Promise<number>((resolve) =>
      blocker.listen(0, "127.0.0.1", () => resolve((blocker.address() as { port: number }).port)),
    );
    try {
      const run = await runCli([
        "dev",
        "--dir",
        join(work.path, "busy"),
        "--port",
        String(port),
        "--node-port",
        String(ports.node),
      ]);
      expect(run.code).toBe(1);
      expect(run.stderr.trim().split("\n").at(-1)).toBe(
        `cutover: INVALID_CONFIG: port ${port} on 127.0.0.1 is already in use (set CUTOVER_PORT or --port)`,
      );
    } finally {
      blocker.close();
    }
  });

  it("a second run reuses what the first published", async () => {
    const dev = await startDev(join(work.path, ".cutover"), ports.controller, ports.node);
    try {
      expect(dev.stderr).not.toMatch(/made a signing key|published demo/);
      expect((await infer(`http://127.0.0.1:${ports.node}`)).version).toBe("v1");
    } finally {
      dev.child.kill("SIGINT");
    }
    expect(await dev.exited).toBe(0);
  });
});

/** The environment the banner's `export` line gives (CUTOVER_URL, CUTOVER_TOKEN, CUTOVER_STORE_DIR). */
function bannerEnv(dev: Dev): Record<string, string> {
  const exported = /export (CUTOVER_URL=\S+) (CUTOVER_TOKEN=\S+) (CUTOVER_STORE_DIR=\S+)/.exec(dev.stdout);
  return Object.fromEntries((exported?.slice(1) ?? []).map((pair) => pair.split("=") as [string, string]));
}

/** True when something accepts a TCP connection on host:port. */
function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

describe("cutover dev keeps its state across restarts", () => {
  let work: Awaited<ReturnType<typeof tempDir>>;
  let ports: { controller: number; node: number };
  beforeAll(async () => {
    work = await tempDir();
    const base = await consecutiveFreePorts(3);
    ports = { controller: base, node: base + 1 };
  });
  afterAll(() => work.cleanup());

  it("killed (SIGKILL) and restarted: the same revision, active version and history; the next activation is confirmed", async () => {
    // A relative --dir, as people type it: messages show it as given, never resolved to an absolute path.
    const first = await startDev(".cutover", ports.controller, ports.node, { cwd: work.path });
    const env = bannerEnv(first);
    expect(env.CUTOVER_STORE_DIR).toBe(".cutover/store");
    try {
      expect(first.stderr).toMatch(
        /made a signing key: \.cutover\/keys\/cutover\.key \(trusted: \.cutover\/keys\/cutover\.pub\)/,
      );
      expect(first.stdout).toMatch(/state in \.cutover\/state\.json/);
      for (const version of ["v2", "v1"]) {
        expect((await runCli(["activate", "demo", version], env, work.path)).code).toBe(0);
      }
      const missing = await runCli(["activate", "demo", "v9"], env, work.path);
      expect(missing.stderr).toBe("cutover: NOT_FOUND: version demo/v9 is not published in .cutover/store\n");
      expect(first.stderr + first.stdout).not.toContain(work.path);
    } finally {
      first.child.kill("SIGKILL");
    }
    await first.exited;

    const second = await startDev(".cutover", ports.controller, ports.node, { cwd: work.path });
    try {
      const status = await runCli(["status", "demo", "--json"], env, work.path);
      expect(JSON.parse(status.stdout)).toMatchObject({ state: { active: "v1", previous: "v2", revision: 3 } });
      const history = JSON.parse((await runCli(["history", "demo", "--json"], env, work.path)).stdout) as {
        history: { to: string; revision: number }[];
      };
      expect(history.history.map((entry) => [entry.to, entry.revision])).toEqual([
        ["v1", 3],
        ["v2", 2],
        ["v1", 1],
      ]);
      expect(second.stderr).not.toMatch(/at revision 1/);
      for (const node of [ports.node, ports.node + 1])
        expect((await infer(`http://127.0.0.1:${node}`)).version).toBe("v1");
      for (const [version, revision] of [
        ["v2", 4],
        ["v1", 5],
      ] as const) {
        const next = await runCli(["activate", "demo", version], env, work.path);
        expect([next.code, next.stdout.split("\n")[0]]).toEqual([
          0,
          `demo → ${version} at revision ${revision}; 2/2 node(s) confirmed`,
        ]);
      }
    } finally {
      second.child.kill("SIGKILL");
    }
    await second.exited;

    // Without its state file dev starts over: v1 at revision 1. Its nodes applied v1 at revision 5; they follow.
    await rm(join(work.path, ".cutover/state.json"));
    const third = await startDev(".cutover", ports.controller, ports.node, { cwd: work.path });
    try {
      expect(third.stderr).toMatch(/demo → v1 at revision 1; 2\/2 node\(s\) confirmed/);
      expect(third.stderr).toMatch(/the state store lost its data; following the state/);
      const nodes = JSON.parse((await runCli(["nodes", "--json"], env, work.path)).stdout) as {
        nodes: { models: Record<string, { active: string; revision: number }> }[];
      };
      expect(nodes.nodes.map((node) => node.models.demo)).toMatchObject([
        { active: "v1", revision: 1 },
        { active: "v1", revision: 1 },
      ]);
      const next = await runCli(["activate", "demo", "v2"], env, work.path);
      expect([next.code, next.stdout.split("\n")[0]]).toEqual([0, "demo → v2 at revision 2; 2/2 node(s) confirmed"]);
    } finally {
      third.child.kill("SIGINT");
    }
    expect(await third.exited).toBe(0);
  }, 120_000);

  it("listens on 127.0.0.1 only (controller and nodes) unless --host says otherwise", async () => {
    // Linux routes all of 127.0.0.0/8 to loopback: a listener on every address answers on 127.0.0.2 too.
    const local = await startDev(join(work.path, "host"), ports.controller, ports.node);
    try {
      for (const port of [ports.controller, ports.node, ports.node + 1]) {
        expect(await accepts("127.0.0.1", port)).toBe(true);
        expect(await accepts("127.0.0.2", port)).toBe(false);
      }
    } finally {
      local.child.kill("SIGINT");
    }
    expect(await local.exited).toBe(0);

    const everywhere = await startDev(join(work.path, "host"), ports.controller, ports.node, {
      args: ["--host", "0.0.0.0"],
    });
    try {
      expect(everywhere.stdout).toMatch(/controller http:\/\/127\.0\.0\.1:\d+, node\(s\) http:\/\/127\.0\.0\.1:/);
      for (const port of [ports.controller, ports.node, ports.node + 1])
        expect(await accepts("127.0.0.2", port)).toBe(true);
    } finally {
      everywhere.child.kill("SIGINT");
    }
    expect(await everywhere.exited).toBe(0);
  });
});
