/**
 * A whole fleet as separate processes on loopback: redis-server, s3rver, `cutover controller` and
 * three `cutover node` processes. Each node reaches Redis and S3 through its own cutting proxy, so a
 * test can cut one node off the bus or the store without touching the others.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { cp, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type PushSource, pushVersion } from "../../controller/publisher.js";
import { ArtifactLayout } from "../../core/artifact-layout.js";
import { ModelRegistry } from "../../core/registry.js";
import { readObject, S3Store } from "../../core/store/index.js";
import { MODEL, TOKEN } from "./controller-harness.js";
import { type CuttingProxy, startCuttingProxy } from "./cutting-proxy.js";
import { freePort, waitForPort } from "./free-port.js";
import { type RedisTestServer, startRedisServer } from "./redis-server.js";
import { DEMO } from "./registry-contract.js";
import { type S3TestServer, startS3Server } from "./s3-server.js";
import { testKeyPair } from "./signing.js";
import { tempDir } from "./temp-dir.js";

const ROOT = join(import.meta.dirname, "../..");

export interface FleetProcess {
  readonly name: string;
  readonly port: number;
  readonly url: string;
  child: ChildProcess;
  log: string;
  start(): Promise<void>;
  kill(): Promise<void>;
}

export interface NodeProcess extends FleetProcess {
  readonly redisProxy: CuttingProxy;
  readonly s3Proxy: CuttingProxy;
}

export interface Fleet {
  readonly redis: RedisTestServer;
  readonly s3: S3TestServer;
  readonly controller: FleetProcess;
  readonly nodes: NodeProcess[];
  readonly env: Record<string, string>;
  activate(
    version: string,
    extra?: Record<string, unknown>,
  ): Promise<{ status: number; body: Record<string, unknown> }>;
  rollback(): Promise<{ status: number; body: Record<string, unknown> }>;
  /** Activates a version of any model (the `models` pushed besides the demo). */
  activateModel(model: string, version: string): Promise<{ status: number; body: Record<string, unknown> }>;
  rollbackModel(model: string): Promise<{ status: number; body: Record<string, unknown> }>;
  stop(): Promise<void>;
}

/** A model pushed besides the demo: its model.onnx and golden vectors, as v1 (or as each of `versions`). */
export interface ExtraModel {
  readonly model: string;
  readonly modelFile: string;
  readonly goldenPath?: string;
  readonly versions?: readonly string[];
}

