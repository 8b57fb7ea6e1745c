/**
 * Scale simulation on one machine: 10 → 200 light node agents on one model (tests/bench/agent-process.ts,
 * real protocol participants with two Redis connections each, several per child process), beside a
 * constant group of bystander agents serving another model, against a real redis-server and a real
 * `cutover controller` (compiled) — processes of their own. Agents run the production timing (heartbeat
 * TTL 15 s, a heartbeat every 5 s and at each change, a state re-read every 5 s).
 *
 * Per agent count: warm flips (v1 ⇄ v2; API call → every node confirmed, client side), the Redis
 * commands and bytes each flip cost (the server's own counters, with the background rate measured over
 * an idle window taken off), the messages on the model's channels, and what one read of the model's
 * nodes costs from the index and from every record.
 */
import { Redis } from "ioredis";
import { nodeServes } from "../../core/model-state.js";
import { createRedis } from "../../core/redis/connection.js";
import { RedisFleetState } from "../../core/redis/fleet-state.js";
import { StateKeys } from "../../core/state-keys.js";
import { MODEL } from "../support/controller-harness.js";
import { type Fleet, startFleet } from "../support/fleet-harness.js";
import { type RedisUsage, readCounters, usageBetween } from "../support/redis-counters.js";
import { AgentPool } from "./agent-pool.js";
import { percentile } from "./fleet.js";

/** What one read of a model's nodes cost, averaged over several. */
export interface ReadCost {
  /** Records fetched from Redis per read. */
  readonly records: number;
  readonly commands: number;
  readonly bytes: number;
  readonly ms: number;
}

export interface ScalePoint {
  readonly nodes: number;
  readonly bystanders: number;
  /** Client-side ms of each measured flip: API call → response with every node confirmed. */
  readonly flipMs: readonly number[];
  /** First → last node serving the new version (the controller's history), p50. */
  readonly spreadP50Ms: number;
  /** Per flip: messages on the model's channels by type, and their deliveries. */
  readonly messages: Readonly<Record<string, number>>;
  readonly deliveries: number;
  /** Per flip, all clients, the background rate taken off. */
  readonly commands: number;
  readonly outputBytes: number;
  /** Per flip by command name, the background not taken off. */
  readonly commandsByName: Readonly<Record<string, number>>;
  /** With no rollout: heartbeats and re-reads of every agent, bystanders included. */
  readonly idleCommandsPerSecond: number;
  readonly reads: { readonly index: ReadCost; readonly everyRecord: ReadCost };
}

export interface ScaleOptions {
  readonly nodeCounts: readonly number[];
  readonly flips: number;
  readonly bystanders: number;
  readonly processes: number;
  readonly log: (line: string) => void;
}

const HEARTBEAT_TTL_MS = 15_000;
const HEARTBEAT_MS = HEARTBEAT_TTL_MS / 3;
export const IDLE_WINDOW_MS = 10_000;
/** After each flip, time for the agents' last heartbeats to land inside the flip's window. */
export const SETTLE_MS = 250;
/** Reads of a model's nodes per measurement. */
export const READS = 20;
/** The commands a node read runs (the agents' background runs none of them). */
const READ_COMMANDS = ["multi", "exec", "zcount", "zrangebyscore", "mget"];
const BYSTANDER_MODEL = "bystander";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The bench's own INFO calls are not the fleet's. */
function withoutInfo(usage: RedisUsage): RedisUsage {
  const info = usage.commands.get("info") ?? 0;
  usage.commands.delete("info");
  return { ...usage, totalCommands: usage.totalCommands - info };
}

async function getJson(url: string): Promise<unknown> {
  const response = await fetch(url);
  return response.json();
}

async function waitForNodes(fleet: Fleet, path: string, count: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const body = (await getJson(`${fleet.controller.url}${path}`).catch(() => ({}))) as { nodes?: unknown[] };
    if ((body.nodes?.length ?? 0) >= count) return;
    if (Date.now() > deadline) throw new Error(`${path} lists ${body.nodes?.length ?? 0} nodes, not ${count}`);
    await sleep(200);
  }
}

