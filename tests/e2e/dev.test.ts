import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../support/cli.js";
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

/** Starts `cutover dev` as a process and waits for its banner. */
async function startDev(dir: string, port: number, nodePort: number): Promise<Dev> {
  const child = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
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
    ],
    {
      cwd: ROOT,
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
