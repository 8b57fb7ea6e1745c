/**
 * Builds a controller: the rollout coordinator and the HTTP app over a backend (Redis for fleets,
 * in-memory for `cutover dev`), the store and the trusted keys, and its webhooks (rollout hooks, the
 * history notification). The server entry, the Lambda entry and the embedded default all use it;
 * `close` releases every connection.
 */
import type { Hono } from "hono";
import { ArtifactLayout } from "../core/artifact-layout.js";
import type { Bus } from "../core/bus.js";
import { type ControllerConfig, DEFAULT_STATE_TIMEOUT_MS } from "../core/config.js";
import { ConfigError } from "../core/errors.js";
import type { FleetStateStore } from "../core/fleet-state.js";
import { loadTrustedKeys, type TrustedKey } from "../core/oms/keys.js";
import { createRedis, replicasToConfirm } from "../core/redis/connection.js";
import { RedisFleetState } from "../core/redis/fleet-state.js";
import { RedisBus } from "../core/redis/redis-bus.js";
import { ModelRegistry } from "../core/registry.js";
import { StateKeys } from "../core/state-keys.js";
import { createObjectStore } from "../core/store/index.js";
import { loadDashboardAssets } from "./dashboard/dashboard-assets.js";
import { FleetFeed } from "./dashboard/fleet-feed.js";
import { TrafficSeries } from "./dashboard/traffic-series.js";
import { type DeliveryTuning, HistoryNotifier, hookSecretKey, RolloutHooks, WebhookSender } from "./hooks/index.js";
import { type ControllerEnv, createControllerApp } from "./http/app.js";
import { type NamedToken, parseTokens } from "./http/tokens.js";
import { ControllerMetrics } from "./metrics.js";
import { ProgressiveRunner } from "./progressive/progressive-runner.js";
import { PrometheusClient } from "./progressive/prometheus-client.js";
import { ReconcileLoop } from "./progressive/reconcile-loop.js";
import { RolloutCoordinator, type RolloutCoordinatorOptions } from "./rollout-coordinator.js";
import { RedisRolloutStore } from "./state/rollout-store.js";
import type { RolloutTransitions } from "./state/rollout-transitions.js";
import { SsmPointerStore } from "./state/ssm-pointer-store.js";
import { VersionCatalog } from "./version-catalog.js";

export interface Controller {
  readonly app: Hono<ControllerEnv>;
  readonly coordinator: RolloutCoordinator;
  /** The state transitions (lock, promotion, history) the coordinator and the runner share. */
  readonly transitions: RolloutTransitions;
  /** Progressive rollouts: start, promote, abort, and the reconcile tick. */
  readonly progressive: ProgressiveRunner;
  /** Ticks rollouts every `intervalMs` until `close` (the server and `cutover dev`; not the Lambda). */
  startReconciling(intervalMs: number, log?: (line: string) => void): void;
  readonly fleet: FleetStateStore;
  readonly registry: ModelRegistry;
  /** Delivers a progressive rollout's webhooks (pre-traffic, step, complete, rollback). */
  readonly hooks: RolloutHooks;
  /** Posts every history entry to CUTOVER_NOTIFY_URL; absent without one. */
  readonly notifier?: HistoryNotifier;
  /** Ends the dashboard's live streams (before the HTTP server closes: it waits for open requests). */
  endStreams(): void;
  close(): Promise<void>;
}

export interface ControllerTuning
  extends Pick<RolloutCoordinatorOptions, "lockTtlMs" | "confirmTimeoutMs" | "recheckMs"> {
  /** Webhook deliveries' per-attempt timeout, attempts and backoff (default 5 s, 3, 0.5 s–5 s). */
  readonly webhooks?: DeliveryTuning;
  /** Where the controller's own lines go (a failed webhook, the unsigned-webhooks notice); stderr by default. */
  readonly log?: (line: string) => void;
  /** Serve the ops dashboard and its live feed (the server and `cutover dev`; not the Lambda). */
  readonly dashboard?: boolean;
  /** Live-feed streams open at once (default 64). */
  readonly dashboardStreams?: number;
}

