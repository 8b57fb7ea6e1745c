/**
 * The node agent: keeps this node's models converged on the fleet state, one reconciler per model
 * (model-reconciler.ts: the cycle that compares desired with actual, converges and records status).
 *
 *   start    load what was last applied from the local cache (re-verified) and serve it; in the
 *            background subscribe, resync, heartbeat — Redis or S3 being down, or never answering,
 *            neither delays nor stops serving
 *   messages each command goes to its model's reconciler, which records it and queues a cycle
 *   resync   every ~5 s (jittered) and on every reconnect: each model re-reads its state and
 *            converges, so a missed message costs one interval
 *   status   the heartbeat record (every TTL/3, and at once when a model's status changes), the
 *            resident-session gauges, the disk cache pruned after each swap. A split's traffic
 *            counts go out with every TTL/3 record: the controller's analysis reads them there
 *
 * Background loops never throw: failures are recorded as the model's lastError and retried on the
 * next resync.
 */
import type { Bus, Unsubscribe } from "../core/bus.js";
import { errorMessage } from "../core/errors.js";
import type { FleetStateStore } from "../core/fleet-state.js";
import { type CommandMessage, parseCommand } from "../core/messages.js";
import type { NodeRecord } from "../core/model-state.js";
import type { TrustedKey } from "../core/oms/keys.js";
import type { VersionFetcher } from "../core/version-fetcher.js";
import { AppliedStore } from "./applied-record.js";
import { DesiredVersions } from "./desired-versions.js";
import type { NodeMetrics } from "./metrics.js";
import { ModelReconciler, type ReconcilerContext } from "./model-reconciler.js";
import type { ModelSlot } from "./model-slot.js";
import type { ReplayLimits } from "./replay-buffer.js";
import { showActiveVersions, showResidentSessions, showSplitWeights } from "./serving-gauges.js";
import { type RuntimeOptions, SessionOpener } from "./session-opener.js";
import { VersionStager } from "./version-stager.js";
import type { WarmupOptions } from "./warm-up.js";

export interface NodeAgentOptions {
  readonly nodeId: string;
  readonly url: string;
  /** Models this node serves; empty: every model that has state. */
  readonly models: readonly string[];
  readonly fleet: FleetStateStore;
  readonly bus: Bus;
  readonly fetcher: VersionFetcher;
  readonly trustedKeys: readonly TrustedKey[];
  readonly runtime: RuntimeOptions;
  /** Synthetic warm-up settings for versions without golden vectors. */
  readonly warmup?: WarmupOptions;
  readonly cacheDir: string;
  readonly keepWarm: number;
  /** Recent requests kept per model and replayed on a staged candidate (default: none). */
  readonly replay?: ReplayLimits;
  /** Versions per model kept in the disk cache beyond the resident ones (default 2). */
  readonly cacheSpare?: number;
  readonly resyncMs: number;
  readonly heartbeatTtlMs: number;
  readonly metrics: NodeMetrics;
  readonly log?: (line: string) => void;
}

export class NodeAgent {
  private readonly reconcilers = new Map<string, ModelReconciler>();
  /** Each model's slot, for the HTTP layer: the reconciler owns it. */
  private readonly slotsByModel = new Map<string, ModelSlot>();
  private readonly subscriptions = new Map<string, Unsubscribe>();
  private readonly applied: AppliedStore;
  /** Makes every session; remembers, for this agent's life, the execution providers that cannot start. */
  private readonly sessions: SessionOpener;
  private readonly context: ReconcilerContext;
  /** Per model, the active version this node should serve, as it last learnt it (readiness). */
  private readonly desired = new DesiredVersions();
  private readonly startedAt = new Date().toISOString();
  private resyncTimer: NodeJS.Timeout | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private stopReconnect: (() => void) | undefined;
  private joining: Promise<void> = Promise.resolve();
  private lastHeartbeat: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(private readonly options: NodeAgentOptions) {
    const log = (line: string) => this.log(line);
    this.applied = new AppliedStore(options.cacheDir, log);
    this.sessions = new SessionOpener({ ...options.runtime, log });
    const stager = new VersionStager({
      fetcher: options.fetcher,
      trustedKeys: options.trustedKeys,
      sessions: this.sessions,
      metrics: options.metrics,
      ...(options.warmup ? { warmup: options.warmup } : {}),
      log,
    });
    this.context = {
      nodeId: options.nodeId,
      keepWarm: options.keepWarm,
      ...(options.replay !== undefined ? { replay: options.replay } : {}),
      fleet: options.fleet,
      bus: options.bus,
      stager,
      applied: this.applied,
      versions: this.desired,
      served: (model, version, kind) => this.served(model, version, kind),
      residentChanged: () => showResidentSessions(options.metrics, this.slotsByModel),
      statusChanged: () => void this.heartbeat(),
      splitChanged: () => {
        showSplitWeights(options.metrics, this.slotsByModel);
        void this.heartbeat();
      },
      pruneCache: () => void this.pruneCache(),
      log,
    };
  }

