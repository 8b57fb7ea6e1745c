/**
 * CUTOVER_REDIS_URL's forms (core/redis/redis-url.ts): what each parses to, the errors for the
 * wrong ones (which never quote a credential), and the redaction of every form for log lines.
 */
import { describe, expect, it } from "vitest";
import { parseStateConfig } from "../../core/config.js";
import { redactUrl } from "../../core/redact.js";
import { replicasToConfirm } from "../../core/redis/connection.js";
import { parseRedisUrl } from "../../core/redis/redis-url.js";

const SECRET = "hunter2-secret";

describe("parseRedisUrl", () => {
  it("one server: redis:// and rediss:// pass through to ioredis as they are", () => {
    for (const url of ["redis://127.0.0.1:6379", `rediss://ops:${SECRET}@redis.internal:6380/2`]) {
      expect(parseRedisUrl(url)).toEqual({ kind: "single", url });
    }
  });

  it("Sentinel: the sentinels (default port 26379), the master name, credentials for the master and the sentinels", () => {
    expect(parseRedisUrl("redis+sentinel://s1:26380,s2,[::1]:26381/mymaster")).toEqual({
      kind: "sentinel",
      sentinels: [
        { host: "s1", port: 26380 },
        { host: "s2", port: 26379 },
        { host: "::1", port: 26381 },
      ],
      masterName: "mymaster",
      tls: false,
      credentials: {},
      sentinelCredentials: {},
    });
    expect(
      parseRedisUrl(
        `rediss+sentinel://ops:p%40ss@s1:26379/cache.main?sentinelUsername=watch&sentinelPassword=${SECRET}`,
      ),
    ).toMatchObject({
      tls: true,
      masterName: "cache.main",
      credentials: { username: "ops", password: "p@ss" },
      sentinelCredentials: { username: "watch", password: SECRET },
    });
    expect(parseRedisUrl(`redis+sentinel://:${SECRET}@s1/m`)).toMatchObject({ credentials: { password: SECRET } });
  });

  it("Cluster: seed nodes (default port 6379), credentials, TLS", () => {
    expect(parseRedisUrl(`rediss+cluster://default:${SECRET}@c1:7000,c2`)).toEqual({
      kind: "cluster",
      nodes: [
        { host: "c1", port: 7000 },
        { host: "c2", port: 6379 },
      ],
      tls: true,
      credentials: { username: "default", password: SECRET },
    });
  });

  it.each([
    ["http://redis:6379", /must start with redis:\/\/, rediss:\/\/, redis\+sentinel:\/\//],
    ["redis+sentinel://s1:26379", /ends with \/<master-name>/],
    ["redis+sentinel://s1:26379/bad name", /ends with \/<master-name>/],
    ["redis+sentinel://s1:26379/m?db=2", /takes only sentinelUsername and sentinelPassword; got a parameter \("db"\)/],
    ["redis+sentinel:///m", /names no host/],
    ["redis+cluster://c1:7000/2", /takes no path: a cluster has database 0 only/],
    ["redis+cluster://c1:7000?password=x", /takes no query parameters/],
    ["redis+cluster://c1:70000", /host 1 \("c1:70000"\) has a port outside 1-65535/],
    ["redis+cluster://c1,c2:x", /host 2 \("c2:x"\) is not host or host:port/],
  ])("%s → ConfigError %s", (url, message) => {
    expect(() => parseRedisUrl(url)).toThrow(message);
  });

  it("errors never quote a URL that holds user info, however badly it is encoded", () => {
    for (const url of [
      `redis+cluster://:${SECRET}@c1:99999`,
      `redis+sentinel://:${SECRET}/x@s1/m`,
      `redis+sentinel://:${SECRET}?x@s1/m`,
    ]) {
      expect(() => parseRedisUrl(url)).toThrow();
      try {
        parseRedisUrl(url);
      } catch (error) {
        expect(String(error)).not.toContain("hunter2");
      }
    }
  });

  it("the configuration accepts every form and refuses the rest naming the variable, without the password", () => {
    const url = "redis+cluster://c1:7000,c2:7001";
    expect(parseStateConfig({ CUTOVER_REDIS_URL: url }).redisUrl).toBe(url);
    expect(() => parseStateConfig({ CUTOVER_REDIS_URL: `redis+sentinel://:${SECRET}@s1:1` })).toThrow(
      /^CUTOVER_REDIS_URL: a redis\+sentinel URL ends with/,
    );
    expect(() => parseStateConfig({ CUTOVER_REDIS_URL: `redis+sentinel://:${SECRET}@s1:1` })).not.toThrow(/hunter2/);
  });

  it("a committed transition waits for one replica behind Sentinel, none otherwise", () => {
    expect(replicasToConfirm("redis+sentinel://s1/m")).toBe(1);
    expect(replicasToConfirm("redis+cluster://c1")).toBe(0);
    expect(replicasToConfirm("redis://r1")).toBe(0);
  });
});

describe("redactUrl on the multi-host forms", () => {
  it.each([
    [`redis+sentinel://:${SECRET}@s1:26379,s2:26379/m`, "redis+sentinel://:***@s1:26379,s2:26379/m"],
    [
      `rediss+sentinel://ops:${SECRET}@s1/m?sentinelUsername=w&sentinelPassword=${SECRET}`,
      "rediss+sentinel://ops:***@s1/m?sentinelUsername=w&sentinelPassword=***",
    ],
    [`rediss+cluster://default:${SECRET}@c1:7000,c2:7001`, "rediss+cluster://default:***@c1:7000,c2:7001"],
    ["redis+cluster://c1:7000,c2:7001", "redis+cluster://c1:7000,c2:7001"],
    // An unencoded / in the password: all of the user info goes.
    [`redis+sentinel://ops:${SECRET}/x@s1/m`, "redis+sentinel://***@s1/m"],
    [`redis://r1:6379/0?sentinelPassword=${SECRET}`, "redis://r1:6379/0?sentinelPassword=***"],
  ])("%s → %s", (url, redacted) => {
    expect(redactUrl(url)).toBe(redacted);
  });
});
