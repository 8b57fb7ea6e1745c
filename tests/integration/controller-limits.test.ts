/**
 * What the controller's API does not let a caller do: send a body of any size (413 at 16 KiB, the
 * rest never read), roll back a model that does not exist (404), or make the controller read every
 * version's files from the store on each open read (each version is read once).
 */
import { request as httpRequest } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { assembleController, type Controller, controllerCredentials } from "../../controller/controller.js";
import { type RunningController, startControllerServer } from "../../controller/server.js";
import { RedisRolloutStore } from "../../controller/state/rollout-store.js";
import { ArtifactLayout } from "../../core/artifact-layout.js";
import { createRedis } from "../../core/redis/connection.js";
import { RedisFleetState } from "../../core/redis/fleet-state.js";
import { RedisBus } from "../../core/redis/redis-bus.js";
import { ModelRegistry } from "../../core/registry.js";
import { StateKeys } from "../../core/state-keys.js";
import {
  createObjectStore,
  type GetOptions,
  type ObjectBody,
  type ObjectInfo,
  type ObjectStore,
  type PutOptions,
} from "../../core/store/index.js";
import { type ControllerHarness, MODEL, startControllerHarness, TOKEN } from "../support/controller-harness.js";

let harness: ControllerHarness;

beforeAll(async () => {
  harness = await startControllerHarness();
});
afterAll(() => harness.stop());

