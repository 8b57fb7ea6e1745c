/**
 * Redis connections: one place decides timeouts and reconnection, so a Redis that goes away, or
 * accepts connections and never answers, makes commands fail fast with STATE_UNREACHABLE (not hang)
 * and connections come back on their own — on one server, behind Sentinel (a failover is followed
 * to the new master) and on a Redis Cluster. The URL forms are parsed in redis-url.ts.
 */
import { Cluster, type RedisOptions as IoRedisOptions, Redis } from "ioredis";
import { DEFAULT_STATE_TIMEOUT_MS } from "../config.js";
import { ConfigError, ErrorCode, errorMessage, StateError } from "../errors.js";
import { parseRedisUrl, type RedisCredentials, type RedisTarget } from "./redis-url.js";

/**
 * The client every consumer holds: a `Redis` (one server, or the master Sentinel names) or a
 * `Cluster`. Both take the same commands; keys touched together share a hash tag (state-keys.ts).
 */
export type RedisClient = Redis | Cluster;

export interface RedisOptions {
  /** CUTOVER_REDIS_URL: redis://, rediss://, redis+sentinel://, redis+cluster:// (redis-url.ts). */
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

/** What every connection to a data node gets, whichever form. */
function boundedOptions(name: string, timeoutMs: number) {
  return {
    connectionName: name,
    connectTimeout: timeoutMs,
    // The bound on every command, queued or sent. It also ends a connection whose handshake
    // (HELLO, INFO) gets no answer, so a server that accepts and stays silent is reconnected to,
    // and the commands queued meanwhile are rejected rather than kept.
    commandTimeout: timeoutMs,
    // A command caught by a dropped connection is sent again on the next one, at most twice;
    // commandTimeout still ends it on time.
    maxRetriesPerRequest: 2,
    // A write that reaches a master demoted under us (READONLY: a Sentinel or ElastiCache failover
    // while this socket stayed open) reconnects — to the new master — and is sent once more; it did
    // not run, so sending it again is safe.
    reconnectOnError: (error: Error) => (error.message.startsWith("READONLY") ? 2 : false),
  } satisfies IoRedisOptions;
}

function credentialOptions(credentials: RedisCredentials) {
  return {
    ...(credentials.username !== undefined ? { username: credentials.username } : {}),
    ...(credentials.password !== undefined ? { password: credentials.password } : {}),
  };
}

/**
 * A Redis Cluster client whose every command carries the command timeout from the moment it is
 * issued: ioredis bounds a command only once a node connection sends it, and the cluster's own
 * offline queue (no node reachable, slots being refreshed) would otherwise hold it forever.
 */
class BoundedCluster extends Cluster {
  override sendCommand(...args: Parameters<Cluster["sendCommand"]>): unknown {
    const timeoutMs = this.options.redisOptions?.commandTimeout;
    if (typeof timeoutMs === "number") args[0].setTimeout(timeoutMs);
    return super.sendCommand(...args);
  }
}

/**
 * A Sentinel-managed connection that never gives up by itself. ioredis's failover detector (a
 * `+switch-master` subscription on the sentinels) outlives a connection whose master died; when the
 * switch is announced while the client is already reconnecting, it aborts that attempt and ioredis
 * ends the client for good ("Connection is closed": about one failover in eight in the tests here,
 * on the controller's and the nodes' connections alike). A client that ends without `disconnect()` or QUIT is connected again after a backoff.
 */
class SentinelRedis extends Redis {
  private closedByCaller = false;

  constructor(options: IoRedisOptions & { replyMapping?: "legacy" }) {
    super(options);
    this.on("end", () => {
      if (this.closedByCaller) return;
      setTimeout(() => {
        if (!this.closedByCaller && this.status === "end") this.connect().catch(() => undefined);
      }, reconnectDelay(1)).unref();
    });
  }

