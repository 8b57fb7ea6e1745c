/**
 * What a redis-server has done, from its own counters (INFO commandstats and stats): commands run by
 * name — a Lua script counts once as `evalsha` and once per command it calls — and bytes sent to
 * clients. Steps are measured by difference, with the cost of reading the counters taken off.
 */
import type { Redis } from "ioredis";

export interface RedisCounters {
  /** Calls per command name (lower case, as INFO names them). */
  readonly commands: ReadonlyMap<string, number>;
  /** total_net_output_bytes: every byte sent to every client. */
  readonly outputBytes: number;
}

export interface RedisUsage {
  readonly commands: Map<string, number>;
  readonly totalCommands: number;
  readonly outputBytes: number;
}

export async function readCounters(redis: Redis): Promise<RedisCounters> {
  const info = String(await redis.call("INFO", "stats", "commandstats"));
  const commands = new Map<string, number>();
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) commands.set(match[1] ?? "", Number(match[2]));
  const bytes = /^total_net_output_bytes:(\d+)/m.exec(info)?.[1];
  if (bytes === undefined) throw new Error("INFO stats has no total_net_output_bytes");
  return { commands, outputBytes: Number(bytes) };
}

/** after − before, command names that did not change left out. */
export function usageBetween(before: RedisCounters, after: RedisCounters): RedisUsage {
  const commands = new Map<string, number>();
  for (const [name, calls] of after.commands) {
    const diff = calls - (before.commands.get(name) ?? 0);
    if (diff !== 0) commands.set(name, diff);
  }
  return {
    commands,
    totalCommands: [...commands.values()].reduce((sum, n) => sum + n, 0),
    outputBytes: after.outputBytes - before.outputBytes,
  };
}

/** `usage` less `overhead`, name by name. */
export function usageLess(usage: RedisUsage, overhead: RedisUsage): RedisUsage {
  const commands = new Map(usage.commands);
  for (const [name, calls] of overhead.commands) {
    const left = (commands.get(name) ?? 0) - calls;
    if (left === 0) commands.delete(name);
    else commands.set(name, left);
  }
  return {
    commands,
    totalCommands: usage.totalCommands - overhead.totalCommands,
    outputBytes: usage.outputBytes - overhead.outputBytes,
  };
}

/**
 * What `step` cost the server, exactly when nothing else uses it meanwhile: the counters are read
 * three times (before a no-op, before the step, after it) and the reads' own cost taken off.
 */
export async function measureRedis(redis: Redis, step: () => Promise<unknown>): Promise<RedisUsage> {
  const idle = await readCounters(redis);
  const before = await readCounters(redis);
  await step();
  const after = await readCounters(redis);
  return usageLess(usageBetween(before, after), usageBetween(idle, before));
}