/** One fleet for every agent count: agents are added between counts, nothing restarts. */
class ScaleRun {
  private readonly keys: StateKeys;
  private readonly admin: Redis;
  private readonly listener: Redis;
  /** A single-server client (the bench runs one redis-server): its socket counts the bytes read. */
  private readonly reader: Redis;
  private readonly pool: AgentPool;
  /** Messages on the model's channels by type, since the last clear. */
  private readonly messages = new Map<string, number>();
  private agents = 0;
  private active = "v1";

  constructor(
    private readonly fleet: Fleet,
    private readonly options: ScaleOptions,
  ) {
    const prefix = fleet.env.CUTOVER_REDIS_PREFIX ?? "";
    this.keys = new StateKeys(prefix);
    this.admin = new Redis(fleet.redis.url);
    this.listener = new Redis(fleet.redis.url);
    this.reader = createRedis({ url: fleet.redis.url, name: "scale-reader" }) as Redis;
    this.pool = AgentPool.start(options.processes, {
      redisUrl: fleet.redis.url,
      prefix,
      heartbeatTtlMs: HEARTBEAT_TTL_MS,
      heartbeatMs: HEARTBEAT_MS,
      resyncMs: 5_000,
    });
  }

  /** The pointer first (no agent yet), the bystanders, and a subscriber counting the model's messages. */
  async start(): Promise<void> {
    await this.fleet.activate("v1", { allowNoNodes: true });
    await this.pool.add(BYSTANDER_MODEL, agentIds("b", 0, this.options.bystanders), HEARTBEAT_MS);
    const channels = [this.keys.commandChannel(MODEL), this.keys.reportChannel(MODEL)];
    await this.listener.subscribe(...channels);
    this.listener.on("message", (_channel: string, text: string) => {
      const type = (JSON.parse(text) as { type?: string }).type ?? "?";
      this.messages.set(type, (this.messages.get(type) ?? 0) + 1);
    });
  }

  async measure(count: number): Promise<ScalePoint> {
    const { fleet, options } = this;
    await this.pool.add(MODEL, agentIds("a", this.agents, count), HEARTBEAT_MS);
    this.agents = count;
    await waitForNodes(fleet, `/v1/models/${MODEL}`, count);
    await waitForNodes(fleet, "/v1/nodes", count + options.bystanders);
    options.log(`scale ${count}: ${count} agents (+${options.bystanders} bystanders) listed`);

    const idle = await this.idleRate();
    await this.flip();
    await sleep(SETTLE_MS);
    this.messages.clear();
    const flips = await this.flips(idle);
    const perFlip = (n: number) => n / options.flips;
    const commandMessages = ["prepare", "promote", "abort"].reduce(
      (sum, type) => sum + (this.messages.get(type) ?? 0),
      0,
    );
    const reportMessages = [...this.messages.values()].reduce((sum, n) => sum + n, 0) - commandMessages;
    const readerFleet = new RedisFleetState(this.reader, this.keys);
    const reads = {
      index: await this.measureReads(async () => (await readerFleet.listModelNodes(MODEL)).length),
      everyRecord: await this.measureReads(async () => {
        const all = await readerFleet.listNodes();
        if (all.filter((node) => nodeServes(node, MODEL)).length !== count) throw new Error("agents missing");
        return all.length;
      }),
    };
    return {
      nodes: count,
      bystanders: options.bystanders,
      flipMs: flips.ms,
      spreadP50Ms: percentile(await this.spreads(), 50),
      messages: Object.fromEntries([...this.messages].map(([type, n]) => [type, perFlip(n)])),
      // Commands reach every agent of the model; reports reach the controller alone.
      deliveries: perFlip(commandMessages * count + reportMessages),
      commands: perFlip(flips.commands),
      outputBytes: perFlip(flips.outputBytes),
      commandsByName: Object.fromEntries([...flips.byName].map(([name, n]) => [name, perFlip(n)])),
      idleCommandsPerSecond: idle.commands,
      reads,
    };
  }

  /** Commands and bytes per second with no rollout: every agent's heartbeats and re-reads. */
  private async idleRate(): Promise<{ commands: number; bytes: number }> {
    const before = await readCounters(this.admin);
    const started = performance.now();
    await sleep(IDLE_WINDOW_MS);
    const idle = withoutInfo(usageBetween(before, await readCounters(this.admin)));
    const seconds = (performance.now() - started) / 1000;
    return { commands: idle.totalCommands / seconds, bytes: idle.outputBytes / seconds };
  }

