/**
 * `cutover node`: an inference node — the agent plus the Open Inference Protocol server — built
 * from its configuration. It serves what it last applied before Redis or the store answer.
 */
import { serve } from "@hono/node-server";
import { ArtifactLayout } from "../core/artifact-layout.js";
import type { NodeConfig } from "../core/config.js";
import { ConfigError } from "../core/errors.js";
import { loadTrustedKeys } from "../core/oms/keys.js";
import { createRedis } from "../core/redis/connection.js";
import { FleetState } from "../core/redis/fleet-state.js";
import { RedisBus } from "../core/redis/redis-bus.js";
import { ModelRegistry } from "../core/registry.js";
import { StateKeys } from "../core/state-keys.js";
import { createObjectStore } from "../core/store/index.js";
import { VersionFetcher } from "../core/version-fetcher.js";
import { createNodeApp } from "./http/app.js";
import { NodeMetrics } from "./metrics.js";
import { NodeAgent } from "./node-agent.js";

export interface RunningNode {
  readonly port: number;
  readonly agent: NodeAgent;
  /** Stops accepting, drains requests, releases sessions, leaves the fleet. */
  close(): Promise<void>;
}

export async function startNode(
  config: NodeConfig,
  options: { serverVersion?: string; log?: (line: string) => void } = {},
): Promise<RunningNode> {
  if (config.trustedKeyPaths.length === 0)
    throw new ConfigError("CUTOVER_TRUSTED_KEYS is empty: a node only loads versions signed by a trusted key");
  const trustedKeys = await loadTrustedKeys(config.trustedKeyPaths);
  const redis = createRedis({ url: config.redisUrl, name: `cutover-node-${config.nodeId}` });
  const subscriber = createRedis({ url: config.redisUrl, name: `cutover-node-${config.nodeId}-sub` });
  const fleet = new FleetState(redis, new StateKeys(config.redisPrefix));
  const registry = new ModelRegistry(createObjectStore(config.store), new ArtifactLayout(config.prefix));
  const metrics = new NodeMetrics();
  const agent = new NodeAgent({
    nodeId: config.nodeId,
    url: config.url,
    models: config.models,
    fleet,
    bus: new RedisBus(redis, subscriber),
    fetcher: new VersionFetcher({ registry, cacheDir: config.cacheDir, trustedKeys }),
    trustedKeys,
    runtime: {
      executionProviders: config.executionProviders,
      ...(config.intraOpThreads ? { intraOpThreads: config.intraOpThreads } : {}),
    },
    cacheDir: config.cacheDir,
    keepWarm: config.keepWarm,
    resyncMs: config.resyncMs,
    heartbeatTtlMs: config.heartbeatTtlMs,
    metrics,
    ...(options.log ? { log: options.log } : {}),
  });
  await agent.start();
  const app = createNodeApp({
    agent,
    metrics,
    maxRequestBytes: config.maxRequestBytes,
    serverVersion: options.serverVersion ?? "unknown",
  });
  const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const started = serve({ fetch: app.fetch, port: config.port, hostname: "0.0.0.0" }, () => resolve(started));
  });
  const address = server.address();
  return {
    port: typeof address === "object" && address !== null ? address.port : config.port,
    agent,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      await agent.stop();
      await closed;
      registry.store.close();
      redis.disconnect();
      subscriber.disconnect();
    },
  };
}
