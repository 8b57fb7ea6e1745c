/**
 * One `redis-server` process for the multi-process test setups (Sentinel, Cluster): started on a
 * free port with the arguments its setup builds for that port, killed hard (SIGKILL) and started
 * again on the same port, and asked one command at a time over a short-lived connection. A start
 * counts only once the server on the port reports this process's pid: a port chosen free can be
 * taken by another test's server before this one binds it, and then a fresh port is tried.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createRedis } from "../../core/redis/connection.js";
import { freePort } from "./free-port.js";
import { killHard } from "./kill-child.js";

export class RedisProcess {
  private child: ChildProcess | undefined;
  private boundPort: number | undefined;

  /** `argsFor(port)`: the redis-server arguments (or config file written) for that port. */
  constructor(private readonly argsFor: (port: number) => string[]) {}

  get port(): number {
    if (this.boundPort === undefined) throw new Error("this redis-server has not started yet");
    return this.boundPort;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null;
  }

  /**
   * The first start picks a free port (trying again if it was taken meanwhile); later ones reuse it.
   * `extraArgs` are added to this start only (a restarted master told to come back as a replica).
   */
  async start(extraArgs: readonly string[] = []): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const port = this.boundPort ?? (await freePort());
      const child = spawn("redis-server", [...this.argsFor(port), ...extraArgs], { stdio: "ignore" });
      if (await listening(child, port)) {
        this.child = child;
        this.boundPort = port;
        return;
      }
      if (this.boundPort !== undefined || attempt === 5) {
        throw new Error(`redis-server could not listen on port ${port} (taken by another process?)`);
      }
    }
  }

  /** SIGKILL, as a crash or a lost machine; resolves once the process is gone. */
  async kill(): Promise<void> {
    const running = this.child;
    this.child = undefined;
    await killHard(running);
  }

  /** One command on a fresh plain connection (never through Sentinel or Cluster routing). */
  call(...args: (string | number)[]): Promise<unknown> {
    return callOn(this.port, args);
  }

  /** INFO `section` as a map of its `name:value` lines. */
  async info(section: string): Promise<Map<string, string>> {
    return parseInfo(String(await this.call("INFO", section)));
  }
}

async function callOn(port: number, args: (string | number)[], timeoutMs = 2_000): Promise<unknown> {
  const client = createRedis({ url: `redis://127.0.0.1:${port}`, name: "test-admin", timeoutMs });
  try {
    const [command, ...rest] = args;
    return await client.call(String(command), ...rest);
  } finally {
    client.disconnect();
  }
}

function parseInfo(text: string): Map<string, string> {
  return new Map(
    text
      .split(/\r?\n/)
      .filter((line) => line.includes(":") && !line.startsWith("#"))
      .map((line) => [line.slice(0, line.indexOf(":")), line.slice(line.indexOf(":") + 1)] as const),
  );
}

/** True once the server on `port` is `child`; false if `child` exits first or another process has the port. */
async function listening(child: ChildProcess, port: number): Promise<boolean> {
  let spawnError: Error | undefined;
  child.once("error", (error) => (spawnError = error));
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (spawnError !== undefined)
      throw new Error(`redis-server could not start (is it installed?): ${spawnError.message}`);
    if (child.exitCode !== null || child.signalCode !== null) return false;
    const info = await callOn(port, ["INFO", "server"], 500).then(
      (reply) => parseInfo(String(reply)),
      () => undefined,
    );
    if (info !== undefined) {
      if (Number(info.get("process_id")) === child.pid) return true;
      child.kill("SIGKILL");
      return false;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  child.kill("SIGKILL");
  throw new Error(`redis-server did not answer on port ${port} within 15 s`);
}

/** Polls `check` every 50 ms until it returns true (errors count as false), or fails after `timeoutMs`. */
export async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`${what}: not so after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
