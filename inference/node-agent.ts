/**
 * The node agent: keeps this node's models converged on the fleet state.
 *
 *   start    load what was last applied from the local cache (re-verified) and serve it; in the
 *            background read state, converge, subscribe, heartbeat — Redis or S3 being down, or
 *            never answering, neither delays nor stops serving
 *   prepare  fetch → verify → load → warm up → report staged | failed (the old version serves on)
 *   promote  swap (synchronous) → report promoted; a lower revision sends the node to read the
 *            state, which tells a late message from a state store that lost its data
 *   reset    state below the revision this node applied, on a fresh read, means the state store
 *            lost its data (revisions only grow otherwise): the node follows the state at its
 *            revision instead of ignoring it until the count passes its own
 *   abort    drop the staged version
 *   resync   every ~5 s (jittered) and on every reconnect: re-read state and converge, so a missed
 *            message costs one interval: a missed promote is applied, a missed prepare of a rollout
 *            still preparing is answered, a staged version whose rollout is gone is dropped
 *
 * Work on one model runs one step at a time (a queue per model). Background loops never throw:
 * failures are recorded as the model's lastError and retried on the next resync.
 */
import type { Bus, Unsubscribe } from "../core/bus.js";
import { CutoverError, ErrorCode, errorMessage, StagingError } from "../core/errors.js";
import type { FleetStateStore } from "../core/fleet-state.js";
import {
  type CommandMessage,
  encodeMessage,
  type FailedMessage,
  type PrepareMessage,
  parseCommand,
  type ReportMessage,
  type StagedMessage,
} from "../core/messages.js";
import type { ModelState, NodeRecord } from "../core/model-state.js";
import type { TrustedKey } from "../core/oms/keys.js";
import { verifyFolder } from "../core/oms/verifier.js";
import { schemaIncompatibilities } from "../core/schema-compatibility.js";
import type { VersionFetcher } from "../core/version-fetcher.js";
import { AppliedStore } from "./applied-record.js";
import { DesiredVersions } from "./desired-versions.js";
import { LoadedVersion } from "./loaded-version.js";
import type { NodeMetrics } from "./metrics.js";
import { ModelSlot } from "./model-slot.js";
import { type RuntimeOptions, SessionOpener } from "./session-opener.js";
import type { WarmupOptions, WarmupResult } from "./warm-up.js";

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
  /** Versions per model kept in the disk cache beyond the resident ones (default 2). */
  readonly cacheSpare?: number;
  readonly resyncMs: number;
  readonly heartbeatTtlMs: number;
  readonly metrics: NodeMetrics;
  readonly log?: (line: string) => void;
}

type StagedState = NonNullable<NodeRecord["models"][string]["staged"]>["state"];

export class NodeAgent {
  readonly slots = new Map<string, ModelSlot>();
  private readonly queues = new Map<string, Promise<void>>();
  private readonly subscriptions = new Map<string, Unsubscribe>();
  private readonly stagingState = new Map<
    string,
    { version: string; state: StagedState; rolloutId?: string } & Partial<WarmupResult>
  >();
  private readonly lastError = new Map<string, string | null>();
  /** The last rollout each model answered `prepare` for (staged or failed), so it is answered once. */
  private readonly answered = new Map<string, string>();
  /** The last staged/failed answer per model, said again on resync while its rollout still waits. */
  private readonly lastAnswer = new Map<string, StagedMessage | FailedMessage>();
  /** The last swap per model, to confirm a promote that arrives after a resync already applied it. */
  private readonly lastSwap = new Map<string, { version: string; revision: number; at: number }>();
  private readonly applied: AppliedStore;
  /** Makes every session; remembers, for this agent's life, the execution providers that cannot start. */
  private readonly sessions: SessionOpener;
  /** Per model, the active version this node should serve, as it last learnt it. */
  private readonly desired = new DesiredVersions();
  private readonly startedAt = new Date().toISOString();
  private resyncTimer: NodeJS.Timeout | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private stopReconnect: (() => void) | undefined;
  private joining: Promise<void> = Promise.resolve();
  private lastHeartbeat: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(private readonly options: NodeAgentOptions) {
    this.applied = new AppliedStore(options.cacheDir, (line) => this.log(line));
    this.sessions = new SessionOpener({ ...options.runtime, log: (line) => this.log(line) });
  }

