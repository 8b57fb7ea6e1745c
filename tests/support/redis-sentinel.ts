/**
 * A Sentinel-managed Redis for a test file, all real processes on free loopback ports: a master, a
 * replica and three sentinels (quorum 2, down-after 1 s), each in a temp dir. `killMaster` SIGKILLs
 * whichever server is master now, `waitForFailover` waits until the sentinels have promoted the
 * other and it takes writes, and `restartKilled` brings the dead one back as a replica of the new
 * master. `url` is the redis+sentinel:// form cutover reads.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { RedisProcess, waitUntil } from "./redis-process.js";
import { tempDir } from "./temp-dir.js";

export const MASTER_NAME = "cutover-test";
/** How long a master must be silent before the sentinels call it down. */
export const DOWN_AFTER_MS = 1_000;

export interface SentinelTestSetup {
  /** redis+sentinel://127.0.0.1:…,127.0.0.1:…,127.0.0.1:…/cutover-test */
  readonly url: string;
  /** The port of the server the sentinels name as master now. */
  masterPort(): Promise<number>;
  /** SIGKILLs the master of the moment; resolves with its port. */
  killMaster(): Promise<number>;
  /** Resolves with the new master's port once the sentinels name another master than `from` and it takes writes. */
  waitForFailover(from: number, timeoutMs?: number): Promise<number>;
  /** SENTINEL FAILOVER: a failover with the master alive, which is demoted to a replica. */
  failover(): Promise<void>;
  /** Starts the killed server again as a replica of the new master; waits until it is in sync and the sentinels list it. */
  restartKilled(): Promise<void>;
  stop(): Promise<void>;
}

/** No persistence; a replica's full sync still writes an RDB file, kept in the temp dir. */
function dataArgs(port: number, dir: string): string[] {
  const persistence = ["--save", "", "--appendonly", "no", "--dir", dir, "--dbfilename", `dump-${port}.rdb`];
  // A new replica syncs at once instead of after the default 5 s wait for others to join it.
  return ["--port", String(port), "--bind", "127.0.0.1", ...persistence, "--repl-diskless-sync-delay", "0"];
}

function sentinelConfig(port: number, dir: string, masterPort: number): string {
  return [
    `port ${port}`,
    "bind 127.0.0.1",
    `dir ${dir}`,
    `sentinel monitor ${MASTER_NAME} 127.0.0.1 ${masterPort} 2`,
    `sentinel down-after-milliseconds ${MASTER_NAME} ${DOWN_AFTER_MS}`,
    `sentinel failover-timeout ${MASTER_NAME} 10000`,
    `sentinel parallel-syncs ${MASTER_NAME} 1`,
    "",
  ].join("\n");
}

/** One entry of SENTINEL REPLICAS: a flat [name, value, …] list. */
function fields(entry: unknown): Map<string, string> {
  const list = Array.isArray(entry) ? entry.map(String) : [];
  return new Map(list.flatMap((name, i) => (i % 2 === 0 ? [[name, list[i + 1] ?? ""] as const] : [])));
}

export async function startRedisSentinel(): Promise<SentinelTestSetup> {
  const work = await tempDir("cutover-sentinel-");
  const first = new RedisProcess((port) => dataArgs(port, work.path));
  const second = new RedisProcess((port) => [
    ...dataArgs(port, work.path),
    "--replicaof",
    "127.0.0.1",
    String(first.port),
  ]);
  const servers = new Map<number, RedisProcess>();
  const sentinels: RedisProcess[] = [];
  let killed: RedisProcess | undefined;
  const stop = async () => {
    await Promise.all([...sentinels, first, second].map((process) => process.kill()));
    await work.cleanup();
  };
  try {
    for (const server of [first, second]) {
      await server.start();
      servers.set(server.port, server);
    }
    for (let i = 0; i < 3; i++) {
      const sentinel = new RedisProcess((port) => {
        // Sentinel rewrites its file (known sentinels, replicas, epochs), so each has its own.
        const file = join(work.path, `sentinel-${i}.conf`);
        writeFileSync(file, sentinelConfig(port, work.path, first.port));
        return [file, "--sentinel"];
      });
      sentinels.push(sentinel);
      await sentinel.start();
    }
  } catch (error) {
    await stop();
    throw error;
  }

  const masterPort = async (): Promise<number> => {
    for (const sentinel of sentinels) {
      const reply = await sentinel.call("SENTINEL", "GET-MASTER-ADDR-BY-NAME", MASTER_NAME).catch(() => undefined);
      if (Array.isArray(reply) && reply.length === 2) return Number(reply[1]);
    }
    throw new Error("no sentinel names a master");
  };
  /**
   * Every sentinel knows the other two and sees one healthy replica (flags just "slave", its link to
   * the master up): a failover can be authorised and has a target Sentinel accepts.
   */
  const ready = () =>
    waitUntil("the sentinels know each other and the replica", async () => {
      for (const sentinel of sentinels) {
        const peers = await sentinel.call("SENTINEL", "SENTINELS", MASTER_NAME);
        const replicas = await sentinel.call("SENTINEL", "REPLICAS", MASTER_NAME);
        if (!Array.isArray(peers) || peers.length !== 2 || !Array.isArray(replicas) || replicas.length !== 1) {
          return false;
        }
        const replica = fields(replicas[0]);
        if (replica.get("flags") !== "slave" || replica.get("master-link-status") !== "ok") return false;
      }
      const master = servers.get(await masterPort());
      const replication = await master?.info("replication");
      return replication?.get("role") === "master" && replication.get("connected_slaves") === "1";
    });
  await ready().catch(async (error: unknown) => {
    await stop();
    throw error;
  });

  return {
    url: `redis+sentinel://${sentinels.map((sentinel) => `127.0.0.1:${sentinel.port}`).join(",")}/${MASTER_NAME}`,
    masterPort,
    async killMaster() {
      const port = await masterPort();
      killed = servers.get(port);
      await killed?.kill();
      return port;
    },
    async waitForFailover(from, timeoutMs = 30_000) {
      let promoted = from;
      await waitUntil(
        `a failover away from ${from}`,
        async () => {
          promoted = await masterPort();
          if (promoted === from) return false;
          return (await servers.get(promoted)?.info("replication"))?.get("role") === "master";
        },
        timeoutMs,
      );
      return promoted;
    },
    async failover() {
      await sentinels[0]?.call("SENTINEL", "FAILOVER", MASTER_NAME);
    },
    async restartKilled() {
      const server = killed;
      killed = undefined;
      if (server === undefined) return;
      // Back as a replica of the new master at once, as a restarted host configured by its operator
      // would; left to the sentinels, the conversion waits about 10 s after they see it again.
      await server.start(["--replicaof", "127.0.0.1", String(await masterPort())]);
      await waitUntil(
        `the restarted server on ${server.port} in sync as a replica`,
        async () => (await server.info("replication")).get("master_link_status") === "up",
        30_000,
      );
      await ready();
    },
    stop,
  };
}
