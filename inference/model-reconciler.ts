/**
 * One model on one node, kept converged on the fleet: its slot (what it holds), its desired state
 * (what the fleet wants, desired-model-state.ts), its work queue and its reported status.
 *
 * Bus messages and resyncs only write the desired state and queue a reconcile. One cycle at a time:
 *
 *   read      when a resync asked, or a promote named a revision below what this node applied: read
 *             the state, and tell a late message from a state store that lost its data
 *   split     end a progressive rollout's split whose rollout is over, before its candidate is dropped
 *   drop      a staged version whose rollout is over (aborted, or gone from the state); a rollout that
 *             is progressing is not over
 *   converge  the desired active version: stage it if it is not resident, swap, confirm to the rollout;
 *             a promote the node had already applied is confirmed again
 *   answer    a rollout preparing: stage its target and answer staged | failed, once; a read that finds
 *             it still waiting says the answer again (it may have been lost). A rollout progressing
 *             whose target this node has not staged (it joined mid-rollout, or restarted) is staged
 *             and answered the same way
 *   split     put the desired split in force once its candidate is staged; answer weighted, once a seq
 *   status    write the heartbeat record if this model's status changed
 *
 * A failed step is the model's lastError, and the cycle goes on; the next resync retries. The
 * shortcuts, taken in the message handler itself (one reference assignment each), not behind a cycle
 * that may be staging another version: a promote naming a resident version is swapped; a split whose
 * candidate is staged is put in force, and an abort (or another rollout's prepare) ends the split.
 */
import type { Bus } from "../core/bus.js";
import { errorMessage } from "../core/errors.js";
import type { FleetStateStore } from "../core/fleet-state.js";
import type { CommandMessage } from "../core/messages.js";
import { preciseNow } from "../core/precise-clock.js";
import type { AppliedStore } from "./applied-record.js";
import { DesiredModelState, type RolloutIntent, type VersionAt } from "./desired-model-state.js";
import type { DesiredVersions } from "./desired-versions.js";
import type { LoadedVersion } from "./loaded-version.js";
import { ModelSlot } from "./model-slot.js";
import { activeOf, isAhead, isBehind, readModelState, type StateRead } from "./model-state-reader.js";
import { type ModelStatus, modelStatus, type StagingStatus } from "./model-status.js";
import { ReconcileQueue } from "./reconcile-queue.js";
import type { ReplayLimits } from "./replay-buffer.js";
import { RolloutReporter, type Swap } from "./rollout-reporter.js";
import { AppliedSplit } from "./split-router.js";
import type { Stager } from "./version-stager.js";

/** What a model's reconciler shares with the node. */
export interface ReconcilerContext {
  readonly nodeId: string;
  readonly keepWarm: number;
  /** Recent requests kept per model and replayed on a staged candidate (default: none). */
  readonly replay?: ReplayLimits;
  readonly fleet: FleetStateStore;
  readonly bus: Bus;
  readonly stager: Stager;
  readonly applied: AppliedStore;
  /** The node's readiness: each model's desired active version. */
  readonly versions: DesiredVersions;
  /** `version` became active (kind: "first", "swap", "from-disk"). */
  served(model: string, version: string, kind: string): void;
  /** A session was loaded or released. */
  residentChanged(): void;
  /** A model's status changed: write the heartbeat record. */
  statusChanged(): void;
  /** A model's split was put in force or ended (weight gauges, and the heartbeat record). */
  splitChanged(): void;
  /** The active version changed: delete from the disk cache what no model needs. */
  pruneCache(): void;
  log(line: string): void;
}

export class ModelReconciler {
  readonly slot: ModelSlot;
  private readonly desired = new DesiredModelState();
  private readonly queue: ReconcileQueue;
  private readonly reporter: RolloutReporter;
  private staging: StagingStatus | null = null;
  /** The rollout the staging status is for (null: a convergence, not a rollout). */
  private stagingFor: string | null = null;
  private lastError: string | null = null;
  /** The last rollout answered (staged or failed), so that each is answered once. */
  private answered: string | null = null;
  /** The last swap, to confirm a promote that arrives after a resync already applied it. */
  private lastSwap: Swap | null = null;
  private writtenStatus = "";