  private log(line: string): void {
    this.options.log?.(`node ${this.options.nodeId}: ${line}`);
  }

  /** The slot of a model, made on first use. */
  slot(model: string): ModelSlot {
    let slot = this.slots.get(model);
    if (slot === undefined) {
      slot = new ModelSlot(model, this.options.keepWarm, (loaded) => {
        void loaded.session
          .release()
          .catch((error: unknown) => this.log(`release of ${model}/${loaded.version} failed: ${errorMessage(error)}`));
        this.updateSessionGauges();
      });
      this.slots.set(model, slot);
    }
    return slot;
  }

  /**
   * Ready (`/v2/health/ready`): it serves the desired active version of every model it is assigned that
   * has one, and there is at least one. Before any state was read that is what applied.json names.
   */
  ready(): boolean {
    return this.desired.ready((model) => this.slots.get(model)?.active?.version);
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
    await this.loadLastApplied();
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

  private async loadLastApplied(): Promise<void> {
    const record = await this.applied.read();
    for (const [model, { version, revision }] of Object.entries(record.models)) {
      if (!this.serves(model)) continue;
      this.desired.learn(model, version, revision);
      try {
        const dir = this.options.fetcher.versionDir(model, version);
        await verifyFolder(dir, this.options.trustedKeys);
        const loaded = await LoadedVersion.load(model, version, dir, this.sessions);
        await this.warmUp(loaded);
        const slot = this.slot(model);
        slot.stage(loaded, null);
        slot.promote(version, revision);
        this.afterSwap(model, version, "from-disk");
        this.log(`serving ${model}/${version} (revision ${revision}) from the local cache`);
      } catch (error) {
        this.lastError.set(model, `last applied ${version} is unusable: ${errorMessage(error)}`);
        this.log(`cannot serve the last applied ${model}/${version}: ${errorMessage(error)}`);
      }
    }
  }

  /** Runs `work` after everything queued for the model; errors are recorded, never thrown. */
  private enqueue(model: string, work: () => Promise<void>): Promise<void> {
    const previous = this.queues.get(model) ?? Promise.resolve();
    const next = previous.then(work).catch((error: unknown) => {
      this.lastError.set(model, errorMessage(error));
      this.log(`${model}: ${errorMessage(error)}`);
    });
    this.queues.set(model, next);
    return next;
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
      if (message.model === model) this.handle(message);
    });
    this.subscriptions.set(model, unsubscribe);
  }

  private handle(message: CommandMessage): void {
    const { model } = message;
    if (message.type === "promote") {
      this.desired.learn(model, message.version, message.revision);
      // The swap itself is synchronous; when the version is already resident it happens here,
      // without waiting behind the queue.
      const slot = this.slot(model);
      if (message.revision <= slot.revision) {
        // Already there (a resync read the new state before this message arrived): still confirm.
        const swapped = this.lastSwap.get(model);
        if (swapped?.version === message.version && swapped.revision === message.revision) {
          void this.reportPromoted(model, message.version, message.revision, message.rolloutId, swapped.at);
          return;
        }
        // Below what this node applied: a late message, or a state store that lost its data and
        // counts again from 1. Only the state tells them apart.
        if (message.revision < slot.revision || slot.active?.version !== message.version) {
          void this.enqueue(model, () => this.resyncModel(model));
        }
        return;
      }
      if (slot.resident(message.version) !== undefined) {
        this.swap(model, message.version, message.revision, message.rolloutId);
        return;
      }
      void this.enqueue(model, () => this.converge(model, message.version, message.revision, message.rolloutId));
      return;
    }
    if (message.type === "prepare") {
      void this.enqueue(model, () => this.prepare(message));
      return;
    }
    const slot = this.slot(model);
    if (slot.stagedFor === message.rolloutId) slot.dropStaged();
    this.stagingState.delete(model);
  }

  private async report(model: string, message: ReportMessage): Promise<void> {
    if (message.type !== "promoted") this.lastAnswer.set(model, message);
    await this.options.bus
      .publish(this.options.fleet.keys.reportChannel(model), encodeMessage(message))
      .catch((error: unknown) => {
        this.log(`could not report ${message.type} for ${model}: ${errorMessage(error)}`);
      });
  }

  /** Fetch, verify, load and warm a version (nothing to do when it is resident: `loadedNow` false). */
  private async stage(
    model: string,
    version: string,
    allowIncompatible: boolean,
  ): Promise<{ loaded: LoadedVersion; loadedNow: boolean }> {
    const slot = this.slot(model);
    const resident = slot.resident(version);
    if (resident !== undefined) return { loaded: resident, loadedNow: false };
    const started = performance.now();
    const setState = (state: StagedState) => {
      this.stagingState.set(model, { version, state });
      void this.heartbeat();
    };
    try {
      setState("fetching");
      const fetched = await this.options.fetcher.fetch(model, version);
      this.options.metrics.fetchedBytes.inc(fetched.downloadedBytes);
      setState("loading");
      const loaded = await LoadedVersion.load(model, version, fetched.dir, this.sessions);
      if (!allowIncompatible && slot.active !== null) {
        const reasons = schemaIncompatibilities(slot.active.card, loaded.card);
        if (reasons.length > 0) {
          await loaded.session.release();
          throw new StagingError(
            ErrorCode.IncompatibleSchema,
            `${model}/${version} does not fit ${slot.active.version}: ${reasons.join("; ")}`,
          );
        }
      }
      setState("warming");
      try {
        await this.warmUp(loaded);
      } catch (error) {
        await loaded.session.release();
        throw error;
      }
      setState("staged");
      this.options.metrics.staging.observe({ model, outcome: "staged" }, (performance.now() - started) / 1000);
      return { loaded, loadedNow: true };
    } catch (error) {
      this.stagingState.set(model, { version, state: "failed" });
      this.options.metrics.staging.observe({ model, outcome: "failed" }, (performance.now() - started) / 1000);
      const code = error instanceof CutoverError ? error.code : "INTERNAL";
      this.options.metrics.stagingFailures.inc({ code });
      if (error instanceof CutoverError && error.isVerificationFailure) {
        this.options.metrics.verificationFailures.inc({ reason: code });
      }
      throw error;
    }
  }

  /** Warms a loaded version up; a cold one (no synthetic input worked) is logged with its warning. */
  private async warmUp(loaded: LoadedVersion): Promise<WarmupResult> {
    const result = await loaded.warmUp(this.options.warmup);
    if (result.warning !== undefined) this.log(result.warning);
    return result;
  }

  private async prepare(message: PrepareMessage): Promise<void> {
    const { model, version, rolloutId } = message;
    const { nodeId } = this.options;
    if (this.answered.get(model) === rolloutId) return;
    this.answered.set(model, rolloutId);
    try {
      const { loaded, loadedNow } = await this.stage(model, version, message.allowIncompatible ?? false);
      const slot = this.slot(model);
      if (slot.active !== loaded) slot.stage(loaded, rolloutId);
      this.updateSessionGauges();
      this.lastError.set(model, null);
      const [loadMs, warmupMs] = loadedNow ? [loaded.loadMs, loaded.warmupMs] : [0, 0];
      // The answer also goes into the heartbeat: a controller that missed the message still sees it.
      const warmup: Partial<WarmupResult> = loaded.warmup ?? {};
      this.stagingState.set(model, { version, state: "staged", rolloutId, ...warmup });
      void this.heartbeat();
      await this.report(model, {
        type: "staged",
        nodeId,
        model,
        version,
        rolloutId,
        loadMs,
        warmupMs,
        ...(warmup.mode !== undefined ? { warmup: warmup.mode } : {}),
        ...(warmup.warning !== undefined ? { warning: warmup.warning } : {}),
      });
    } catch (error) {
      const code = error instanceof CutoverError ? error.code : "INTERNAL";
      this.lastError.set(model, errorMessage(error));
      await this.report(model, {
        type: "failed",
        nodeId,
        model,
        version,
        rolloutId,
        code,
        reason: errorMessage(error),
      });
    }
  }

  private swap(model: string, version: string, revision: number, rolloutId: string | null): void {
    const slot = this.slot(model);
    const from = slot.active?.version;
    if (!slot.promote(version, revision)) return;
    const at = Date.now();
    this.lastSwap.set(model, { version, revision, at });
    this.afterSwap(model, version, from === undefined ? "first" : "swap");
    void this.applied
      .record(model, version, revision)
      .catch((error: unknown) => this.log(`could not record ${model}/${version}: ${errorMessage(error)}`));
    if (rolloutId !== null) void this.reportPromoted(model, version, revision, rolloutId, at);
    void this.heartbeat();
    void this.pruneCache();
  }

  /**
   * Deletes from the disk cache what no model needs: per model, the resident versions and the one
   * being staged stay, with `cacheSpare` more (most recently used); blobs only they used go too.
   * Skipped while a download runs (the next swap tries again).
   */
  private async pruneCache(): Promise<void> {
    const inUse = new Map<string, Set<string>>();
    for (const [model, slot] of this.slots) inUse.set(model, new Set(slot.all().map((loaded) => loaded.version)));
    for (const [model, staging] of this.stagingState) {
      const versions = inUse.get(model) ?? new Set<string>();
      versions.add(staging.version);
      inUse.set(model, versions);
    }
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

  private async reportPromoted(
    model: string,
    version: string,
    revision: number,
    rolloutId: string,
    at: number,
  ): Promise<void> {
    await this.report(model, {
      type: "promoted",
      nodeId: this.options.nodeId,
      model,
      version,
      revision,
      rolloutId,
      at,
    });
  }

  private afterSwap(model: string, version: string, kind: string): void {
    this.stagingState.delete(model);
    this.options.metrics.activeVersion.reset();
    for (const [name, slot] of this.slots)
      if (slot.active) this.options.metrics.activeVersion.set({ model: name, version: slot.active.version }, 1);
    this.options.metrics.swaps.inc({ model, kind });
    this.updateSessionGauges();
    this.log(`${model} now serves ${version}`);
  }

  private updateSessionGauges(): void {
    const { residentSessions, executionProvider } = this.options.metrics;
    let resident = 0;
    executionProvider.reset();
    for (const [model, slot] of this.slots) {
      for (const loaded of slot.all()) {
        resident++;
        executionProvider.set({ model, version: loaded.version, provider: loaded.provider }, 1);
      }
    }
    residentSessions.set(resident);
  }

  /** Makes `version` active at `revision`, staging it first if it is not resident. */
  private async converge(model: string, version: string, revision: number, rolloutId: string | null): Promise<void> {
    const slot = this.slot(model);
    if (revision <= slot.revision && slot.active?.version === version) return;
    if (slot.resident(version) === undefined) {
      const { loaded } = await this.stage(model, version, true);
      slot.stage(loaded, null);
    }
    if (revision > slot.revision || slot.active?.version !== version) this.swap(model, version, revision, rolloutId);
    this.lastError.set(model, null);
  }

  /** Reads state for every model this node serves and converges each. Never throws. */
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
        try {
          await this.subscribe(model);
          const state = await this.options.fleet.getModelState(model);
          await this.enqueue(model, () => this.reconcile(model, state));
        } catch (error) {
          this.lastError.set(model, errorMessage(error));
        }
      }),
    );
  }

  /** Reads one model's state now and converges on it (queued behind the model's other work). */
  private async resyncModel(model: string): Promise<void> {
    await this.reconcile(model, await this.options.fleet.getModelState(model));
  }

  /**
   * Revisions only grow while the state store keeps its data, so an active version below the revision
   * this node applied (or another version at the same revision) means the store lost it: a Redis
   * flushed or replaced, `cutover dev` without its state file. The state is the truth then, and the
   * node follows it from its revision on. A read that merely predates a promote applied meanwhile
   * looks the same, so the decision rests on a read begun after noting the node's revision, and is
   * dropped if that revision moved while reading. State with no active version changes nothing: the
   * node keeps serving what it has until a version is activated. Returns the state to reconcile with.
   */
  private async followReset(model: string, read: ModelState): Promise<ModelState> {
    const slot = this.slot(model);
    const behind = (state: ModelState) =>
      state.active !== null &&
      slot.active !== null &&
      (state.revision < slot.revision || (state.revision === slot.revision && state.active !== slot.active.version));
    if (!behind(read)) return read;
    const noted = slot.revision;
    const fresh = await this.options.fleet.getModelState(model);
    if (slot.revision !== noted || !behind(fresh)) return fresh;
    this.log(
      `${model}: the state names ${fresh.active} at revision ${fresh.revision}, but this node applied ` +
        `${slot.active?.version} at revision ${noted}: the state store lost its data; following the state`,
    );
    slot.rebase(0);
    this.desired.forget(model);
    this.lastSwap.delete(model);
    return fresh;
  }

  private async reconcile(model: string, read: ModelState): Promise<void> {
    const state = await this.followReset(model, read);
    this.desired.learn(model, state.active, state.revision);
    const slot = this.slot(model);
    if (
      slot.staged !== null &&
      (state.rollout === null || state.rollout.id !== slot.stagedFor) &&
      state.active !== slot.staged.version
    ) {
      this.log(`dropping ${model}/${slot.staged.version}: its rollout is over`);
      slot.dropStaged();
      this.stagingState.delete(model);
    }
    if (state.active !== null && (state.revision > slot.revision || slot.active === null)) {
      // Mid-promotion (the state is ahead of the promote message): confirm to that rollout.
      const promoting =
        state.rollout?.phase === "promoting" && state.rollout.target === state.active ? state.rollout.id : null;
      await this.converge(model, state.active, state.revision, promoting);
    }
    const rollout = state.rollout;
    if (rollout?.phase === "preparing" && this.answered.get(model) !== rollout.id) {
      // A prepare this node never heard (it was reconnecting): answer it from the state.
      await this.prepare({
        type: "prepare",
        model,
        version: rollout.target,
        rolloutId: rollout.id,
        ...(rollout.allowIncompatible ? { allowIncompatible: true } : {}),
      });
    } else if (rollout?.phase === "preparing") {
      // Answered, but the rollout still waits: the report may have been lost in a reconnect. Say it again.
      const answer = this.lastAnswer.get(model);
      if (answer?.rolloutId === rollout.id) await this.report(model, answer);
    }
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

  /**
   * This node's heartbeat record. Each model lists the execution provider of every resident version;
   * `executionProvider` is the set of providers the resident sessions run on, in the configured order
   * and joined with "+" (e.g. "cpu", or "cuda+cpu" when one version had to fall back), or "none"
   * while no session is loaded.
   */
  record(): NodeRecord {
    const models: NodeRecord["models"] = {};
    const inUse = new Set<string>();
    for (const [model, slot] of this.slots) {
      const staging = this.stagingState.get(model);
      const cold = slot.all().filter((loaded) => loaded.warmup?.mode === "cold");
      const providers: Record<string, string> = {};
      for (const loaded of slot.all()) {
        providers[loaded.version] = loaded.provider;
        inUse.add(loaded.provider);
      }
      models[model] = {
        active: slot.active?.version ?? null,
        revision: slot.revision,
        warm: slot.warm.map((loaded) => loaded.version),
        staged:
          staging === undefined
            ? null
            : {
                version: staging.version,
                state: staging.state,
                ...(staging.rolloutId !== undefined ? { rolloutId: staging.rolloutId } : {}),
                ...(staging.mode !== undefined ? { warmup: staging.mode } : {}),
                ...(staging.warning !== undefined ? { warning: staging.warning } : {}),
              },
        lastError: this.lastError.get(model) ?? null,
        ...(cold.length > 0
          ? {
              cold: Object.fromEntries(cold.map((loaded) => [loaded.version, loaded.warmup?.warning ?? "staged cold"])),
            }
          : {}),
        providers,
      };
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
    const busy = () => [...this.slots.values()].some((slot) => slot.all().some((loaded) => loaded.leases > 0));
    while (busy() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    for (const slot of this.slots.values()) slot.clear();
  }
}
