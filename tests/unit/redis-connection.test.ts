/**
 * What `createRedis` hands ioredis for each URL form: the client class, the command bound on every
 * form, Sentinel's master name, role and failover detector, credentials for the master and the
 * sentinels, and TLS (which the integration tests do not run: they use plain loopback servers).
 * Each client points at a port where nothing listens and is disconnected at once.
 */
import { Cluster, Redis } from "ioredis";
import { afterEach, describe, expect, it } from "vitest";
import { createRedis, type RedisClient } from "../../core/redis/connection.js";

const clients: RedisClient[] = [];
afterEach(() => {
  for (const client of clients.splice(0)) client.disconnect();
});

function client(url: string): RedisClient {
  const made = createRedis({ url, name: "unit", timeoutMs: 700 });
  clients.push(made);
  return made;
}

describe("createRedis", () => {
  it("one server: a Redis with the command bound, the retry limit and the READONLY reconnect", () => {
    const redis = client("redis://127.0.0.1:1/2");
    expect(redis).toBeInstanceOf(Redis);
    if (!(redis instanceof Redis)) return;
    expect(redis.options).toMatchObject({ commandTimeout: 700, connectTimeout: 700, maxRetriesPerRequest: 2, db: 2 });
    expect(redis.options.reconnectOnError?.(new Error("READONLY You can't write against a read only replica."))).toBe(
      2,
    );
    expect(redis.options.reconnectOnError?.(new Error("ERR wrong number of arguments"))).toBe(false);
  });

  it("Sentinel: the sentinels, the master name, role master, the failover detector, both credentials, TLS everywhere", () => {
    const redis = client("rediss+sentinel://ops:pw@127.0.0.1:1,127.0.0.1:2/main?sentinelPassword=spw");
    expect(redis).toBeInstanceOf(Redis);
    if (!(redis instanceof Redis)) return;
    expect(redis.options).toMatchObject({
      sentinels: [
        { host: "127.0.0.1", port: 1 },
        { host: "127.0.0.1", port: 2 },
      ],
      name: "main",
      role: "master",
      failoverDetector: true,
      username: "ops",
      password: "pw",
      sentinelPassword: "spw",
      sentinelCommandTimeout: 700,
      commandTimeout: 700,
      maxRetriesPerRequest: 2,
      tls: {},
      sentinelTLS: {},
      enableTLSForSentinelMode: true,
    });
    expect(redis.options.sentinelUsername).toBeUndefined();
  });

  it("Cluster: a Cluster whose node connections carry the bound and the credentials; with TLS, host names kept", () => {
    const cluster = client("rediss+cluster://default:pw@127.0.0.1:1,127.0.0.1:2");
    expect(cluster).toBeInstanceOf(Cluster);
    if (!(cluster instanceof Cluster)) return;
    expect(cluster.options.redisOptions).toMatchObject({
      commandTimeout: 700,
      maxRetriesPerRequest: 2,
      username: "default",
      password: "pw",
      tls: {},
    });
    let resolved = "";
    cluster.options.dnsLookup?.("clustercfg.example.cache.amazonaws.com", (_, address) => (resolved = address));
    expect(resolved).toBe("clustercfg.example.cache.amazonaws.com");

    const plain = client("redis+cluster://127.0.0.1:1");
    if (!(plain instanceof Cluster)) throw new Error("not a Cluster");
    expect(plain.options.redisOptions?.tls).toBeUndefined();
  });
});
