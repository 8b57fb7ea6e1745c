/**
 * `cutover dev` (what `npm start` runs): the whole product in one process, with no Redis and no S3.
 * The controller and N inference nodes are the same code as in a fleet; only the backend differs —
 * an in-process bus and in-memory state (saved to `.cutover/state.json` after every change) instead of
 * Redis, a folder under `.cutover/` instead of S3. On first run it makes a signing key and a token,
 * publishes the demo versions and activates v1; a second run reuses what is there, state included.
 * Paths in messages are the ones the user gave (`--dir`), never resolved to absolute ones. This file
 * only composes the two planes.
 */
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { assembleController, controllerCredentials } from "../controller/controller.js";
import { pushVersion } from "../controller/publisher.js";
import { MemoryRolloutStore } from "../controller/state/memory-rollout-store.js";
import { ArtifactLayout } from "../core/artifact-layout.js";
import { DEFAULT_REPLAY, type NodeConfig, parseIntegrationConfig } from "../core/config.js";
import { closeServer, listen } from "../core/http-listen.js";
import { MemoryBus } from "../core/memory/memory-bus.js";
import { MemoryDownloadSlots } from "../core/memory/memory-download-slots.js";
import { MemoryFleetState } from "../core/memory/memory-fleet-state.js";
import { StateFile } from "../core/memory/state-file.js";
import { generateSigningKeyPair, loadSigningKey } from "../core/oms/keys.js";
import { ModelRegistry } from "../core/registry.js";
import { FolderStore } from "../core/store/index.js";
import { type RunningNode, startNodeOn } from "../inference/server.js";

export interface DevOptions {
  /** Where everything lives (default `.cutover`). */
  readonly dir: string;
  /** The address the controller and the nodes listen on (default 127.0.0.1: this machine only). */
  readonly host?: string;
  readonly nodes: number;
  readonly port: number;
  /** The first node's port; the others follow. */
  readonly nodePort: number;
  readonly log: (line: string) => void;
}

export interface RunningDev {
  readonly controllerUrl: string;
  readonly nodeUrls: readonly string[];
  readonly token: string;
  close(): Promise<void>;
}

const DEMO_MODEL = "demo";
const DEMO_VERSIONS = ["v1", "v2", "v3"];
/** The fleet state's file under the dev folder. */
const STATE_FILE = "state.json";

/** models/demo-classifier, from the source tree (bin/) or the build (dist/bin/). */
function demoModelsDir(): string {
  for (const relative of ["../models/demo-classifier", "../../models/demo-classifier"]) {
    const candidate = new URL(relative, import.meta.url);
    if (existsSync(candidate)) return candidate.pathname;
  }
  throw new Error("models/demo-classifier is missing from this installation");
}

async function ensureKey(dir: string, log: DevOptions["log"]): Promise<{ privateKey: string; publicKey: string }> {
  const privateKey = join(dir, "keys", "cutover.key");
  const publicKey = join(dir, "keys", "cutover.pub");
  if (!existsSync(privateKey)) {
    const pair = generateSigningKeyPair();
    await mkdir(join(dir, "keys"), { recursive: true });
    await writeFile(privateKey, pair.privatePem, { mode: 0o600 });
    await writeFile(publicKey, pair.publicPem);
    log(`made a signing key: ${privateKey} (trusted: ${publicKey})`);
  }
  return { privateKey, publicKey };
}

async function ensureToken(dir: string): Promise<string> {
  const path = join(dir, "dev-token");
  if (existsSync(path)) return (await readFile(path, "utf8")).trim();
  const token = randomBytes(18).toString("base64url");
  await writeFile(path, `${token}\n`, { mode: 0o600 });
  await chmod(path, 0o600);
  return token;
}

async function publishDemo(registry: ModelRegistry, privateKey: string, log: DevOptions["log"]): Promise<void> {
  const signingKey = await loadSigningKey(privateKey);
  const demo = demoModelsDir();
  for (const version of DEMO_VERSIONS) {
    if (await registry.isPublished(DEMO_MODEL, version)) continue;
    await pushVersion(registry, {
      path: join(demo, version),
      model: DEMO_MODEL,
      version,
      signingKey,
      goldenPath: join(demo, version, "golden.json"),
      source: { repository: "cutover models/demo-classifier" },
    });
    log(`published ${DEMO_MODEL}/${version}`);
  }
}

/** A URL host for a listen address: a wildcard is reached on loopback, an IPv6 literal in brackets. */
function urlHost(host: string): string {
  if (host === "0.0.0.0" || host === "::") return "127.0.0.1";
  return host.includes(":") ? `[${host}]` : host;
}