  constructor(
    readonly model: string,
    private readonly context: ReconcilerContext,
  ) {
    this.slot = new ModelSlot(
      model,
      context.keepWarm,
      (loaded) => {
        void loaded.session
          .release()
          .catch((error: unknown) => this.log(`release of ${model}/${loaded.version} failed: ${errorMessage(error)}`));
        context.residentChanged();
      },
      context.replay,
    );
    this.reporter = new RolloutReporter(context.nodeId, model, context.fleet, context.bus, (line) => this.log(line));
    this.queue = new ReconcileQueue(
      () => this.reconcile(),
      (error) => this.log(`${model}: reconcile failed: ${errorMessage(error)}`),
    );
  }

  /**
   * A bus command: written into the desired state, then a cycle is queued. A resident promote swaps
   * now; the split changes now: put in force when its candidate is staged, ended by an abort or
   * another rollout's prepare (a split in force needs no cycle).
   */
  command(message: CommandMessage): void {
    if (message.type === "promote") {
      this.context.versions.learn(this.model, message.version, message.revision);
      this.desired.promoted(message);
      if (isAhead(this.slot, message) && this.slot.resident(message.version) !== undefined) {
        this.swap(message, this.desired.takeConfirmation());
        return;
      }
    } else {
      if (message.type === "prepare") this.desired.preparing(message);
      else if (message.type === "abort") this.desired.aborted(message);
      else this.desired.splitting(message);
      // A cycle may be busy staging: the split changes now (or ends, for an abort or another rollout).
      const splitInForce = this.applySplit();
      if (message.type === "split" && splitInForce && !this.desired.readDue) return;
    }
    void this.queue.request();
  }

  /** Re-reads the state and converges on it; settles (never rejects) once that cycle ended. */
  resync(): Promise<void> {
    this.desired.readDue = true;
    return this.queue.request();
  }

  /** Records a failure outside a cycle (the model's subscription, the model list). */
  failed(error: unknown): void {
    this.lastError = errorMessage(error);
  }

  /** At start, before any state is read: serves what applied.json names, re-verified from the cache. */
  async restore(version: string, revision: number): Promise<void> {
    this.context.versions.learn(this.model, version, revision);
    try {
      const loaded = await this.context.stager.loadCached(this.model, version);
      this.slot.stage(loaded, null);
      this.slot.promote(version, revision);
      this.context.served(this.model, version, "from-disk");
      this.log(`serving ${this.model}/${version} (revision ${revision}) from the local cache`);
    } catch (error) {
      this.lastError = `last applied ${version} is unusable: ${errorMessage(error)}`;
      this.log(`cannot serve the last applied ${this.model}/${version}: ${errorMessage(error)}`);
    }
  }

  /**
   * One cycle: compare the desired state with what the slot holds, converge, write the status. A step
   * that fails does not stop the next: a version that cannot be loaded must not keep the node from
   * answering the rollout that replaces it.
   */
  private async reconcile(): Promise<void> {
    if (this.desired.readDue || isBehind(this.slot, this.desired.active)) await this.readState();
    this.applySplit();
    this.dropFinishedRollout();
    await this.step(() => this.convergeActive());
    await this.step(() => this.answerRollout());
    this.applySplit();
    // Traffic counts (the split's, served) change with every request: the heartbeat loop writes them
    // every TTL/3 (node-agent.ts), so they are no status change.
    const { split, served, ...rest } = this.status();
    const status = JSON.stringify([rest, split?.rolloutId, split?.seq]);
    if (status !== this.writtenStatus) {
      this.writtenStatus = status;
      this.context.statusChanged();
    }
  }

  /** Runs a step of the cycle; its error becomes the model's lastError (the next resync retries). */
  private async step(work: () => Promise<void>): Promise<void> {
    try {
      await work();
    } catch (error) {
      this.lastError = errorMessage(error);
      this.log(`${this.model}: ${this.lastError}`);
    }
  }

