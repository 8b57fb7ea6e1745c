/**
 * Scale simulation on one machine: 10, 25 and 50 inference nodes serving one model, each a real
 * `NodeAgent` + OIP server with Redis connections of its own (two each: commands and pub/sub), its
 * own cache folder and onnxruntime sessions, all in this process; redis-server, s3rver and the
 * controller (compiled, `cutover controller`) are processes of their own. Nodes run with the
 * production defaults (resync every 5 s, heartbeat TTL 15 s → a heartbeat every 5 s).
 *
 * Per node count: a cold rollout (every node downloads, verifies, loads and warms v2 from the same
 * S3 server at once: the download fan-in), then warm flips (v1 ⇄ v2, both resident). For each:
 * the API call's duration, the messages on the model's two channels (a subscriber of our own counts
 * them by type), PUBLISH deliveries (messages × subscribers), and the Redis commands the server ran
 * (INFO commandstats before and after), next to the background rate of heartbeats and resyncs
 * measured over an idle window.
 */
import { join } from "node:path";
import { Redis } from "ioredis";
import { parseNodeConfig } from "../../core/config.js";
import { StateKeys } from "../../core/state-keys.js";
import { type RunningNode, startNode } from "../../inference/server.js";
import { MODEL } from "../support/controller-harness.js";
import { startFleet } from "../support/fleet-harness.js";
import { tempDir } from "../support/temp-dir.js";
import { percentile } from "./fleet.js";

export interface ScalePoint {
  readonly nodes: number;
  /** ms until every node is up and serving v1 (each fetched it at start). */
  readonly joinMs: number;
  readonly coldMs: number;
  readonly coldConfirmed: number;
  readonly warmP50Ms: number;
  readonly warmMaxMs: number;
  readonly warmSpreadP50Ms: number;
  /** Per warm flip: messages published on the model's channels, by type. */
  readonly messages: Readonly<Record<string, number>>;
  readonly deliveries: number;
  /** Per warm flip: Redis commands run, all clients, and the same less the background rate. */
  readonly commands: number;
  readonly commandsNet: number;
  /** Commands by name per warm flip (the background not taken off). */
  readonly commandsByName: Readonly<Record<string, number>>;
  /** Commands per second with no rollout (heartbeats, resyncs), all nodes. */
  readonly idleCommandsPerSecond: number;
  readonly coldCommands: number;
}

async function commandStats(redis: Redis): Promise<Map<string, number>> {
  const info = await redis.info("commandstats");
  const stats = new Map<string, number>();
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) stats.set(match[1] ?? "", Number(match[2]));
  return stats;
}

function delta(before: Map<string, number>, after: Map<string, number>): Map<string, number> {
  const out = new Map<string, number>();
  for (const [name, calls] of after) {
    const diff = calls - (before.get(name) ?? 0);
    if (diff > 0) out.set(name, diff);
  }
  return out;
}

const total = (stats: Map<string, number>) => [...stats.values()].reduce((sum, n) => sum + n, 0);

export async function benchScale(options: {
  nodeCounts: readonly number[];
  warmFlips: number;
  log: (line: string) => void;
}): Promise<ScalePoint[]> {
  const points: ScalePoint[] = [];
  for (const count of options.nodeCounts) points.push(await scalePoint(count, options.warmFlips, options.log));
  return points;
}

