/**
 * Everything a controller test needs, real: a redis-server, an S3-protocol server with the demo
 * versions pushed (v1, v2 and the incompatible v3, plus v9 signed by an untrusted key), a trusted
 * public key on disk, and a controller built from a configuration like the one `cutover controller`
 * parses; also v4 (v1's files again) and the bad versions of pushBadVersions. Scripted nodes are
 * made per test, each test on its own Redis key prefix.
 */
import { cp, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type Controller, type ControllerTuning, createController } from "../../controller/controller.js";
import { pushVersion } from "../../controller/publisher.js";
import { ArtifactLayout } from "../../core/artifact-layout.js";
import type { ControllerConfig } from "../../core/config.js";
import type { SigningKey } from "../../core/oms/keys.js";
import { serializeBundle, signFolder } from "../../core/oms/signer.js";
import { ModelRegistry } from "../../core/registry.js";
import { type ObjectStore, readObject, S3Store } from "../../core/store/index.js";
import { type RedisTestServer, startRedisServer } from "./redis-server.js";
import { DEMO } from "./registry-contract.js";
import { type S3TestServer, startS3Server } from "./s3-server.js";
import { ScriptedNode, type ScriptedNodeOptions } from "./scripted-node.js";
import { testKeyPair } from "./signing.js";
import { tempDir } from "./temp-dir.js";

export const TOKEN = "ops-token-0123456789abcdef";
export const MODEL = "demo";
export const HOOK_SECRET = "harness-hook-secret-0123456789abcdef";

export interface ControllerHarness {
  readonly redis: RedisTestServer;
  readonly s3: S3TestServer;
  readonly env: Record<string, string>;
  config(prefix: string): ControllerConfig;
  controller(prefix: string, tuning?: ControllerTuning, overrides?: Partial<ControllerConfig>): Promise<Controller>;
  node(prefix: string, nodeId: string, script: Partial<ScriptedNodeOptions>): Promise<ScriptedNode>;
  /**
   * Publishes one of the demo versions' folders as `model`/`version`, signed by the trusted key; with
   * `corrupt`, a byte of its model.onnx is changed after signing (it passes the controller's signature
   * check and fails on a node with DIGEST_MISMATCH).
   */
  publish(
    model: string,
    version: string,
    from: "v1" | "v2" | "fails-negative",
    options?: { corrupt?: boolean },
  ): Promise<void>;
  stop(): Promise<void>;
}

/** Changes one byte of a stored object, after it was signed. */
async function corruptObject(store: ObjectStore, key: string): Promise<void> {
  const bytes = await readObject(store, key);
  bytes[bytes.length - 3] = (bytes[bytes.length - 3] ?? 0) ^ 0x10;
  await store.put(key, bytes);
}

/**
 * Versions that pass the controller's checks but must fail on a node, each for its own reason:
 * bad-byte (a changed byte in model.onnx), extra (an unsigned file beside it), not-onnx (signed
 * bytes that are no ONNX model), golden-bad (v2's weights with v1's golden vectors).
 */
async function pushBadVersions(registry: ModelRegistry, signer: SigningKey, workDir: string): Promise<void> {
  const { store, layout } = registry;
  // From v2's files: a node serving v1 has none of them cached, so it must download (and check) them.
  for (const version of ["bad-byte", "extra"]) {
    await pushVersion(registry, { path: join(DEMO, "v2"), model: MODEL, version, signingKey: signer });
  }
  await corruptObject(store, layout.fileKey(MODEL, "bad-byte", "model.onnx"));
  await store.put(layout.fileKey(MODEL, "extra", "payload.sh"), Buffer.from("#!/bin/sh\n"));

  const notOnnx = join(workDir, "not-onnx");
  await mkdir(notOnnx, { recursive: true });
  await writeFile(join(notOnnx, "model.onnx"), "this is not an ONNX model");
  await cp(join(DEMO, "v1/labels.txt"), join(notOnnx, "labels.txt"));
  await writeFile(
    join(notOnnx, "cutover.json"),
    JSON.stringify({ ...(await registry.readModelCard(MODEL, "v1")), version: "not-onnx" }),
  );
  const { bundle } = await signFolder(notOnnx, signer, { subjectName: MODEL });
  for (const name of ["model.onnx", "labels.txt", "cutover.json"]) {
    await store.put(layout.fileKey(MODEL, "not-onnx", name), await readFile(join(notOnnx, name)));
  }
  await store.put(layout.signatureKey(MODEL, "not-onnx"), Buffer.from(serializeBundle(bundle)));

  await pushVersion(registry, {
    path: join(DEMO, "v2/model.onnx"),
    model: MODEL,
    version: "golden-bad",
    signingKey: signer,
    goldenPath: join(DEMO, "v1/golden.json"),
  });
}