function processOf(
  name: string,
  port: number,
  args: string[],
  env: Record<string, string>,
  ready: string,
  compiled = false,
  nodeArgs: readonly string[] = [],
): FleetProcess {
  const entry: FleetProcess = {
    name,
    port,
    url: `http://127.0.0.1:${port}`,
    child: undefined as unknown as ChildProcess,
    log: "",
    async start() {
      const command = compiled ? [join(ROOT, "bin/cutover.js")] : ["--import", "tsx", join(ROOT, "bin/main.ts")];
      entry.child = spawn(process.execPath, [...nodeArgs, ...command, ...args], {
        cwd: ROOT,
        env: { ...process.env, ...env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" },
        stdio: ["ignore", "ignore", "pipe"],
      });
      entry.child.stderr?.on("data", (chunk: Buffer) => {
        entry.log += chunk.toString();
      });
      await waitForPort(port, 30_000).catch((error: unknown) => {
        throw new Error(`${name} does not listen: ${String(error)}\n${entry.log}`);
      });
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline) {
        // Something else may answer on the port: a child that exited did not come up, whatever answers.
        if (entry.child.exitCode !== null) throw new Error(`${name} exited (${entry.child.exitCode}):\n${entry.log}`);
        const ok = await fetch(`${entry.url}${ready}`).then(
          (response) => response.status < 500 || response.status === 503,
          () => false,
        );
        if (ok) return;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      throw new Error(`${name} did not come up:\n${entry.log}`);
    },
    async kill() {
      const child = entry.child;
      if (child.exitCode !== null || child.signalCode !== null) return;
      await new Promise<void>((resolve) => {
        child.once("exit", () => resolve());
        child.kill("SIGKILL");
      });
    },
  };
  return entry;
}

export async function startFleet(
  options: {
    nodes?: number;
    lockTtlMs?: number;
    nodeEnv?: Record<string, string>;
    /** Run the compiled build (bin/cutover.js → dist/, as installed) instead of the sources through tsx. */
    compiled?: boolean;
    /** Flags for the node processes' runtime (e.g. --expose-gc). */
    nodeArgs?: readonly string[];
    /** More versions of the model, pushed (signed) from these folders, e.g. another model for a benchmark. */
    versions?: readonly { version: string; path: string; source?: PushSource }[];
    /** Models pushed as v1 besides the demo. */
    models?: readonly ExtraModel[];
    /** Per node (by index), variables over `nodeEnv` (e.g. another CUTOVER_MODELS each). */
    perNodeEnv?: readonly Record<string, string>[];
    /** Redis keeps an fsync'd append-only file, so a restart brings the data back (default true). */
    persistRedis?: boolean;
  } = {},
): Promise<Fleet> {
  const [redis, s3, work] = await Promise.all([
    startRedisServer({ persist: options.persistRedis ?? true }),
    startS3Server(),
    tempDir("cutover-fleet-"),
  ]);
  const owner = testKeyPair();
  const publicKey = join(work.path, "trusted.pub");
  await writeFile(publicKey, owner.publicPem);
  const bucket = await s3.createBucket("fleet");
  const store = new S3Store({ bucket, endpoint: s3.endpoint, forcePathStyle: true, credentials: s3.credentials });
  const registry = new ModelRegistry(store, new ArtifactLayout());
  for (const version of ["v1", "v2"]) {
    await pushVersion(registry, {
      path: join(DEMO, version),
      model: MODEL,
      version,
      signingKey: owner.signer,
      goldenPath: join(DEMO, version, "golden.json"),
    });
  }
  // v5: v1's files under a new name (nodes must fetch its signature). bad: v2's files plus a side file
  // no node has cached (a cached file is served from its verified local copy), one byte of it changed.
  await pushVersion(registry, { path: join(DEMO, "v1"), model: MODEL, version: "v5", signingKey: owner.signer });
  for (const { version, path, source } of options.versions ?? [])
    await pushVersion(registry, {
      path,
      model: MODEL,
      version,
      signingKey: owner.signer,
      ...(source ? { source } : {}),
    });
  const badDir = join(work.path, "bad");
  await cp(join(DEMO, "v2"), badDir, { recursive: true });
  await writeFile(join(badDir, "calibration.bin"), randomBytes(4096));
  await pushVersion(registry, { path: badDir, model: MODEL, version: "bad", signingKey: owner.signer });
  const badKey = registry.layout.fileKey(MODEL, "bad", "calibration.bin");
  const bytes = await readObject(store, badKey);
  bytes[bytes.length - 5] = (bytes[bytes.length - 5] ?? 0) ^ 0x20;
  await store.put(badKey, bytes);
  for (const extra of options.models ?? []) {
    for (const version of extra.versions ?? ["v1"]) {
      await pushVersion(registry, {
        path: extra.modelFile,
        model: extra.model,
        version,
        signingKey: owner.signer,
        ...(extra.goldenPath !== undefined ? { goldenPath: extra.goldenPath } : {}),
      });
    }
  }
  store.close();

  const env: Record<string, string> = {
    CUTOVER_S3_BUCKET: bucket,
    CUTOVER_S3_FORCE_PATH_STYLE: "true",
    CUTOVER_TRUSTED_KEYS: publicKey,
    AWS_ACCESS_KEY_ID: s3.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey,
    CUTOVER_REDIS_PREFIX: "fleet:",
  };
  const controllerPort = await freePort();
  const controller = processOf(
    "controller",
    controllerPort,
    ["controller"],
    {
      ...env,
      CUTOVER_PORT: String(controllerPort),
      CUTOVER_REDIS_URL: redis.url,
      CUTOVER_S3_ENDPOINT: s3.endpoint,
      CUTOVER_TOKENS: `ops:${TOKEN}`,
      CUTOVER_ROLLOUT_LOCK_TTL_MS: String(options.lockTtlMs ?? 3_000),
    },
    "/healthz",
    options.compiled,
  );
  await controller.start();

  const s3Port = Number(new URL(s3.endpoint).port);
  const nodes: NodeProcess[] = [];
  for (let i = 1; i <= (options.nodes ?? 3); i++) {
    const [redisProxy, s3Proxy, port] = await Promise.all([
      startCuttingProxy(redis.port),
      startCuttingProxy(s3Port),
      freePort(),
    ]);
    const node = processOf(
      `n${i}`,
      port,
      ["node"],
      {
        ...env,
        CUTOVER_REDIS_URL: `redis://127.0.0.1:${redisProxy.port}`,
        CUTOVER_S3_ENDPOINT: s3Proxy.endpoint,
        CUTOVER_NODE_ID: `n${i}`,
        CUTOVER_PORT: String(port),
        CUTOVER_MODELS: MODEL,
        CUTOVER_CACHE_DIR: join(work.path, `cache-n${i}`),
        CUTOVER_RESYNC_MS: "1000",
        CUTOVER_HEARTBEAT_TTL_MS: "3000",
        ...options.nodeEnv,
        ...options.perNodeEnv?.[i - 1],
      },
      "/v2/health/live",
      options.compiled,
      options.nodeArgs,
    ) as NodeProcess;
    Object.assign(node, { redisProxy, s3Proxy });
    nodes.push(node);
  }
  await Promise.all(nodes.map((node) => node.start()));
  // A node listens before it has joined the fleet; the tests start once the controller sees them all.
  const nodeIds = nodes.map((node) => node.name).sort();
  const joinedBy = Date.now() + 30_000;
  for (;;) {
    const listed: string[] = await fetch(`${controller.url}/v1/nodes`)
      .then((response) => response.json() as Promise<{ nodes?: { nodeId: string }[] }>)
      .then(
        (body) => (body.nodes ?? []).map((node) => node.nodeId),
        () => [],
      );
    if (nodeIds.every((id) => listed.includes(id))) break;
    if (Date.now() > joinedBy)
      throw new Error(`nodes ${nodeIds.join(", ")} did not join; the controller lists ${listed}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }

  const change = async (path: string, body: unknown) => {
    const response = await fetch(`${controller.url}${path}`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
  return {
    redis,
    s3,
    controller,
    nodes,
    env,
    activate: (version, extra = {}) => change(`/v1/models/${MODEL}/activate`, { version, timeoutMs: 20_000, ...extra }),
    rollback: () => change(`/v1/models/${MODEL}/rollback`, {}),
    activateModel: (model, version) => change(`/v1/models/${model}/activate`, { version, timeoutMs: 60_000 }),
    rollbackModel: (model) => change(`/v1/models/${model}/rollback`, {}),
    async stop() {
      await Promise.all([controller.kill(), ...nodes.map((node) => node.kill())]);
      await Promise.all(nodes.flatMap((node) => [node.redisProxy.close(), node.s3Proxy.close()]));
      await Promise.all([redis.stop(), s3.stop(), work.cleanup()]);
    },
  };
}