/**
 * What the controller talks to beside its state and store: webhooks (CUTOVER_NOTIFY_URL,
 * CUTOVER_HOOK_SECRET) and Prometheus for rollouts' own checks (CUTOVER_PROMETHEUS_URL).
 */
export type IntegrationConfig = Pick<ControllerConfig, "notifyUrl" | "hookSecret" | "prometheus">;

/** How long `close` lets notifications in flight finish before cancelling them. */
const NOTIFY_CLOSE_GRACE_MS = 2_000;

function stderrLine(line: string): void {
  process.stderr.write(`${new Date().toISOString()} cutover controller: ${line}\n`);
}

/** What a controller runs on: the state, the transitions and the bus (Redis, or in-memory for `cutover dev`). */
export interface ControllerBackend {
  readonly fleet: FleetStateStore;
  readonly transitions: RolloutTransitions;
  readonly bus: Bus;
  readonly registry: ModelRegistry;
  readonly trustedKeys: readonly TrustedKey[];
  readonly tokens: readonly NamedToken[];
  readonly lockTtlMs: number;
  /** Releases the backend's connections. */
  close(): Promise<void>;
}

/** The controller on any backend: coordinator, metrics, webhooks and the HTTP app. */
export function assembleController(
  backend: ControllerBackend,
  tuning: ControllerTuning = {},
  integrations: IntegrationConfig = {},
): Controller {
  const { fleet, registry, tokens } = backend;
  const {
    webhooks: delivery,
    log = stderrLine,
    dashboard: withDashboard = false,
    dashboardStreams,
    ...timing
  } = tuning;
  const metrics = new ControllerMetrics();
  const sender = new WebhookSender({
    ...delivery,
    ...(integrations.hookSecret !== undefined ? { secret: integrations.hookSecret } : {}),
    onOutcome: (event, outcome) =>
      metrics.recordWebhook(event, outcome.ok ? "delivered" : (outcome.failure ?? "failed")),
  });
  const hooks = new RolloutHooks(sender, log);
  const notifier =
    integrations.notifyUrl === undefined
      ? undefined
      : new HistoryNotifier(sender, integrations.notifyUrl, log, () => metrics.recordWebhook("history", "dropped"));
  const coordinator = new RolloutCoordinator({
    fleet,
    store: backend.transitions,
    bus: backend.bus,
    registry,
    trustedKeys: backend.trustedKeys,
    lockTtlMs: backend.lockTtlMs,
    ...timing,
    onFinished: (model, entry, durationMs) => {
      metrics.recordRollout(model, entry, durationMs);
      notifier?.notify(model, entry);
    },
  });
  const progressive = new ProgressiveRunner({
    coordinator,
    ...(integrations.prometheus !== undefined
      ? { prometheus: new PrometheusClient(integrations.prometheus.url, integrations.prometheus.timeoutMs) }
      : {}),
    fleet,
    store: backend.transitions,
    bus: backend.bus,
    lockTtlMs: backend.lockTtlMs,
    ...(tuning.confirmTimeoutMs !== undefined ? { confirmTimeoutMs: tuning.confirmTimeoutMs } : {}),
    hooks: {
      async run(list, { event, ...payload }) {
        const result = await hooks.run(event, list, payload);
        return { ok: !result.failed, ...(result.reason != null ? { reason: result.reason } : {}) };
      },
    },
    log,
    observer: {
      weight: (model, baseline, candidate, weight) => metrics.observeWeight(model, baseline, candidate, weight),
      analysed: (model, verdict) => metrics.observeAnalysis(model, verdict),
    },
  });
  const versions = new VersionCatalog(registry);
  const feed = withDashboard
    ? new FleetFeed({
        fleet,
        listStored: () => registry.listModels(),
        traffic: new TrafficSeries(),
        ...(dashboardStreams !== undefined ? { maxListeners: dashboardStreams } : {}),
      })
    : undefined;
  const app = createControllerApp({
    coordinator,
    progressive,
    fleet,
    registry,
    versions,
    tokens,
    metrics,
    ...(feed !== undefined ? { dashboard: { feed, assets: loadDashboardAssets() } } : {}),
  });
  let loop: ReconcileLoop | undefined;
  return {
    app,
    coordinator,
    transitions: backend.transitions,
    progressive,
    fleet,
    registry,
    hooks,
    ...(notifier !== undefined ? { notifier } : {}),
    startReconciling(intervalMs, reconcileLog) {
      loop ??= new ReconcileLoop(() => progressive.tickAll(), intervalMs, reconcileLog ?? log);
      loop.start();
      // The dashboard's traffic series too: recorded from the start, whether or not a page is open.
      feed?.start();
    },
    endStreams() {
      feed?.close();
    },
    async close() {
      feed?.close();
      await loop?.stop();
      if (notifier !== undefined) await settledWithin(notifier, NOTIFY_CLOSE_GRACE_MS);
      sender.close();
      await backend.close();
    },
  };
}

