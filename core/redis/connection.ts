/**
 * Redis connections: one place decides timeouts and reconnection, so a Redis that goes away, or
 * accepts connections and never answers, makes commands fail fast with STATE_UNREACHABLE (not hang)
 * and connections come back on their own.
 */
import { Redis } from "ioredis";
import { DEFAULT_STATE_TIMEOUT_MS } from "../config.js";
import { ConfigError, ErrorCode, errorMessage, StateError } from "../errors.js";

export interface RedisOptions {
  /** A redis:// or rediss:// URL. */
  readonly url: string;
  /** Shown in CLIENT LIST. */
  readonly name: string;
  /**
   * The longest one command waits for its answer, whether it was sent or is queued while the
   * connection (re)connects; also the TCP connect timeout. Default DEFAULT_STATE_TIMEOUT_MS.
   */
  readonly timeoutMs?: number;
}

/** Reconnect delays: 50 ms doubling, capped at 2 s, with jitter. */
function reconnectDelay(attempt: number): number {
  const ceiling = Math.min(2_000, 50 * 2 ** Math.min(attempt, 10));
  return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
}

export function createRedis(options: RedisOptions): Redis {
  const timeoutMs = options.timeoutMs ?? DEFAULT_STATE_TIMEOUT_MS;
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) {
    throw new ConfigError(`Redis timeoutMs must be a positive integer of milliseconds, not ${timeoutMs}`);
  }
  const redis = new Redis(options.url, {
    connectionName: options.name,
    connectTimeout: timeoutMs,
    // The bound on every command, queued or sent. It also ends a connection whose handshake
    // (HELLO, INFO) gets no answer, so a server that accepts and stays silent is reconnected to,
    // and the commands queued meanwhile are rejected rather than kept.
    commandTimeout: timeoutMs,
    // A command caught by a dropped connection is sent again on the next one, at most twice;
    // commandTimeout still ends it on time.
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