  /**
   * Reads the state into the desired state, following a state store that lost its data
   * (model-state-reader.ts). A read that fails is the model's lastError (retried on the next resync);
   * the cycle goes on with what it knows.
   */
  private async readState(): Promise<void> {
    this.desired.readDue = false;
    const started = this.desired.readStarted();
    let read: StateRead;
    try {
      read = await readModelState(this.context.fleet, this.slot);
    } catch (error) {
      this.lastError = errorMessage(error);
      return;
    }
    const { state } = read;
    if (read.reset) {
      this.log(
        `${this.model}: the state names ${state.active} at revision ${state.revision}, but this node applied ` +
          `${this.slot.active?.version} at revision ${this.slot.revision}: the state store lost its data; following the state`,
      );
      this.slot.rebase(0);
      this.context.versions.forget(this.model);
      this.desired.forget();
      this.lastSwap = null;
    }
    this.context.versions.learn(this.model, state.active, state.revision);
    const active = activeOf(state);
    this.desired.read(state, active !== null && isAhead(this.slot, active), started);
  }

  /** Drops a staged version, and forgets a staging status, whose rollout is over. */
  private dropFinishedRollout(): void {
    const { rollout, active } = this.desired;
    if (rollout === undefined) return;
    const over = (rolloutId: string | null) => rollout === null || rollout.id !== rolloutId;
    const staged = this.slot.staged;
    if (staged !== null && over(this.slot.stagedFor) && active?.version !== staged.version) {
      this.log(`dropping ${this.model}/${staged.version}: its rollout is over`);
      this.slot.dropStaged();
      this.setStaging(null, null);
    }
    if (this.staging !== null && over(this.stagingFor)) this.setStaging(null, null);
  }

  /** Makes the desired active version active, staging it first if it is not resident. */
  private async convergeActive(): Promise<void> {
    const target = this.desired.active;
    if (target === null) return;
    const confirmTo = this.desired.takeConfirmation();
    if (isAhead(this.slot, target)) {
      if (this.slot.resident(target.version) === undefined) {
        this.slot.stage(await this.stage(target.version, { allowIncompatible: true }, null), null);
      }
      // The shortcut may have swapped to a newer version while this one loaded.
      if (isAhead(this.slot, target)) this.swap(target, confirmTo);
      this.lastError = null;
      return;
    }
    const swapped = this.lastSwap;
    if (confirmTo !== null && swapped?.version === target.version && swapped.revision === target.revision) {
      await this.reporter.promoted(swapped, confirmTo);
    }
  }

  /**
   * Answers a rollout that is preparing: once, and again when a read finds it still waiting. A rollout
   * progressing whose target is not staged here is prepared the same way, once.
   */
  private async answerRollout(): Promise<void> {
    const rollout = this.desired.rollout;
    const resend = this.desired.takeResend();
    if (rollout?.phase === "progressing") {
      const staged = this.slot.staged?.version === rollout.target && this.slot.stagedFor === rollout.id;
      if (!staged && this.answered !== rollout.id) await this.prepare(rollout);
      return;
    }
    if (rollout?.phase !== "preparing") return;
    if (this.answered !== rollout.id) {
      await this.prepare(rollout);
    } else if (resend) {
      await this.reporter.repeat(rollout.id);
    }
  }

  /**
   * Makes the slot's split the desired one: ends it when none is desired (the rollout ended) or its
   * candidate became active; puts the desired one in force when its candidate is staged for its
   * rollout, and answers `weighted` (once a seq: a split already in force is not applied again).
   * Synchronous: the message handler calls it too. Returns whether the desired split is in force.
   */
  private applySplit(): boolean {
    let wanted = this.desired.split;
    const current = this.slot.split;
    if (wanted !== null && this.slot.active?.version === wanted.candidate) {
      this.desired.splitEnded();
      wanted = null;
    }
    if (current !== null && current.rolloutId !== wanted?.rolloutId) this.endSplit(current.rolloutId);
    if (wanted === null) return true;
    if (current?.rolloutId === wanted.rolloutId && current.seq === wanted.seq) return true;
    const staged = this.slot.staged;
    if (staged?.version !== wanted.candidate || this.slot.stagedFor !== wanted.rolloutId) return false;
    this.slot.applySplit(new AppliedSplit(wanted, staged, this.slot.active?.version ?? null));
    this.context.splitChanged();
    const shadow = wanted.shadowPercent > 0 ? `, ${wanted.shadowPercent} % mirrored to it` : "";
    this.log(
      `${this.model}: ${wanted.weight} % of requests to ${wanted.candidate}${shadow} (rollout ${wanted.rolloutId}, seq ${wanted.seq})`,
    );
    void this.reporter.weighted(wanted.rolloutId, wanted.seq, wanted.weight);
    return true;
  }

