/**
 * A three-master Redis Cluster for a test file: real `redis-server --cluster-enabled yes` processes
 * on free loopback ports (the cluster bus ports chosen free too, with `--cluster-port`), joined with
 * `redis-cli --cluster create … --cluster-replicas 0 --cluster-yes`, ready once every node says
 * `cluster_state:ok`. Each node keeps an fsync'd append-only file and its nodes.conf in a temp dir,
 * so `kill` and `start` bring it back with its slots and data. `url` is the redis+cluster:// form.
 */
import { spawn } from "node:child_process";
import { freePort } from "./free-port.js";
import { RedisProcess, waitUntil } from "./redis-process.js";
import { tempDir } from "./temp-dir.js";

export interface ClusterTestSetup {
  /** redis+cluster://127.0.0.1:…,127.0.0.1:…,127.0.0.1:… */
  readonly url: string;
  readonly ports: readonly number[];
  /** CLUSTER KEYSLOT of a key. */
  keySlot(key: string): Promise<number>;
  /** The port of the master that serves the key's slot. */
  masterOf(key: string): Promise<number>;
  /** CLUSTER COUNTKEYSINSLOT on that master. */
  keysInSlot(slot: number): Promise<number>;
  /** The port of the node a client's connection with this CLIENT SETNAME name is on, if any. */
  nodeWithClient(name: string): Promise<number | undefined>;
  kill(port: number): Promise<void>;
  start(port: number): Promise<void>;
  /** Resolves once every running node reports cluster_state:ok. */
  waitUntilOk(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

function createCluster(ports: readonly number[]): Promise<void> {
  const args = ["--cluster", "create", ...ports.map((port) => `127.0.0.1:${port}`)];
  return new Promise((resolve, reject) => {
    const cli = spawn("redis-cli", [...args, "--cluster-replicas", "0", "--cluster-yes"], { stdio: "pipe" });
    let output = "";
    cli.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    cli.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    cli.on("error", reject);
    cli.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`redis-cli --cluster create: ${output}`))));
  });
}

/** CLUSTER SLOTS: [[from, to, [host, port, id], …replicas], …] */
function slotOwner(slots: unknown, slot: number): number | undefined {
  if (!Array.isArray(slots)) return undefined;
  for (const range of slots) {
    if (!Array.isArray(range)) continue;
    const [from, to, master] = range as [number, number, unknown];
    if (slot >= from && slot <= to && Array.isArray(master)) return Number(master[1]);
  }
  return undefined;
}

export async function startRedisCluster(): Promise<ClusterTestSetup> {
  const work = await tempDir("cutover-cluster-");
  const busPorts = [await freePort(), await freePort(), await freePort()];
  const processes: RedisProcess[] = [];
  for (let i = 0; i < 3; i++) {
    processes.push(
      new RedisProcess((port) => [
        "--port",
        String(port),
        // The bus port would be port + 10000 by default, which may fall in the ephemeral range.
        "--cluster-port",
        String(busPorts[i]),
        "--bind",
        "127.0.0.1",
        "--cluster-enabled",
        "yes",
        "--cluster-config-file",
        `nodes-${i}.conf`,
        "--cluster-node-timeout",
        "2000",
        "--dir",
        work.path,
        "--appendonly",
        "yes",
        "--appenddirname",
        `aof-${i}`,
        "--appendfsync",
        "always",
        "--save",
        "",
      ]),
    );
  }
  const nodes = new Map<number, RedisProcess>();
  const any = (): RedisProcess => {
    const running = [...nodes.values()].find((node) => node.running);
    if (running === undefined) throw new Error("no cluster node is running");
    return running;
  };
  const stop = async () => {
    await Promise.all(processes.map((process) => process.kill()));
    await work.cleanup();
  };
  const waitUntilOk = (timeoutMs = 30_000) =>
    waitUntil(
      "every cluster node reports cluster_state:ok",
      async () => {
        for (const node of nodes.values()) {
          if (!node.running) continue;
          if (!String(await node.call("CLUSTER", "INFO")).includes("cluster_state:ok")) return false;
        }
        return true;
      },
      timeoutMs,
    );
  try {
    for (const process of processes) {
      await process.start();
      nodes.set(process.port, process);
    }
    await createCluster([...nodes.keys()]);
    await waitUntilOk();
  } catch (error) {
    await stop();
    throw error;
  }

  const keySlot = async (key: string) => Number(await any().call("CLUSTER", "KEYSLOT", key));
  const node = (port: number): RedisProcess => {
    const found = nodes.get(port);
    if (found === undefined) throw new Error(`no cluster node on port ${port}`);
    return found;
  };
  const ports = [...nodes.keys()];
  return {
    url: `redis+cluster://${ports.map((port) => `127.0.0.1:${port}`).join(",")}`,
    ports,
    keySlot,
    async masterOf(key) {
      const slot = await keySlot(key);
      const owner = slotOwner(await any().call("CLUSTER", "SLOTS"), slot);
      if (owner === undefined) throw new Error(`no master serves slot ${slot}`);
      return owner;
    },
    async keysInSlot(slot) {
      const owner = slotOwner(await any().call("CLUSTER", "SLOTS"), slot);
      if (owner === undefined) throw new Error(`no master serves slot ${slot}`);
      return Number(await node(owner).call("CLUSTER", "COUNTKEYSINSLOT", slot));
    },
    async nodeWithClient(name) {
      for (const [port, process] of nodes) {
        if (!process.running) continue;
        const list = String(await process.call("CLIENT", "LIST"));
        if (list.split("\n").some((line) => line.includes(` name=${name} `))) return port;
      }
      return undefined;
    },
    kill: (port) => node(port).kill(),
    start: (port) => node(port).start(),
    waitUntilOk,
    stop,
  };
}