const auth = { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" };

describe("request bodies are capped at 16 KiB", () => {
  let server: RunningController;
  beforeAll(async () => {
    server = await startControllerServer(harness.config("body-cap:"));
  });
  afterAll(() => server.close());

  interface Upload {
    status: number;
    body: { error?: { code: string; message: string } };
    /** Bytes the socket accepted, before and after the answer, until the server closed it. */
    sent: number;
  }

  /**
   * POSTs `total` bytes of JSON-looking filler to activate, chunked unless `contentLength`, and goes
   * on writing after the answer until everything is sent or the server closes the connection.
   */
  function upload(total: number, options: { contentLength?: boolean } = {}): Promise<Upload> {
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    return new Promise((resolve, reject) => {
      let sent = 0;
      let answer: Omit<Upload, "sent"> | undefined;
      const request = httpRequest({
        host: "127.0.0.1",
        port: server.port,
        method: "POST",
        path: `/v1/models/${MODEL}/activate`,
        agent: false,
        headers: { ...auth, ...(options.contentLength ? { "content-length": String(total) } : {}) },
      });
      const settle = () => {
        if (answer === undefined) reject(new Error(`the connection closed without an answer after ${sent} bytes`));
        else resolve({ ...answer, sent });
      };
      request.on("response", (response) => {
        let text = "";
        response.on("data", (data: Buffer) => {
          text += data.toString();
        });
        response.on("end", () => {
          answer = { status: response.statusCode ?? 0, body: JSON.parse(text) };
        });
      });
      request.on("error", () => undefined);
      request.on("close", settle);
      const pump = () => {
        while (!request.destroyed && sent < total) {
          sent += chunk.length;
          if (!request.write(chunk)) {
            request.once("drain", pump);
            return;
          }
        }
        if (sent >= total && !request.destroyed) request.end();
      };
      request.write("{");
      pump();
    });
  }

  it("a chunked body over the cap → 413 BODY_TOO_LARGE, and the server stops reading it", async () => {
    const total = 256 * 1024 * 1024;
    const answer = await upload(total);
    expect([answer.status, answer.body.error?.code]).toEqual([413, "BODY_TOO_LARGE"]);
    expect(answer.body.error?.message).toMatch(/over 16384 bytes/);
    // The server closed the connection after answering: the socket took the cap and what the
    // kernel's buffers hold, nowhere near the whole body.
    expect(answer.sent).toBeLessThan(32 * 1024 * 1024);
  });

  it("a Content-Length over the cap → 413 before the body is read", async () => {
    const answer = await upload(300 * 1024 * 1024, { contentLength: true });
    expect([answer.status, answer.body.error?.code]).toEqual([413, "BODY_TOO_LARGE"]);
  });

  it("a body under the cap is read and checked as before", async () => {
    const response = await fetch(`http://127.0.0.1:${server.port}/v1/models/${MODEL}/activate`, {
      method: "POST",
      headers: auth,
      body: JSON.stringify({ version: "v1", padding: " ".repeat(8 * 1024) }),
    });
    const body = (await response.json()) as { error?: { code: string; message: string } };
    expect([response.status, body.error?.code]).toEqual([400, "INVALID_INPUT"]);
    expect(body.error?.message).toMatch(/padding/);
  });
});

describe("rollback", () => {
  it("of a model with no state and no version in the store → 404 NOT_FOUND; of one without a previous version → 400", async () => {
    const controller = await harness.controller("rollback-unknown:");
    const rollback = async (model: string) => {
      const response = await controller.app.request(`/v1/models/${model}/rollback`, {
        method: "POST",
        headers: auth,
        body: "{}",
      });
      return [response.status, ((await response.json()) as { error?: { code: string } }).error?.code];
    };
    expect(await rollback("no-such-model")).toEqual([404, "NOT_FOUND"]);
    expect(await rollback(MODEL)).toEqual([400, "INVALID_INPUT"]);
  });
});

/** An object store that records every call that reads an object or lists keys. */
class CountingStore implements ObjectStore {
  readonly reads: string[] = [];
  constructor(private readonly inner: ObjectStore) {}
  get location(): string {
    return this.inner.location;
  }
  put(key: string, body: Buffer, options?: PutOptions): Promise<void> {
    return this.inner.put(key, body, options);
  }
  get(key: string, options?: GetOptions): Promise<ObjectBody> {
    this.reads.push(`GET ${key}`);
    return this.inner.get(key, options);
  }
  head(key: string): Promise<ObjectInfo | undefined> {
    this.reads.push(`HEAD ${key}`);
    return this.inner.head(key);
  }
  list(prefix: string): AsyncIterable<ObjectInfo> {
    this.reads.push(`LIST ${prefix}`);
    return this.inner.list(prefix);
  }
  listFolders(prefix: string): Promise<string[]> {
    this.reads.push(`LIST ${prefix}`);
    return this.inner.listFolders(prefix);
  }
  delete(key: string): Promise<void> {
    return this.inner.delete(key);
  }
  close(): void {
    this.inner.close();
  }
}

describe("GET /v1/models/:model", () => {
  let store: CountingStore;
  let controller: Controller;
  beforeAll(async () => {
    const config = harness.config("version-reads:");
    const redis = createRedis({ url: config.redisUrl, name: "version-reads" });
    const subscriber = createRedis({ url: config.redisUrl, name: "version-reads-sub" });
    const fleet = new RedisFleetState(redis, new StateKeys(config.redisPrefix));
    store = new CountingStore(createObjectStore(config.store));
    controller = assembleController({
      fleet,
      transitions: new RedisRolloutStore(fleet),
      bus: new RedisBus(redis, subscriber),
      registry: new ModelRegistry(store, new ArtifactLayout()),
      ...(await controllerCredentials(config)),
      lockTtlMs: config.lockTtlMs,
      async close() {
        store.close();
        redis.disconnect();
        subscriber.disconnect();
      },
    });
  });
  afterAll(() => controller.close());

  it("reads each version's files from the store once: a second call lists the versions and reads nothing else", async () => {
    const detail = async () => {
      const response = await controller.app.request(`/v1/models/${MODEL}`);
      expect(response.status).toBe(200);
      return ((await response.json()) as { versions: { version: string; created?: string; signerHint?: string }[] })
        .versions;
    };
    const first = await detail();
    expect(first.map((v) => v.version)).toEqual(expect.arrayContaining(["v1", "v2", "v3", "v4", "v9"]));
    expect(first.find((v) => v.version === "v1")).toMatchObject({
      created: expect.any(String),
      signerHint: expect.any(String),
    });
    const perVersion = store.reads.filter((read) => read.startsWith("GET "));
    expect(perVersion.length).toBeGreaterThanOrEqual(2 * first.length);

    store.reads.length = 0;
    expect(await detail()).toEqual(first);
    expect(store.reads).toEqual([`LIST ${MODEL}/`]);
  });
});