  private log(line: string): void {
    this.options.log?.(`node ${this.options.nodeId}: ${line}`);
  }

  /** Each model's slot (what it serves, keeps warm and has staged), by model. */
  get slots(): ReadonlyMap<string, ModelSlot> {
    return this.slotsByModel;
  }

  /** The reconciler of a model, made on first use. */
  private reconciler(model: string): ModelReconciler {
    let reconciler = this.reconcilers.get(model);
    if (reconciler === undefined) {
      reconciler = new ModelReconciler(model, this.context);
      this.reconcilers.set(model, reconciler);
      this.slotsByModel.set(model, reconciler.slot);
    }
    return reconciler;
  }

  /**
   * Ready (`/v2/health/ready`): it serves the desired active version of every model it is assigned that
   * has one, and there is at least one. Before any state was read that is what applied.json names.
   * In-memory only: no I/O, nothing awaited.
   */
  ready(): boolean {
    return this.desired.ready((model) => this.slotsByModel.get(model)?.active?.version);
  }

  private serves(model: string): boolean {
    return this.options.models.length === 0 || this.options.models.includes(model);
  }

  /**
   * Loads the last applied versions from disk, so that they can be served at once, and starts
   * joining the fleet in the background (see {@link joined}): a Redis that is down or never
   * answers delays nothing. Never fails for Redis or S3.
   */
  async start(): Promise<void> {
    const record = await this.applied.read();
    for (const [model, { version, revision }] of Object.entries(record.models)) {
      if (this.serves(model)) await this.reconciler(model).restore(version, revision);
    }
    this.stopReconnect = this.options.bus.onReconnect(() => void this.resyncAll());
    this.joining = this.join();
  }

  /**
   * Settles once the first state read, convergence and heartbeat after `start` are over, whether
   * they worked or failed (failures are retried by the resync loop). Never rejects.
   */
  get joined(): Promise<void> {
    return this.joining;
  }

  /** Subscribed and converged first, then live: a controller that sees the heartbeat reaches this node. */
  private async join(): Promise<void> {
    await this.resyncAll();
    if (this.stopped) return;
    this.heartbeatTimer = setInterval(
      () => void this.heartbeat(),
      Math.max(200, Math.floor(this.options.heartbeatTtlMs / 3)),
    );
    await this.heartbeat();
    this.scheduleResync();
  }

  private async subscribe(model: string): Promise<void> {
    if (this.subscriptions.has(model) || this.stopped) return;
    const unsubscribe = await this.options.bus.subscribe(this.options.fleet.keys.commandChannel(model), (payload) => {
      let message: CommandMessage;
      try {
        message = parseCommand(payload);
      } catch (error) {
        this.log(`ignored a malformed command on ${model}: ${errorMessage(error)}`);
        return;
      }
      if (message.model === model) this.reconciler(model).command(message);
    });
    this.subscriptions.set(model, unsubscribe);
  }

