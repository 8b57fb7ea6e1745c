/**
 * Builds a controller from its configuration: Redis connections, the store, the trusted keys, the
 * rollout coordinator and the HTTP app. The server entry and the Lambda entry both use it; `close`
 * releases every connection.
 */
import type { Hono } from "hono";
import { ArtifactLayout } from "../core/artifact-layout.js";
import type { ControllerConfig } from "../core/config.js";
import { ConfigError } from "../core/errors.js";
import { loadTrustedKeys } from "../core/oms/keys.js";
import { createRedis } from "../core/redis/connection.js";
import { FleetState } from "../core/redis/fleet-state.js";
import { RedisBus } from "../core/redis/redis-bus.js";
import { ModelRegistry } from "../core/registry.js";
import { StateKeys } from "../core/state-keys.js";
import { createObjectStore } from "../core/store/index.js";
import { type ControllerEnv, createControllerApp } from "./http/app.js";
import { parseTokens } from "./http/tokens.js";
import { ControllerMetrics } from "./metrics.js";
import { RolloutCoordinator, type RolloutCoordinatorOptions } from "./rollout-coordinator.js";
import { RolloutStore } from "./state/rollout-store.js";
import { SsmPointerStore } from "./state/ssm-pointer-store.js";

export interface Controller {
  readonly app: Hono<ControllerEnv>;
  readonly coordinator: RolloutCoordinator;
  readonly fleet: FleetState;
  readonly registry: ModelRegistry;
  close(): Promise<void>;
}

export type ControllerTuning = Pick<RolloutCoordinatorOptions, "lockTtlMs" | "confirmTimeoutMs" | "recheckMs">;

export async function createController(config: ControllerConfig, tuning: ControllerTuning = {}): Promise<Controller> {
  const tokens = parseTokens(config.tokens);
  if (tokens.length === 0) throw new ConfigError("CUTOVER_TOKENS is empty: set at least one name:token for changes");
  if (config.trustedKeyPaths.length === 0)
    throw new ConfigError("CUTOVER_TRUSTED_KEYS is empty: the controller verifies every version it activates");
  const trustedKeys = await loadTrustedKeys(config.trustedKeyPaths);
  const keys = new StateKeys(config.redisPrefix);
  const redis = createRedis({ url: config.redisUrl, name: "cutover-controller" });
  const subscriber = createRedis({ url: config.redisUrl, name: "cutover-controller-sub" });
  const fleet = new FleetState(redis, keys);
  const registry = new ModelRegistry(createObjectStore(config.store), new ArtifactLayout(config.prefix));
  const metrics = new ControllerMetrics();
  const pointers =
    config.pointers.kind === "ssm"
      ? new SsmPointerStore({
          path: config.pointers.path,
          region: config.pointers.region,
          ...(config.pointers.endpoint ? { endpoint: config.pointers.endpoint } : {}),
        })
      : undefined;
  const coordinator = new RolloutCoordinator({
    fleet,
    store: new RolloutStore(fleet, pointers ? { pointers } : {}),
    bus: new RedisBus(redis, subscriber),
    registry,
    trustedKeys,
    lockTtlMs: config.lockTtlMs,
    ...tuning,
    onFinished: (model, entry, durationMs) => metrics.recordRollout(model, entry, durationMs),
  });
  const app = createControllerApp({ coordinator, fleet, registry, tokens, metrics });
  return {
    app,
    coordinator,
    fleet,
    registry,
    async close() {
      registry.store.close();
      pointers?.close();
      redis.disconnect();
      subscriber.disconnect();
    },
  };
}