export async function startControllerHarness(options: { persistRedis?: boolean } = {}): Promise<ControllerHarness> {
  const [redis, s3, work] = await Promise.all([
    startRedisServer({ persist: options.persistRedis ?? false }),
    startS3Server(),
    tempDir(),
  ]);
  const owner = testKeyPair();
  const stranger = testKeyPair();
  const publicKey = join(work.path, "trusted.pub");
  await writeFile(publicKey, owner.publicPem);
  const bucket = await s3.createBucket("controller");
  const store = new S3Store({ bucket, endpoint: s3.endpoint, forcePathStyle: true, credentials: s3.credentials });
  const registry = new ModelRegistry(store, new ArtifactLayout());
  for (const version of ["v1", "v2", "v3"]) {
    await pushVersion(registry, { path: join(DEMO, version), model: MODEL, version, signingKey: owner.signer });
  }
  await pushVersion(registry, { path: join(DEMO, "v1"), model: MODEL, version: "v4", signingKey: owner.signer });
  await pushVersion(registry, { path: join(DEMO, "v2"), model: MODEL, version: "v9", signingKey: stranger.signer });
  await pushBadVersions(registry, owner.signer, work.path);
  store.close();

  const env: Record<string, string> = {
    CUTOVER_REDIS_URL: redis.url,
    CUTOVER_S3_ENDPOINT: s3.endpoint,
    CUTOVER_S3_BUCKET: bucket,
    CUTOVER_S3_FORCE_PATH_STYLE: "true",
    CUTOVER_TRUSTED_KEYS: publicKey,
    CUTOVER_TOKENS: `alice:${TOKEN},bob:bob-token-0123456789abcdef`,
    AWS_ACCESS_KEY_ID: s3.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey,
  };
  const nodes: ScriptedNode[] = [];
  const controllers: Controller[] = [];
  const config = (prefix: string): ControllerConfig => ({
    store: { kind: "s3", bucket, endpoint: s3.endpoint, region: "us-east-1", forcePathStyle: true },
    prefix: "",
    trustedKeyPaths: [publicKey],
    cacheDir: join(work.path, "cache"),
    redisUrl: redis.url,
    redisPrefix: prefix,
    pointers: { kind: "redis" },
    tokens: env.CUTOVER_TOKENS ?? "",
    port: 0,
    lockTtlMs: 3_000,
    reconcileMs: 200,
    // Webhook deliveries are signed, as in production (and the controller says nothing about it).
    hookSecret: HOOK_SECRET,
  });
  process.env.AWS_ACCESS_KEY_ID = s3.credentials.accessKeyId;
  process.env.AWS_SECRET_ACCESS_KEY = s3.credentials.secretAccessKey;
  return {
    redis,
    s3,
    env,
    config,
    async controller(prefix, tuning = {}, overrides = {}) {
      const controller = await createController(
        { ...config(prefix), ...overrides },
        { confirmTimeoutMs: 3_000, recheckMs: 100, ...tuning },
      );
      controllers.push(controller);
      return controller;
    },
    async node(prefix, nodeId, script) {
      const node = await new ScriptedNode({
        redisUrl: redis.url,
        prefix,
        nodeId,
        model: MODEL,
        onPrepare: "stage",
        ...script,
      }).start();
      nodes.push(node);
      return node;
    },
    async publish(model, version, from, options = {}) {
      const publisher = new ModelRegistry(
        new S3Store({ bucket, endpoint: s3.endpoint, forcePathStyle: true, credentials: s3.credentials }),
        new ArtifactLayout(),
      );
      try {
        await pushVersion(publisher, { path: join(DEMO, from), model, version, signingKey: owner.signer });
        if (options.corrupt) {
          await corruptObject(publisher.store, publisher.layout.fileKey(model, version, "model.onnx"));
        }
      } finally {
        publisher.store.close();
      }
    },
    async stop() {
      await Promise.all(nodes.map((node) => node.close()));
      await Promise.all(controllers.map((controller) => controller.close()));
      await Promise.all([redis.stop(), s3.stop(), work.cleanup()]);
    },
  };
}
