/**
 * A real redis-server process for a test file, on a free port, keeping nothing on disk. `kill` and
 * `start` stop it hard and bring it back on the same port (empty: nothing is persisted), to test
 * what happens when Redis goes away.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { freePort, waitForPort } from "./free-port.js";

export interface RedisTestServer {
  readonly port: number;
  readonly url: string;
  kill(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export async function startRedisServer(): Promise<RedisTestServer> {
  const port = await freePort();
  let child: ChildProcess | undefined;
  const start = async () => {
    child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], {
      stdio: "ignore",
    });
    child.on("error", (error) => {
      throw new Error(`redis-server could not start (is it installed?): ${error.message}`);
    });
    await waitForPort(port);
  };
  const kill = async () => {
    const running = child;
    child = undefined;
    if (running === undefined || running.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      running.once("exit", () => resolve());
      running.kill("SIGKILL");
    });
  };
  await start();
  return { port, url: `redis://127.0.0.1:${port}`, kill, start, stop: kill };
}