export async function startDev(options: DevOptions): Promise<RunningDev> {
  const dir = options.dir;
  const host = options.host ?? "127.0.0.1";
  const reachable = urlHost(host);
  const storeDir = join(dir, "store");
  await mkdir(storeDir, { recursive: true });
  const { privateKey, publicKey } = await ensureKey(dir, options.log);
  const token = await ensureToken(dir);
  const registry = new ModelRegistry(new FolderStore(storeDir), new ArtifactLayout());
  await publishDemo(registry, privateKey, options.log);

  const fleet = await MemoryFleetState.open(new StateFile(join(dir, STATE_FILE)));
  const bus = new MemoryBus();
  const slots = new MemoryDownloadSlots();
  const { tokens, trustedKeys } = await controllerCredentials({ tokens: `dev:${token}`, trustedKeyPaths: [publicKey] });
  const controller = assembleController(
    {
      fleet,
      transitions: new MemoryRolloutStore(fleet),
      bus,
      registry,
      trustedKeys,
      tokens,
      lockTtlMs: 30_000,
      close: async () => registry.store.close(),
    },
    { dashboard: true },
    // Webhooks and Prometheus from the environment, as a fleet's controller takes them.
    parseIntegrationConfig(process.env),
  );
  // Progressive rollouts advance on this tick (bake over → analysis → next step or rollback).
  controller.startReconciling(1_000, options.log);
  const { server } = await listen(controller.app.fetch, options.port, host);

  const nodes: RunningNode[] = [];
  for (let i = 0; i < options.nodes; i++) {
    const port = options.nodePort + i;
    const config: NodeConfig = {
      store: { kind: "folder", dir: storeDir },
      prefix: "",
      trustedKeyPaths: [publicKey],
      cacheDir: join(dir, "cache", `node-${i + 1}`),
      redisUrl: "memory:",
      redisPrefix: fleet.keys.prefix,
      nodeId: `node-${i + 1}`,
      url: `http://${reachable}:${port}`,
      port,
      // Every model with state: one pushed into the store while dev runs can be activated too.
      models: [],
      executionProviders: ["cpu"],
      keepWarm: 1,
      replay: DEFAULT_REPLAY,
      cacheSpare: 2,
      resyncMs: 5_000,
      heartbeatTtlMs: 15_000,
      maxRequestBytes: 16 * 1024 * 1024,
    };
    nodes.push(
      await startNodeOn({ fleet, bus, slots, close: () => undefined }, config, {
        serverVersion: "dev",
        log: options.log,
        host,
      }),
    );
  }

  const state = await fleet.getModelState(DEMO_MODEL);
  if (state.active === null) {
    // Nodes join in the background; the first activation must find them registered.
    await Promise.all(nodes.map((node) => node.agent.joined));
    const result = await controller.coordinator.activate({ model: DEMO_MODEL, version: "v1", by: "dev" });
    options.log(result.message);
  }
  return {
    controllerUrl: `http://${reachable}:${options.port}`,
    nodeUrls: nodes.map((node) => `http://${reachable}:${node.port}`),
    token,
    async close() {
      for (const node of nodes) await node.close();
      controller.endStreams();
      await closeServer(server);
      await controller.close();
    },
  };
}

/** The lines `cutover dev` prints once it is up: where things are and what to type. */
export function devBanner(dev: RunningDev, dir: string): string[] {
  const node = dev.nodeUrls[0] ?? "";
  const request = `'{"inputs":[{"name":"features","shape":[1,4],"datatype":"FP32","data":[0.5,-1.2,3.3,0.1]}]}'`;
  return [
    "",
    `cutover dev is up: controller ${dev.controllerUrl}, node(s) ${dev.nodeUrls.join(", ")}`,
    `state in ${join(dir, STATE_FILE)}; versions, keys and caches in ${dir}/`,
    "",
    `Dashboard: ${dev.controllerUrl}/ (to flip versions there, paste the token ${dev.token})`,
    "",
    "Ask the model (answers name model_version):",
    `  curl -s ${node}/v2/models/demo/infer -d ${request}`,
    "",
    "Flip it, watch the answers change, and roll back (in another terminal):",
    `  export CUTOVER_URL=${dev.controllerUrl} CUTOVER_TOKEN=${dev.token} CUTOVER_STORE_DIR=${dir}/store`,
    "  npx cutover activate demo v2",
    "  npx cutover rollback demo",
    "  npx cutover status demo",
    "  npx cutover history demo",
    "",
    "Deploy a model of your own (an .onnx file or a folder holding model.onnx; SAMPLE.json is an infer request):",
    `  npx cutover push MODEL.onnx --model NAME --version v1 --key ${dir}/keys/cutover.key --sample SAMPLE.json`,
    "  npx cutover activate NAME v1",
    "",
    "Ctrl-C stops everything.",
  ];
}