/** Waits for the notifications in flight, at most `ms`. */
async function settledWithin(notifier: HistoryNotifier, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([notifier.settled(), new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
  clearTimeout(timer);
}

/** Checks the tokens and keys every controller needs; errors name the variable. */
export async function controllerCredentials(config: Pick<ControllerConfig, "tokens" | "trustedKeyPaths">) {
  const tokens = parseTokens(config.tokens);
  if (tokens.length === 0) throw new ConfigError("CUTOVER_TOKENS is empty: set at least one name:token for changes");
  if (config.trustedKeyPaths.length === 0) {
    throw new ConfigError("CUTOVER_TRUSTED_KEYS is empty: the controller verifies every version it activates");
  }
  return { tokens, trustedKeys: await loadTrustedKeys(config.trustedKeyPaths) };
}

/** The controller of a fleet: state in Redis (the pointer optionally in SSM), artifacts in the configured store. */
export async function createController(config: ControllerConfig, tuning: ControllerTuning = {}): Promise<Controller> {
  const { tokens, trustedKeys } = await controllerCredentials(config);
  // Refused before any connection is made; the key itself is made again where deliveries are signed.
  if (config.hookSecret !== undefined) hookSecretKey(config.hookSecret);
  else (tuning.log ?? stderrLine)("CUTOVER_HOOK_SECRET is unset: webhook deliveries are not signed");
  const timeoutMs = config.stateTimeoutMs;
  const redis = createRedis({ url: config.redisUrl, name: "cutover-controller", timeoutMs });
  const subscriber = createRedis({ url: config.redisUrl, name: "cutover-controller-sub", timeoutMs });
  const fleet = new RedisFleetState(redis, new StateKeys(config.redisPrefix));
  const registry = new ModelRegistry(createObjectStore(config.store), new ArtifactLayout(config.prefix));
  const pointers =
    config.pointers.kind === "ssm"
      ? new SsmPointerStore({
          path: config.pointers.path,
          region: config.pointers.region,
          timeoutMs,
          ...(config.pointers.endpoint ? { endpoint: config.pointers.endpoint } : {}),
        })
      : undefined;
  return assembleController(
    {
      fleet,
      transitions: new RedisRolloutStore(fleet, {
        ...(pointers ? { pointers } : {}),
        replicas: replicasToConfirm(config.redisUrl),
        replicaWaitMs: Math.ceil((timeoutMs ?? DEFAULT_STATE_TIMEOUT_MS) / 2),
      }),
      bus: new RedisBus(redis, subscriber),
      registry,
      trustedKeys,
      tokens,
      lockTtlMs: config.lockTtlMs,
      async close() {
        registry.store.close();
        pointers?.close();
        redis.disconnect();
        subscriber.disconnect();
      },
    },
    tuning,
    config,
  );
}