  /** Subscribes to every model this node serves and has each re-read its state and converge. Never throws. */
  async resyncAll(): Promise<void> {
    let models: string[];
    try {
      models = this.options.models.length > 0 ? [...this.options.models] : await this.options.fleet.listModelNames();
    } catch (error) {
      this.log(`resync: ${errorMessage(error)}`);
      return;
    }
    await Promise.all(
      models.map(async (model) => {
        const reconciler = this.reconciler(model);
        try {
          await this.subscribe(model);
        } catch (error) {
          reconciler.failed(error);
          return;
        }
        await reconciler.resync();
      }),
    );
  }

  private scheduleResync(): void {
    if (this.stopped) return;
    const jitter = 0.8 + Math.random() * 0.4;
    this.resyncTimer = setTimeout(
      () => {
        void this.resyncAll().finally(() => this.scheduleResync());
      },
      Math.round(this.options.resyncMs * jitter),
    );
  }

  private served(model: string, version: string, kind: string): void {
    showActiveVersions(this.options.metrics, this.slotsByModel);
    this.options.metrics.swaps.inc({ model, kind });
    showResidentSessions(this.options.metrics, this.slotsByModel);
    this.log(`${model} now serves ${version}`);
  }

  /**
   * Deletes from the disk cache what no model needs: per model, the resident versions and the one
   * being staged stay, with `cacheSpare` more (most recently used); blobs only they used go too.
   * Skipped while a download runs (the next swap tries again).
   */
  private async pruneCache(): Promise<void> {
    const inUse = new Map<string, Set<string>>();
    for (const [model, reconciler] of this.reconcilers) inUse.set(model, reconciler.versionsInUse());
    try {
      const pruned = await this.options.fetcher.prune(inUse, this.options.cacheSpare ?? 2);
      if (pruned !== null && pruned.versions.length + pruned.blobs > 0) {
        const mb = (pruned.bytes / 1e6).toFixed(1);
        this.log(`cache: removed ${pruned.versions.join(", ") || "no version"} and ${pruned.blobs} blob(s), ${mb} MB`);
      }
    } catch (error) {
      this.log(`cache: pruning failed: ${errorMessage(error)}`);
    }
  }

  /**
   * This node's heartbeat record. Each model lists the execution provider of every resident version;
   * `executionProvider` is the set of providers the resident sessions run on, in the configured order
   * and joined with "+" (e.g. "cpu", or "cuda+cpu" when one version had to fall back), or "none"
   * while no session is loaded.
   */
  record(): NodeRecord {
    const models: NodeRecord["models"] = {};
    const inUse = new Set<string>();
    for (const [model, reconciler] of this.reconcilers) {
      const status = reconciler.status();
      for (const provider of Object.values(status.providers ?? {})) inUse.add(provider);
      models[model] = status;
    }
    const providers = this.sessions.preference.filter((provider) => inUse.has(provider));
    return {
      nodeId: this.options.nodeId,
      url: this.options.url,
      executionProvider: providers.length > 0 ? providers.join("+") : "none",
      startedAt: this.startedAt,
      updatedAt: new Date().toISOString(),
      serves: [...this.options.models],
      models,
    };
  }

  private async heartbeat(): Promise<void> {
    if (this.stopped) return;
    const sent = this.options.fleet.heartbeat(this.record(), this.options.heartbeatTtlMs).catch(() => undefined);
    this.lastHeartbeat = sent;
    await sent;
  }

  /** Stops the loops and leaves the fleet; sessions are released once their requests drain. */
  async stop(drainMs = 10_000): Promise<void> {
    this.stopped = true;
    clearTimeout(this.resyncTimer);
    clearInterval(this.heartbeatTimer);
    this.stopReconnect?.();
    // A heartbeat still in flight must not land after the deregistration.
    await this.lastHeartbeat;
    await Promise.all([...this.subscriptions.values()].map((unsubscribe) => unsubscribe().catch(() => undefined)));
    await this.options.fleet.deregister(this.options.nodeId).catch(() => undefined);
    const deadline = Date.now() + drainMs;
    const slots = [...this.slotsByModel.values()];
    const busy = () => slots.some((slot) => slot.all().some((loaded) => loaded.leases > 0));
    while (busy() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    for (const slot of slots) slot.clear();
  }
}