  override disconnect(reconnect = false): void {
    if (!reconnect) this.closedByCaller = true;
    super.disconnect(reconnect);
  }

  override sendCommand(...args: Parameters<Redis["sendCommand"]>): unknown {
    if (args[0].name === "quit") this.closedByCaller = true;
    return super.sendCommand(...args);
  }
}

function sentinelClient(target: Extract<RedisTarget, { kind: "sentinel" }>, name: string, timeoutMs: number): Redis {
  const sentinel = target.sentinelCredentials;
  return new SentinelRedis({
    ...boundedOptions(name, timeoutMs),
    ...credentialOptions(target.credentials),
    retryStrategy: reconnectDelay,
    lazyConnect: false,
    sentinels: target.sentinels.map(({ host, port }) => ({ host, port })),
    name: target.masterName,
    // Connect only to a server that says it is the master (checked at every connect).
    role: "master",
    // Subscribes to +switch-master on the sentinels, so a failover moves the connection right away
    // instead of when the old master's socket happens to fail.
    failoverDetector: true,
    sentinelCommandTimeout: timeoutMs,
    sentinelRetryStrategy: reconnectDelay,
    ...(sentinel.username !== undefined ? { sentinelUsername: sentinel.username } : {}),
    ...(sentinel.password !== undefined ? { sentinelPassword: sentinel.password } : {}),
    ...(target.tls ? { tls: {}, sentinelTLS: {}, enableTLSForSentinelMode: true } : {}),
  });
}

function clusterClient(target: Extract<RedisTarget, { kind: "cluster" }>, name: string, timeoutMs: number): Cluster {
  return new BoundedCluster(
    target.nodes.map(({ host, port }) => ({ host, port })),
    {
      clusterRetryStrategy: reconnectDelay,
      slotsRefreshTimeout: timeoutMs,
      lazyConnect: false,
      // TLS names: keep the host names the cluster reports (ElastiCache's certificates are issued
      // for them, not for the addresses they resolve to).
      ...(target.tls ? { dnsLookup: (address: string, callback) => callback(null, address) } : {}),
      redisOptions: {
        ...boundedOptions(name, timeoutMs),
        ...credentialOptions(target.credentials),
        ...(target.tls ? { tls: {} } : {}),
      },
    },
  );
}

/** A connection for the URL's form; commands are bounded by `timeoutMs` on every form. */
export function createRedis(options: RedisOptions): RedisClient {
  const timeoutMs = options.timeoutMs ?? DEFAULT_STATE_TIMEOUT_MS;
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) {
    throw new ConfigError(`Redis timeoutMs must be a positive integer of milliseconds, not ${timeoutMs}`);
  }
  const target = parseRedisUrl(options.url);
  const client: RedisClient =
    target.kind === "sentinel"
      ? sentinelClient(target, options.name, timeoutMs)
      : target.kind === "cluster"
        ? clusterClient(target, options.name, timeoutMs)
        : new Redis(target.url, {
            ...boundedOptions(options.name, timeoutMs),
            retryStrategy: reconnectDelay,
            lazyConnect: false,
          });
  // Connection errors are reported through failing commands; without a listener ioredis would log each.
  client.on("error", () => undefined);
  return client;
}

/**
 * How many replicas a committed transition waits for (WAIT) before it is reported: 1 behind
 * Sentinel, so a failover right after a promotion cannot lose it; 0 on one server and on a
 * Cluster (WAIT names no key, so a cluster client cannot route it to the key's master).
 */
export function replicasToConfirm(url: string): number {
  return parseRedisUrl(url).kind === "sentinel" ? 1 : 0;
}

/** Wraps a Redis failure as STATE_UNREACHABLE; typed errors pass through. */
export function toStateError(error: unknown, what: string): Error {
  if (error instanceof StateError) return error;
  return new StateError(ErrorCode.StateUnreachable, `${what}: Redis: ${errorMessage(error)}`, { cause: error });
}