async function scalePoint(count: number, warmFlips: number, log: (line: string) => void): Promise<ScalePoint> {
  const fleet = await startFleet({ nodes: 0, compiled: true });
  const work = await tempDir("cutover-scale-");
  const nodes: RunningNode[] = [];
  const admin = new Redis(fleet.redis.url);
  const listener = new Redis(fleet.redis.url);
  try {
    // The pointer first, then the nodes join and load it.
    await fleet.activate("v1", { allowNoNodes: true });
    const joinStarted = performance.now();
    const env = {
      ...fleet.env,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
      CUTOVER_REDIS_URL: fleet.redis.url,
      CUTOVER_S3_ENDPOINT: fleet.s3.endpoint,
      CUTOVER_MODELS: MODEL,
      CUTOVER_INTRA_OP_THREADS: "1",
    };
    Object.assign(process.env, {
      AWS_ACCESS_KEY_ID: fleet.env.AWS_ACCESS_KEY_ID,
      AWS_SECRET_ACCESS_KEY: fleet.env.AWS_SECRET_ACCESS_KEY,
    });
    const quiet = () => {};
    for (let started = 0; started < count; started += 10) {
      const batch = Array.from({ length: Math.min(10, count - started) }, (_, i) => {
        const id = `s${started + i + 1}`;
        const config = parseNodeConfig(
          // Light agents: the control plane is what this measures, so each runs its sessions on the main
          // thread (dozens of agents share this process; a worker thread each would measure thread start-up).
          { ...env, CUTOVER_NODE_ID: id, CUTOVER_CACHE_DIR: join(work.path, id), CUTOVER_INSTANCES: "0" },
          "scale-bench",
        );
        return startNode({ ...config, port: 0 }, { log: quiet });
      });
      nodes.push(...(await Promise.all(batch)));
    }
    const serving = () => nodes.every((node) => node.agent.slots.get(MODEL)?.active?.version === "v1");
    while (!serving()) await new Promise((resolve) => setTimeout(resolve, 50));
    const joinMs = performance.now() - joinStarted;
    log(`scale ${count}: ${count} nodes serving v1 after ${joinMs.toFixed(0)} ms`);

    // Count every message on the model's channels, by type.
    const keys = new StateKeys(fleet.env.CUTOVER_REDIS_PREFIX ?? "");
    const channels = [keys.commandChannel(MODEL), keys.reportChannel(MODEL)];
    const messages = new Map<string, number>();
    await listener.subscribe(...channels);
    listener.on("message", (_channel: string, text: string) => {
      const type = (JSON.parse(text) as { type?: string }).type ?? "?";
      messages.set(type, (messages.get(type) ?? 0) + 1);
    });
    const subscribers = async () => {
      const reply = (await admin.call("PUBSUB", "NUMSUB", ...channels)) as (string | number)[];
      return new Map(channels.map((channel, i) => [channel, Number(reply[2 * i + 1])]));
    };
    const numsub = await subscribers();

    // The background: heartbeats and resyncs with no rollout.
    const idleBefore = await commandStats(admin);
    const idleMs = 10_000;
    await new Promise((resolve) => setTimeout(resolve, idleMs));
    const idleCommandsPerSecond = (total(delta(idleBefore, await commandStats(admin))) - 1) / (idleMs / 1000);

    // Cold: every node fetches, verifies, loads and warms v2 at once.
    let before = await commandStats(admin);
    const cold = await fleet.activate("v2", { timeoutMs: 120_000 });
    if (cold.status !== 200) throw new Error(`cold rollout failed: ${JSON.stringify(cold.body)}`);
    const coldCommands = total(delta(before, await commandStats(admin))) - 1;
    const coldMs = Number(cold.body.durationMs);
    log(`scale ${count}: cold rollout ${coldMs} ms, ${String(cold.body.confirmed)} confirmed`);

    // Warm flips: both versions resident on every node.
    messages.clear();
    const durations: number[] = [];
    const byName = new Map<string, number>();
    let commands = 0;
    let commandsNet = 0;
    for (let i = 0; i < warmFlips; i++) {
      before = await commandStats(admin);
      const started = performance.now();
      const flip = await fleet.activate(i % 2 === 0 ? "v1" : "v2");
      const ms = performance.now() - started;
      if (flip.status !== 200 || flip.body.confirmed !== count)
        throw new Error(`warm flip ${i} failed: ${JSON.stringify(flip.body)}`);
      const used = delta(before, await commandStats(admin));
      used.set("info", (used.get("info") ?? 1) - 1);
      for (const [name, calls] of used) byName.set(name, (byName.get(name) ?? 0) + calls);
      commands += total(used);
      commandsNet += total(used) - (idleCommandsPerSecond * ms) / 1000;
      durations.push(Number(flip.body.durationMs));
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
    const response = await fetch(`${fleet.controller.url}/v1/models/${MODEL}/history?limit=${warmFlips}`);
    const { history } = (await response.json()) as { history: { switchSpreadMs?: number }[] };
    const spreads = history.flatMap((entry) => (entry.switchSpreadMs === undefined ? [] : [entry.switchSpreadMs]));
    const perFlip = (n: number) => n / warmFlips;
    const published = Object.fromEntries([...messages].map(([type, n]) => [type, perFlip(n)]));
    const commandMessages =
      (messages.get("prepare") ?? 0) + (messages.get("promote") ?? 0) + (messages.get("abort") ?? 0);
    const reportMessages = [...messages].filter(([type]) => !["prepare", "promote", "abort"].includes(type));
    // Commands reach every node (less our own listener); reports reach the controller alone (it
    // subscribes to a model's reports while that model's rollout runs).
    const deliveries =
      perFlip(commandMessages) * ((numsub.get(channels[0] ?? "") ?? 1) - 1) +
      perFlip(reportMessages.reduce((sum, [, n]) => sum + n, 0));
    log(`scale ${count}: warm flip p50 ${percentile(durations, 50)} ms, ${perFlip(commands).toFixed(0)} commands`);
    return {
      nodes: count,
      joinMs,
      coldMs,
      coldConfirmed: Number(cold.body.confirmed),
      warmP50Ms: percentile(durations, 50),
      warmMaxMs: Math.max(...durations),
      warmSpreadP50Ms: percentile(spreads, 50),
      messages: published,
      deliveries,
      commands: perFlip(commands),
      commandsNet: perFlip(commandsNet),
      commandsByName: Object.fromEntries([...byName].map(([name, n]) => [name, perFlip(n)])),
      idleCommandsPerSecond,
      coldCommands,
    };
  } finally {
    listener.disconnect();
    admin.disconnect();
    await Promise.all(nodes.map((node) => node.close()));
    await fleet.stop();
    await work.cleanup();
  }
}
