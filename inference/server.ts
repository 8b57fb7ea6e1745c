/**
 * `cutover node`: an inference node — the agent plus the Open Inference Protocol server — built
 * from its configuration. It serves what it last applied before Redis or the store answer.
 */

import { ArtifactLayout } from "../core/artifact-layout.js";
import type { Bus } from "../core/bus.js";
import { DEFAULT_FETCH_FANIN, DEFAULT_NODE_HTTP_LIMITS, type NodeConfig } from "../core/config.js";
import { DownloadGate } from "../core/download-gate.js";
import type { DownloadSlots } from "../core/download-slots.js";
import { ConfigError } from "../core/errors.js";
import type { FleetStateStore } from "../core/fleet-state.js";
import { closeServer, listen } from "../core/http-listen.js";
import { loadTrustedKeys } from "../core/oms/keys.js";
import { createRedis } from "../core/redis/connection.js";
import { RedisDownloadSlots } from "../core/redis/download-slots.js";
import { RedisFleetState } from "../core/redis/fleet-state.js";
import { RedisBus } from "../core/redis/redis-bus.js";
import { ModelRegistry } from "../core/registry.js";
import { StateKeys } from "../core/state-keys.js";
import { createObjectStore } from "../core/store/index.js";
import { VersionFetcher } from "../core/version-fetcher.js";
import { createNodeApp } from "./http/app.js";
import { throttledErrorLog } from "./http/error-log.js";
import { InferEndpoint } from "./http/infer.js";
import { inferRoute } from "./http/infer-route.js";
import { NodeMetrics } from "./metrics.js";
import { NodeAgent } from "./node-agent.js";

export interface RunningNode {
  readonly port: number;
  readonly agent: NodeAgent;
  /** Stops accepting, drains requests, releases sessions, leaves the fleet. */
  close(): Promise<void>;
}

/** What a node runs on: the fleet state and the bus (Redis, or in-memory for `cutover dev`). */
export interface NodeBackend {
  readonly fleet: FleetStateStore;
  readonly bus: Bus;
  /** The fleet-wide download slots (CUTOVER_FETCH_FANIN) in the same state store. */
  readonly slots: DownloadSlots;
  /** Releases the backend's connections. */
  close(): void;
}

/** A node of a fleet: state and bus on Redis. */
export async function startNode(
  config: NodeConfig,
  options: { serverVersion?: string; log?: (line: string) => void } = {},
): Promise<RunningNode> {
  const timeoutMs = config.stateTimeoutMs;
  const redis = createRedis({ url: config.redisUrl, name: `cutover-node-${config.nodeId}`, timeoutMs });
  const subscriber = createRedis({ url: config.redisUrl, name: `cutover-node-${config.nodeId}-sub`, timeoutMs });
  const keys = new StateKeys(config.redisPrefix);
  const backend: NodeBackend = {
    fleet: new RedisFleetState(redis, keys),
    bus: new RedisBus(redis, subscriber),
    slots: new RedisDownloadSlots(redis, keys),
    close() {
      redis.disconnect();
      subscriber.disconnect();
    },
  };
  try {
    return await startNodeOn(backend, config, options);
  } catch (error) {
    backend.close();
    throw error;
  }
}

/**
 * A node on any backend: loads what it last applied, listens — on every address unless `host` names
 * one (`cutover dev` keeps its nodes on 127.0.0.1) — and joins the fleet in the background
 * (`agent.joined`), so it serves its cached versions before the state store has answered.
 */
export async function startNodeOn(
  backend: NodeBackend,
  config: NodeConfig,
  options: { serverVersion?: string; log?: (line: string) => void; host?: string } = {},
): Promise<RunningNode> {
  if (config.trustedKeyPaths.length === 0) {
    throw new ConfigError("CUTOVER_TRUSTED_KEYS is empty: a node only loads versions signed by a trusted key");
  }
  const trustedKeys = await loadTrustedKeys(config.trustedKeyPaths);
  const registry = new ModelRegistry(createObjectStore(config.store), new ArtifactLayout(config.prefix));
  const metrics = new NodeMetrics();
  const logLine = options.log;
  const gate = new DownloadGate({
    slots: backend.slots,
    holder: config.nodeId,
    limit: config.fetchFanIn ?? DEFAULT_FETCH_FANIN,
    // A node that dies frees its slot when it stops counting as live.
    ttlMs: config.heartbeatTtlMs,
    ...(logLine ? { log: (line: string) => logLine(`node ${config.nodeId}: ${line}`) } : {}),
  });
  const fetcher = new VersionFetcher({
    registry,
    cacheDir: config.cacheDir,
    trustedKeys,
    gate,
    ...(config.ranged ? { ranged: config.ranged } : {}),
  });
  const agent = new NodeAgent({
    nodeId: config.nodeId,
    url: config.url,
    models: config.models,
    fleet: backend.fleet,
    bus: backend.bus,
    fetcher,
    trustedKeys,
    runtime: {
      executionProviders: config.executionProviders,
      ...(config.intraOpThreads ? { intraOpThreads: config.intraOpThreads } : {}),
      ...(config.instances !== undefined ? { instances: config.instances } : {}),
      ...(config.maxBatch !== undefined ? { maxBatch: config.maxBatch } : {}),
      ...(config.workerNice !== undefined ? { workerNice: config.workerNice } : {}),
      ...(config.batchDelayUs !== undefined ? { batchDelayUs: config.batchDelayUs } : {}),
      observe: (model, version) => metrics.executionObserver(model, version),
    },
    cacheDir: config.cacheDir,
    keepWarm: config.keepWarm,
    replay: config.replay,
    ...(config.warmupSymbolicDim ? { warmup: { symbolicDim: config.warmupSymbolicDim } } : {}),
    cacheSpare: config.cacheSpare,
    resyncMs: config.resyncMs,
    heartbeatTtlMs: config.heartbeatTtlMs,
    metrics,
    ...(options.log ? { log: options.log } : {}),
  });
  await agent.start();
  const endpoint = new InferEndpoint(agent, metrics);
  const log = throttledErrorLog((message, error) => console.error(message, error));
  const app = createNodeApp({
    log,
    agent,
    metrics,
    endpoint,
    maxRequestBytes: config.maxRequestBytes,
    serverVersion: options.serverVersion ?? "unknown",
  });
  const front = inferRoute(endpoint, config.maxRequestBytes, log);
  const limits = config.http ?? DEFAULT_NODE_HTTP_LIMITS;
  const { server, port } = await listen(app.fetch, config.port, options.host ?? "0.0.0.0", front, limits).catch(
    async (error: unknown) => {
      await agent.stop(0);
      throw error;
    },
  );
  server.on("drop", () => metrics.refusedConnections.inc());
  return {
    port,
    agent,
    async close() {
      const closed = closeServer(server);
      await agent.stop();
      await closed;
      registry.store.close();
      backend.close();
    },
  };
}
