/**
 * Redis connections: one place decides timeouts and reconnection, so a Redis that goes away makes
 * commands fail fast with STATE_UNREACHABLE (not hang) and connections come back on their own.
 */
import { Redis } from "ioredis";
import { ErrorCode, errorMessage, StateError } from "../errors.js";

export interface RedisOptions {
  /** A redis:// or rediss:// URL. */
  readonly url: string;
  /** Shown in CLIENT LIST. */
  readonly name: string;
}

/** Reconnect delays: 50 ms doubling, capped at 2 s, with jitter. */
function reconnectDelay(attempt: number): number {
  const ceiling = Math.min(2_000, 50 * 2 ** Math.min(attempt, 10));
  return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
}

export function createRedis(options: RedisOptions): Redis {
  const redis = new Redis(options.url, {
    connectionName: options.name,
    connectTimeout: 2_000,
    maxRetriesPerRequest: 2,
    retryStrategy: reconnectDelay,
    lazyConnect: false,
  });
  // Connection errors are reported through failing commands; without a listener ioredis would log each.
  redis.on("error", () => undefined);
  return redis;
}

/** Wraps a Redis failure as STATE_UNREACHABLE; typed errors pass through. */
export function toStateError(error: unknown, what: string): Error {
  if (error instanceof StateError) return error;
  return new StateError(ErrorCode.StateUnreachable, `${what}: Redis: ${errorMessage(error)}`, { cause: error });
}