  /** Ends the split in force: every unpinned request goes to the active version again. */
  private endSplit(rolloutId: string): void {
    this.slot.clearSplit();
    this.context.splitChanged();
    this.context.residentChanged();
    this.log(`${this.model}: the split of rollout ${rolloutId} ended`);
  }

  /** Stages the rollout's target (nothing to load if it is resident) and answers staged or failed. */
  private async prepare(rollout: RolloutIntent): Promise<void> {
    const { id: rolloutId, target: version } = rollout;
    this.answered = rolloutId;
    try {
      const resident = this.slot.resident(version);
      const loaded = resident ?? (await this.stage(version, rollout, rolloutId));
      if (this.slot.active !== loaded) this.slot.stage(loaded, rolloutId);
      this.context.residentChanged();
      this.lastError = null;
      // The answer also goes into the heartbeat: a controller that missed the message still sees it.
      this.setStaging({ version, state: "staged", rolloutId, ...loaded.warmup }, rolloutId);
      this.context.statusChanged();
      await this.reporter.staged(rolloutId, loaded, resident === undefined);
    } catch (error) {
      this.lastError = errorMessage(error);
      await this.reporter.failed(version, rolloutId, error);
    }
  }

  /** Fetches, verifies, loads and warms a version up, each step in the status and the heartbeat. */
  private stage(
    version: string,
    rules: Pick<RolloutIntent, "allowIncompatible" | "maxReplayDivergence">,
    rolloutId: string | null,
  ): Promise<LoadedVersion> {
    return this.context.stager.stage({
      model: this.model,
      version,
      active: this.slot.active,
      allowIncompatible: rules.allowIncompatible,
      ...(rules.maxReplayDivergence !== undefined ? { maxReplayDivergence: rules.maxReplayDivergence } : {}),
      replay: this.slot.replay.snapshot(),
      onStep: (state) => {
        this.setStaging({ version, state }, rolloutId);
        this.context.statusChanged();
      },
    });
  }

  /** The swap: synchronous, so a request sees the old session or the new one, never neither. */
  private swap({ version, revision }: VersionAt, rolloutId: string | null): void {
    const from = this.slot.active?.version;
    const split = this.slot.split;
    if (!this.slot.promote(version, revision)) return;
    if (split !== null && this.slot.split === null) {
      // The promote ended the split in the same assignment (its candidate serves everything now).
      this.desired.splitEnded();
      this.context.splitChanged();
      this.log(`${this.model}: the split of rollout ${split.rolloutId} ended: ${version} is promoted`);
    }
    const swapped = { version, revision, at: preciseNow() };
    this.lastSwap = swapped;
    this.setStaging(null, null);
    this.context.served(this.model, version, from === undefined ? "first" : "swap");
    void this.context.applied
      .record(this.model, version, revision)
      .catch((error: unknown) => this.log(`could not record ${this.model}/${version}: ${errorMessage(error)}`));
    if (rolloutId !== null) void this.reporter.promoted(swapped, rolloutId);
    this.context.statusChanged();
    this.context.pruneCache();
  }

  private setStaging(status: StagingStatus | null, rolloutId: string | null): void {
    this.staging = status;
    this.stagingFor = rolloutId;
  }

  /** Versions the disk cache must keep: the resident ones and the one being staged. */
  versionsInUse(): Set<string> {
    const versions = new Set(this.slot.all().map((loaded) => loaded.version));
    if (this.staging !== null) versions.add(this.staging.version);
    return versions;
  }

  /** This model's entry in the heartbeat record. */
  status(): ModelStatus {
    return modelStatus(this.slot, this.staging, this.lastError);
  }

  private log(line: string): void {
    this.context.log(line);
  }
}