  /** One warm flip to the other version; ms from the API call to its answer, every agent confirmed. */
  private async flip(): Promise<number> {
    const version = this.active === "v1" ? "v2" : "v1";
    const started = performance.now();
    const result = await this.fleet.activate(version);
    const ms = performance.now() - started;
    if (result.status !== 200 || result.body.confirmed !== this.agents)
      throw new Error(`flip to ${version} with ${this.agents} agents: ${JSON.stringify(result.body)}`);
    this.active = version;
    return ms;
  }

  /** `options.flips` flips, each in a window of Redis counters, the background rate taken off. */
  private async flips(idle: { commands: number; bytes: number }) {
    const ms: number[] = [];
    const byName = new Map<string, number>();
    let commands = 0;
    let outputBytes = 0;
    for (let i = 0; i < this.options.flips; i++) {
      const before = await readCounters(this.admin);
      const windowStarted = performance.now();
      ms.push(await this.flip());
      await sleep(SETTLE_MS);
      const used = withoutInfo(usageBetween(before, await readCounters(this.admin)));
      const seconds = (performance.now() - windowStarted) / 1000;
      for (const [name, calls] of used.commands) byName.set(name, (byName.get(name) ?? 0) + calls);
      commands += used.totalCommands - idle.commands * seconds;
      outputBytes += used.outputBytes - idle.bytes * seconds;
    }
    return { ms, byName, commands, outputBytes };
  }

  /** First → last agent serving, of the measured flips (the controller's history). */
  private async spreads(): Promise<number[]> {
    const url = `${this.fleet.controller.url}/v1/models/${MODEL}/history?limit=${this.options.flips}`;
    const body = (await getJson(url)) as { history: { switchSpreadMs?: number }[] };
    return body.history.flatMap((entry) => (entry.switchSpreadMs === undefined ? [] : [entry.switchSpreadMs]));
  }

  /**
   * `READS` reads in a row (each resolving to the records it fetched): Redis's count of the read
   * commands, bytes received on the reader's socket.
   */
  private async measureReads(read: () => Promise<number>): Promise<ReadCost> {
    // Unmeasured first: the first reads of a kind pay for compiling its code paths.
    await read();
    await read();
    let records = 0;
    const before = await readCounters(this.admin);
    const bytesBefore = this.reader.stream.bytesRead;
    const started = performance.now();
    for (let i = 0; i < READS; i++) records = await read();
    const ms = (performance.now() - started) / READS;
    const bytes = (this.reader.stream.bytesRead - bytesBefore) / READS;
    const used = usageBetween(before, await readCounters(this.admin));
    const commands = READ_COMMANDS.reduce((sum, name) => sum + (used.commands.get(name) ?? 0), 0) / READS;
    return { records, commands, bytes, ms };
  }

  async stop(): Promise<void> {
    await this.pool.stop().catch(() => undefined);
    this.listener.disconnect();
    this.admin.disconnect();
    this.reader.disconnect();
  }
}

function agentIds(name: string, from: number, to: number): string[] {
  return Array.from({ length: to - from }, (_, i) => `${name}-${String(from + i + 1).padStart(3, "0")}`);
}

export async function benchScale(options: ScaleOptions): Promise<ScalePoint[]> {
  const fleet = await startFleet({ nodes: 0, compiled: true, lockTtlMs: 30_000, persistRedis: false });
  const run = new ScaleRun(fleet, options);
  try {
    await run.start();
    const points: ScalePoint[] = [];
    for (const count of options.nodeCounts) {
      const point = await run.measure(count);
      points.push(point);
      options.log(
        `scale ${count}: flip p50 ${percentile(point.flipMs, 50).toFixed(1)} ms, ` +
          `p95 ${percentile(point.flipMs, 95).toFixed(1)} ms, ` +
          `${point.commands.toFixed(0)} commands (${(point.commands / count).toFixed(1)} per agent)`,
      );
    }
    return points;
  } finally {
    await run.stop();
    await fleet.stop();
  }
}
