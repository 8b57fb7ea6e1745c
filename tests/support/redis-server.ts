/**
 * A real redis-server process for a test file, on a free port. By default it keeps nothing on disk;
 * with `persist` it writes an fsync'd append-only file, so a restart brings the data back. `kill` and
 * `start` stop it hard (SIGKILL) and bring it back on the same port, to test Redis going away;
 * `flushAll` empties it (FLUSHALL), to test Redis losing its data while it stays up.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createRedis } from "../../core/redis/connection.js";
import { freePort, waitForPort } from "./free-port.js";
import { killHard } from "./kill-child.js";
import { tempDir } from "./temp-dir.js";

export interface RedisTestServer {
  readonly port: number;
  readonly url: string;
  kill(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
  flushAll(): Promise<void>;
}

export async function startRedisServer(options: { persist?: boolean } = {}): Promise<RedisTestServer> {
  const port = await freePort();
  const data = options.persist ? await tempDir("cutover-redis-") : undefined;
  const persistence = data
    ? ["--appendonly", "yes", "--appendfsync", "always", "--dir", data.path]
    : ["--appendonly", "no"];
  let child: ChildProcess | undefined;
  const start = async () => {
    child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", ...persistence], {
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
    await killHard(running);
  };
  await start();
  const stop = async () => {
    await kill();
    await data?.cleanup();
  };
  const url = `redis://127.0.0.1:${port}`;
  const flushAll = async () => {
    const client = createRedis({ url, name: "test-flushall" });
    try {
      await client.flushall();
    } finally {
      client.disconnect();
    }
  };
  return { port, url, kill, start, stop, flushAll };
}
