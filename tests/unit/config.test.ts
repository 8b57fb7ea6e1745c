import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  CONFIG_VARIABLES,
  PARSED_VARIABLES,
  parseArtifactConfig,
  parseClientConfig,
  parseControllerConfig,
  parseNodeConfig,
} from "../../core/config.js";

describe("configuration from the environment", () => {
  it("defaults to the folder store and cache under .cutover/", () => {
    expect(parseArtifactConfig({})).toEqual({
      store: { kind: "folder", dir: ".cutover/store" },
      prefix: "",
      trustedKeyPaths: [],
      cacheDir: ".cutover/cache",
      ranged: { partBytes: 64 * 1024 * 1024, partsInFlight: 4, rangedFromBytes: 128 * 1024 * 1024 },
    });
  });

  it("a bucket selects S3; empty values count as unset", () => {
    const config = parseArtifactConfig({
      CUTOVER_S3_BUCKET: "models",
      CUTOVER_S3_ENDPOINT: "http://localhost:9000",
      CUTOVER_S3_FORCE_PATH_STYLE: "TRUE",
      CUTOVER_S3_PREFIX: "",
      AWS_REGION: "eu-west-1",
      CUTOVER_TRUSTED_KEYS: "a.pub, keys/ ,",
    });
    expect(config.store).toEqual({
      kind: "s3",
      bucket: "models",
      endpoint: "http://localhost:9000",
      region: "eu-west-1",
      forcePathStyle: true,
    });
    expect(config.trustedKeyPaths).toEqual(["a.pub", "keys/"]);
  });

  it("a bad value is an INVALID_CONFIG error naming the variable", () => {
    expect(() => parseArtifactConfig({ CUTOVER_S3_ENDPOINT: "not a url" })).toThrow(/CUTOVER_S3_ENDPOINT/);
    expect(() => parseArtifactConfig({ CUTOVER_S3_FORCE_PATH_STYLE: "maybe" })).toThrow(
      expect.objectContaining({
        code: "INVALID_CONFIG",
        message: expect.stringMatching(/CUTOVER_S3_FORCE_PATH_STYLE/),
      }),
    );
  });

  it("every documented variable is parsed, and every parsed one documented", () => {
    expect([...PARSED_VARIABLES].sort()).toEqual(CONFIG_VARIABLES.map((v) => v.name).sort());
  });

  it("the controller's and the CLI's variables, with their defaults and checks", () => {
    const config = parseControllerConfig({ CUTOVER_TOKENS: "a:0123456789abcdef", CUTOVER_STATE: "ssm" });
    expect(config).toMatchObject({
      redisUrl: "redis://127.0.0.1:6379",
      redisPrefix: "cutover:",
      port: 8700,
      lockTtlMs: 30_000,
      stateTimeoutMs: 2_000,
      pointers: { kind: "ssm", path: "/cutover/models", region: "us-east-1" },
    });
    expect(parseControllerConfig({ CUTOVER_STATE_TIMEOUT_MS: "5000" }).stateTimeoutMs).toBe(5_000);
    expect(() => parseControllerConfig({ CUTOVER_STATE_TIMEOUT_MS: "5" })).toThrow(/CUTOVER_STATE_TIMEOUT_MS/);
    expect(parseControllerConfig({}).pointers).toEqual({ kind: "redis" });
    expect(parseClientConfig({})).toEqual({ url: "http://127.0.0.1:8700", timeoutMs: 60_000 });
    expect(() => parseControllerConfig({ CUTOVER_REDIS_URL: "http://x" })).toThrow(/CUTOVER_REDIS_URL/);
    expect(() => parseControllerConfig({ CUTOVER_PORT: "99999" })).toThrow(/CUTOVER_PORT/);
    expect(() => parseControllerConfig({ CUTOVER_STATE: "etcd" })).toThrow(/CUTOVER_STATE/);
    expect(() => parseControllerConfig({ CUTOVER_ROLLOUT_LOCK_TTL_MS: "10" })).toThrow(/CUTOVER_ROLLOUT_LOCK_TTL_MS/);
  });

  it("the node's HTTP limits: defaults, overrides, and a headers timeout longer than the request timeout refused", () => {
    expect(parseNodeConfig({}, "host").http).toEqual({
      requestTimeoutMs: 30_000,
      headersTimeoutMs: 10_000,
      keepAliveTimeoutMs: 65_000,
      maxConnections: 1024,
    });
    expect(
      parseNodeConfig(
        {
          CUTOVER_NODE_REQUEST_TIMEOUT_MS: "60000",
          CUTOVER_NODE_HEADERS_TIMEOUT_MS: "5000",
          CUTOVER_NODE_KEEP_ALIVE_TIMEOUT_MS: "5000",
          CUTOVER_NODE_MAX_CONNECTIONS: "4096",
        },
        "host",
      ).http,
    ).toEqual({ requestTimeoutMs: 60_000, headersTimeoutMs: 5_000, keepAliveTimeoutMs: 5_000, maxConnections: 4096 });
    expect(() => parseNodeConfig({ CUTOVER_NODE_REQUEST_TIMEOUT_MS: "5000" }, "host")).toThrow(
      expect.objectContaining({
        code: "INVALID_CONFIG",
        message: expect.stringMatching(
          /CUTOVER_NODE_HEADERS_TIMEOUT_MS \(10000\) must not exceed CUTOVER_NODE_REQUEST_TIMEOUT_MS/,
        ),
      }),
    );
    expect(() => parseNodeConfig({ CUTOVER_NODE_MAX_CONNECTIONS: "0" }, "host")).toThrow(
      /CUTOVER_NODE_MAX_CONNECTIONS/,
    );
    expect(() => parseNodeConfig({ CUTOVER_NODE_REQUEST_TIMEOUT_MS: "10" }, "host")).toThrow(
      /CUTOVER_NODE_REQUEST_TIMEOUT_MS/,
    );
  });

  it("the node's execution: instances (a count, 0 or auto), batch size and delay; defaults auto, 8, 0", () => {
    expect(parseNodeConfig({}, "host")).toMatchObject({ instances: "auto", maxBatch: 8, batchDelayUs: 0 });
    expect(
      parseNodeConfig({ CUTOVER_INSTANCES: "3", CUTOVER_MAX_BATCH: "0", CUTOVER_BATCH_DELAY_US: "500" }, "host"),
    ).toMatchObject({ instances: 3, maxBatch: 0, batchDelayUs: 500 });
    expect(parseNodeConfig({ CUTOVER_INSTANCES: "0" }, "host").instances).toBe(0);
    for (const bad of ["many", "-1", "1.5"]) {
      expect(() => parseNodeConfig({ CUTOVER_INSTANCES: bad }, "host")).toThrow(/CUTOVER_INSTANCES/);
    }
    expect(() => parseNodeConfig({ CUTOVER_BATCH_DELAY_US: "-5" }, "host")).toThrow(/CUTOVER_BATCH_DELAY_US/);
  });

  it("worker threads' nice increment: default 10, 0 turns it off, beyond 19 refused", () => {
    expect(parseNodeConfig({}, "host").workerNice).toBe(10);
    expect(parseNodeConfig({ CUTOVER_WORKER_NICE: "0" }, "host").workerNice).toBe(0);
    for (const bad of ["20", "-1", "low"]) {
      expect(() => parseNodeConfig({ CUTOVER_WORKER_NICE: bad }, "host")).toThrow(/CUTOVER_WORKER_NICE/);
    }
  });

  it("download settings: 64 MiB parts, 4 in flight, ranged from two parts, fan-in 8; each checked and named", () => {
    const MIB = 1024 * 1024;
    const defaults = parseNodeConfig({}, "host");
    expect(defaults.ranged).toEqual({ partBytes: 64 * MIB, partsInFlight: 4, rangedFromBytes: 128 * MIB });
    expect(defaults.fetchFanIn).toBe(8);
    const set = parseNodeConfig(
      { CUTOVER_FETCH_PART_MB: "16", CUTOVER_FETCH_PARTS: "8", CUTOVER_FETCH_FANIN: "0" },
      "host",
    );
    expect(set.ranged).toEqual({ partBytes: 16 * MIB, partsInFlight: 8, rangedFromBytes: 32 * MIB });
    expect(set.fetchFanIn).toBe(0);
    expect(parseNodeConfig({ CUTOVER_FETCH_RANGED_MB: "1000" }, "host").ranged?.rangedFromBytes).toBe(1000 * MIB);
    const bad: [string, string][] = [
      ["CUTOVER_FETCH_PART_MB", "0"],
      ["CUTOVER_FETCH_PARTS", "0"],
      ["CUTOVER_FETCH_PARTS", "65"],
      ["CUTOVER_FETCH_RANGED_MB", "many"],
      ["CUTOVER_FETCH_FANIN", "-1"],
    ];
    for (const [name, value] of bad) {
      expect(() => parseNodeConfig({ [name]: value }, "host")).toThrow(new RegExp(name));
    }
  });

  it("the README's configuration table lists exactly the variables the code reads, with their defaults", async () => {
    const readme = await readFile(join(import.meta.dirname, "../../README.md"), "utf8");
    const rows = readme
      .split("\n")
      .filter((line) => line.startsWith("| `CUTOVER_"))
      .map((line) => line.split("|").map((cell) => cell.trim().replace(/^`|`$/g, "")))
      .map(([, name, defaultValue]) => [name, defaultValue]);
    expect(rows).toEqual(CONFIG_VARIABLES.map((v) => [v.name, v.default ?? ""]));
  });
});
