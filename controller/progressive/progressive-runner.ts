/**
 * Progressive rollouts (canary and linear steps, bake, analysis, manual holds) as a state machine in
 * the state store, advanced by whichever controller acts: the `activate` call (first step), a
 * reconcile tick (bake over → judge → next step, last step → promotion, breach → rollback),
 * `promote` and `abort`. Each action takes the model's rollout lock, reads, acts, records and lets
 * go; between actions the rollout holds no lock, so a controller that dies costs one tick.
 *
 * Every step is prepared with the two-phase protocol: every live node stages the candidate (the
 * coordinator's `stage`) before the new weight is written and announced (`split`); nodes confirm
 * with `weighted`. The end is the coordinator's promotion (`promoteStaged`) or weight 0, `abort`.
 */
import type { Bus } from "../../core/bus.js";
import { CutoverError, ErrorCode, errorMessage, InputError, RolloutError, StateError } from "../../core/errors.js";
import type { FleetStateStore } from "../../core/fleet-state.js";
import { encodeMessage } from "../../core/messages.js";
import type { HistoryEntry, Rollout } from "../../core/model-state.js";
import { assertModelName, assertVersionName } from "../../core/names.js";
import type { AnalysisResult, Hook, Progressive } from "../../core/progressive.js";
import type { HistoryExtra, RolloutCoordinator } from "../rollout-coordinator.js";
import { RolloutReports } from "../rollout-reports.js";
import { requiredNodes, stagingRules } from "../rollout-request.js";
import type { RolloutResult } from "../rollout-result.js";
import type { RolloutLease, RolloutTransitions } from "../state/rollout-transitions.js";
import { analyse } from "./analysis.js";
import { addChecks, judgeChecks, validateChecks } from "./metric-checks.js";
import type { ProgressiveRequest } from "./progressive-request.js";
import type { PrometheusClient } from "./prometheus-client.js";

/** What the runner tells hook receivers; `run` answers whether every delivery succeeded. */
export interface HookPayload {
  readonly event: Hook["event"];
  readonly model: string;
  readonly rolloutId: string;
  readonly from: string;
  readonly to: string;
  readonly strategy: Progressive["strategy"];
  readonly steps: readonly number[];
  readonly step: number;
  readonly weight: number;
  readonly at: string;
  readonly analysis?: AnalysisResult;
  readonly reason?: string;
}

export interface HookRunner {
  run(hooks: readonly Hook[], payload: HookPayload): Promise<{ ok: boolean; reason?: string }>;
}

export interface ProgressiveObserver {
  weight?(model: string, baseline: string, candidate: string, weight: number): void;
  analysed?(model: string, verdict: AnalysisResult["verdict"]): void;
}

export interface ProgressiveRunnerOptions {
  readonly coordinator: RolloutCoordinator;
  readonly fleet: FleetStateStore;
  readonly store: RolloutTransitions;
  readonly bus: Bus;
  readonly lockTtlMs?: number;
  /** How long nodes have to confirm a new weight (default 3 s). */
  readonly confirmTimeoutMs?: number;
  /** How long a later step's newly joined nodes have to stage the candidate (default 120 s). */
  readonly stageTimeoutMs?: number;
  readonly hooks?: HookRunner;
  /** Where rollouts' own checks are asked (CUTOVER_PROMETHEUS_URL); a rollout with checks needs it. */
  readonly prometheus?: PrometheusClient;
  readonly observer?: ProgressiveObserver;
  readonly log?: (line: string) => void;
  readonly now?: () => number;
}

/** Where a progressive rollout stands after an action. */
export interface ProgressView {
  readonly rolloutId: string;
  readonly model: string;
  readonly from: string;
  readonly to: string;
  readonly state: "progressing" | "promoted" | "rolled-back" | "aborted";
  readonly strategy: Progressive["strategy"];
  readonly steps: readonly number[];
  readonly step: number;
  readonly weight: number;
  readonly bakeUntil: number | null;
  readonly holding: string | null;
  readonly lastAnalysis: AnalysisResult | null;
  /** Nodes that did not confirm the last weight in time (they apply it from the state on resync). */
  readonly unconfirmed: readonly string[];
  readonly reason?: string;
  /** The promotion that ended it (state "promoted"). */
  readonly promotion?: RolloutResult;
  readonly message: string;
}

const percent = (weight: number) => `${weight} %`;

/** How an inconclusive analysis's hold starts (it lifts itself once a later analysis passes). */
const INCONCLUSIVE = "inconclusive: ";

export class ProgressiveRunner {
  private readonly lockTtlMs: number;
  private readonly confirmTimeoutMs: number;
  private readonly stageTimeoutMs: number;
  private readonly now: () => number;
  private readonly log: (line: string) => void;

  constructor(private readonly options: ProgressiveRunnerOptions) {
    this.lockTtlMs = options.lockTtlMs ?? 30_000;
    this.confirmTimeoutMs = options.confirmTimeoutMs ?? 3_000;
    this.stageTimeoutMs = options.stageTimeoutMs ?? 120_000;
    this.now = options.now ?? Date.now;
    this.log = options.log ?? (() => undefined);
  }

  /** The `activate` of a progressive rollout: checks, lock, pre-traffic hooks, the first step. */
  async start(request: ProgressiveRequest): Promise<ProgressView> {
    const started = this.now();
    const { coordinator, store, fleet } = this.options;
    const model = assertModelName(request.model);
    const version = assertVersionName(request.version);
    const required = requiredNodes(request);
    if (required === 0)
      throw new InputError("a progressive rollout needs live nodes to split traffic (no allowNoNodes)");
    await store.syncFromDurable(model);
    const current = await fleet.getModelState(model);
    if (current.active === null) {
      throw new InputError(`${model} has no active version to compare a candidate with: activate it all at once first`);
    }
    if (current.active === version) throw new InputError(`${model} already serves ${version}`);
    await coordinator.checkTarget(model, version, current, request.allowIncompatible ?? false);
    await coordinator.checkFleet(model, required);
    // A check Prometheus cannot run, or on a metric it has no series of, is refused now, not at step 1.
    await validateChecks(this.options.prometheus ?? null, request.progressive.analysis.checks ?? [], {
      model,
      version,
      baseline: current.active,
    });
    const lease = await store.begin(model, {
      target: version,
      by: request.by,
      lockTtlMs: this.lockTtlMs,
      progressive: { ...request.progressive, baseline: current.active },
      ...(request.expectRevision !== undefined ? { expectRevision: request.expectRevision } : {}),
      ...stagingRules(request),
    });
    return this.withReports(lease, started, async (reports) => {
      const progressive = this.progressiveOf(lease);
      const gate = await this.holding(lease, () => this.hook(lease, "pre-traffic", progressive));
      if (!gate.ok) return this.end(lease, reports, "aborted", `pre-traffic hook failed: ${gate.reason}`, started);
      return this.advance(lease, reports, 0, started, { stageTimeoutMs: request.timeoutMs, required });
    });
  }

  /**
   * One reconcile pass over a model: ends a rollout whose controller died, continues a first step
   * that never finished, judges the step in force, and moves on when its bake is over. Undefined
   * when there is nothing to do, or another controller is acting on the model.
   */
  async tick(model: string): Promise<ProgressView | undefined> {
    const started = this.now();
    const state = await this.options.fleet.getModelState(model);
    if (state.rollout === null) return undefined;
    const lease = await this.resume(model, state.rollout.id);
    if (lease === undefined) return undefined;
    if (lease.rollout.phase === "promoting") return this.finishPromoted(lease, started);
    if (lease.rollout.progressive === undefined) {
      // An all-at-once rollout whose controller died (its lock expired): end it, say so.
      await this.options.coordinator.abandon(
        lease,
        { action: "activate" },
        new Error("its controller stopped before it finished (the rollout lock expired); nothing was promoted by it"),
        started,
      );
      return undefined;
    }
    return this.withReports(lease, started, async (reports) => {
      const progressive = this.progressiveOf(lease);
      if (lease.rollout.phase === "preparing") {
        // Its controller stopped during the first step: the gate again (its verdict was never recorded), then the step.
        const gate = await this.holding(lease, () => this.hook(lease, "pre-traffic", progressive));
        if (!gate.ok) return this.end(lease, reports, "aborted", `pre-traffic hook failed: ${gate.reason}`, started);
        return this.advance(lease, reports, progressive.step, started);
      }
      if (progressive.weight === 0) {
        // An end interrupted between weight 0 and its history entry (its reason kept in `holding`).
        return this.end(lease, reports, "rolled-back", progressive.holding ?? "ended by a reconcile tick", started);
      }
      const bakeOver = progressive.bakeUntil !== null && this.now() >= progressive.bakeUntil;
      // An inconclusive hold is judged again at every tick and lifts itself once the step passes.
      const held = progressive.holding !== null && !progressive.holding.startsWith(INCONCLUSIVE);
      // The user's checks are asked once the bake is over, until they all pass once (checkedSeq).
      const analysis = await this.analyse(lease, bakeOver);
      const checked = analysis.checks?.every((check) => check.verdict === "pass")
        ? { checkedSeq: progressive.seq }
        : {};
      if (analysis.verdict === "fail") {
        return this.end(
          lease,
          reports,
          "rolled-back",
          `analysis failed at ${percent(progressive.weight)}: ${analysis.reason}`,
          started,
          analysis,
        );
      }
      if (held || !bakeOver) return this.record(lease, { lastAnalysis: analysis, ...checked });
      if (analysis.verdict === "inconclusive") {
        return this.record(lease, {
          lastAnalysis: analysis,
          holding: `${INCONCLUSIVE}${analysis.reason}`,
          ...checked,
        });
      }
      return this.next(lease, reports, analysis, started);
    });
  }

  /**
   * A rollout whose controller stopped after the pointer moved (phase `promoting`): the promotion
   * stands; it is recorded, and `promote` is said again for nodes that missed it.
   */
  private async finishPromoted(lease: RolloutLease, started: number): Promise<undefined> {
    const { coordinator, bus, fleet } = this.options;
    const { model, rollout, startState } = lease;
    const progressive = rollout.progressive;
    // Resumed after the promotion: the state's `previous` is what it promoted from.
    const promotedFrom = { ...lease, startState: { ...startState, active: startState.previous } };
    await coordinator.finish(
      promotedFrom,
      { action: "activate" },
      {
        outcome: "promoted",
        nodes: [],
        revision: startState.revision,
        reason: "its controller stopped after the promotion; a reconcile tick recorded it",
        ...(progressive !== undefined ? this.extra(progressive) : {}),
      },
      started,
    );
    await bus.publish(
      fleet.keys.commandChannel(model),
      encodeMessage({
        type: "promote",
        model,
        version: rollout.target,
        revision: startState.revision,
        rolloutId: rollout.id,
      }),
    );
    return undefined;
  }

  /**
   * `promote`: the next step now, whatever the bake or a hold says (the last step: the promotion).
   * With `expectStep` (0-based), only if the rollout is still at that step (REVISION_MISMATCH if not).
   */
  async promote(model: string, expectStep?: number): Promise<ProgressView> {
    const started = this.now();
    const lease = await this.resumeOrExplain(model);
    const at = this.progressiveOf(lease).step;
    if (expectStep !== undefined && at !== expectStep) {
      // A page or script that saw an older step would otherwise move the rollout on twice.
      await this.options.store.release(lease).catch(() => false);
      throw new CutoverError(
        ErrorCode.RevisionMismatch,
        `${model}'s rollout is at step ${at + 1} now, not ${expectStep + 1}: look again before promoting`,
      );
    }
    return this.withReports(lease, started, async (reports) => {
      if (this.progressiveOf(lease).weight === 0) {
        return this.end(lease, reports, "rolled-back", this.progressiveOf(lease).holding ?? "ended", started);
      }
      const analysis = await this.analyse(lease);
      return this.next(lease, reports, analysis, started);
    });
  }

  /**
   * `abort`: the candidate back to 0 %, the rollout ended, history says who. With `expectRolloutId`,
   * only that rollout (REVISION_MISMATCH if another one runs now).
   */
  async abort(model: string, by: string, expectRolloutId?: string): Promise<ProgressView> {
    const started = this.now();
    const lease = await this.resumeOrExplain(model);
    if (expectRolloutId !== undefined && lease.rollout.id !== expectRolloutId) {
      // A confirmation left open across a rollout's end must not abort the next one.
      await this.options.store.release(lease).catch(() => false);
      throw new CutoverError(
        ErrorCode.RevisionMismatch,
        `${model}'s rollout is ${lease.rollout.id} (→ ${lease.rollout.target}) now, not ${expectRolloutId}: look again before aborting`,
      );
    }
    return this.withReports(lease, started, async (reports) =>
      this.end(lease, reports, "aborted", `aborted by ${by}`, started),
    );
  }

  /** Ticks every model with a rollout recorded; one model's failure is logged and the rest go on. */
  async tickAll(): Promise<ProgressView[]> {
    const views: ProgressView[] = [];
    for (const model of await this.options.fleet.listModelNames()) {
      try {
        const view = await this.tick(model);
        if (view !== undefined) views.push(view);
      } catch (error) {
        this.log(`reconcile of ${model} failed: ${errorMessage(error)}`);
      }
    }
    return views;
  }

  /** Runs `work` (a hook delivery) while renewing the rollout's lock, so that it outlasts the lock's TTL. */
  private async holding<T>(lease: RolloutLease, work: () => Promise<T>): Promise<T> {
    const renew = setInterval(
      () => void this.options.store.extend(lease, this.lockTtlMs).catch(() => false),
      Math.max(100, Math.floor(this.lockTtlMs / 3)),
    );
    try {
      return await work();
    } finally {
      clearInterval(renew);
    }
  }

  private progressiveOf(lease: RolloutLease): Progressive {
    const progressive = lease.rollout.progressive;
    if (progressive === undefined) throw new Error(`${lease.model}: rollout ${lease.rollout.id} is not progressive`);
    return progressive;
  }

  /** The rollout's lock, or undefined when another controller acts on it (or it ended meanwhile). */
  private async resume(model: string, rolloutId?: string): Promise<RolloutLease | undefined> {
    try {
      return await this.options.store.resume(model, {
        lockTtlMs: this.lockTtlMs,
        ...(rolloutId !== undefined ? { rolloutId } : {}),
      });
    } catch (error) {
      if (error instanceof StateError && error.code === ErrorCode.RolloutInProgress) return undefined;
      throw error;
    }
  }

  /**
   * For `promote` and `abort`: the progressive rollout's lock, waiting briefly for a tick that holds
   * it (ticks hold it for a read and a write unless they move a step).
   */
  private async resumeOrExplain(model: string): Promise<RolloutLease> {
    assertModelName(model);
    const deadline = this.now() + this.lockTtlMs;
    for (;;) {
      const state = await this.options.fleet.getModelState(model);
      if (state.rollout?.progressive === undefined) {
        throw new InputError(
          `no progressive rollout of ${model} is in progress (activate --canary or --linear starts one)`,
        );
      }
      const lease = await this.resume(model, state.rollout.id);
      if (lease?.rollout.phase === "progressing") return lease;
      if (lease !== undefined) {
        // Its controller stopped mid-step: promoted already (recorded now), or its first step unfinished.
        if (lease.rollout.phase === "promoting") {
          await this.finishPromoted(lease, this.now());
          throw new InputError(
            `the rollout of ${model} to ${lease.rollout.target} was already promoted; nothing to do`,
          );
        }
        await this.options.store.release(lease);
        throw new StateError(
          ErrorCode.RolloutInProgress,
          `the first step of the rollout of ${model} is not in force yet (its controller stopped); the next reconcile tick carries it on: try again`,
        );
      }
      if (this.now() > deadline) {
        throw new StateError(
          ErrorCode.RolloutInProgress,
          `a controller is acting on the rollout of ${model}; try again`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** Runs `act` with the rollout's reports open; an unexpected failure ends the rollout as abandoned. */
  private async withReports(
    lease: RolloutLease,
    started: number,
    act: (reports: RolloutReports) => Promise<ProgressView>,
  ): Promise<ProgressView> {
    const { bus, fleet, coordinator, store } = this.options;
    let reports: RolloutReports | undefined;
    try {
      reports = await RolloutReports.open(bus, fleet.keys.reportChannel(lease.model), lease.rollout.id);
      return await act(reports);
    } catch (error) {
      // Anything but the state store failing ends the rollout (abandon's history entry releases the
      // lock); a state error leaves it for the next tick, the lock released if it is still ours.
      if (error instanceof StateError) await store.release(lease).catch(() => false);
      else if (error instanceof RolloutError || error instanceof InputError)
        await store.release(lease).catch(() => false);
      else await coordinator.abandon(lease, { action: "activate" }, error, started);
      throw error;
    } finally {
      await reports?.close();
    }
  }

  /**
   * The step's analysis, with the rollout's own checks on Prometheus: their results of this step when
   * they all passed already (checkedSeq: asked once per step, not at every look), else asked now when
   * `checksDue` (the bake is over), else none yet.
   */
  private async analyse(lease: RolloutLease, checksDue = false): Promise<AnalysisResult> {
    const progressive = this.progressiveOf(lease);
    const records = await this.options.coordinator.liveNodes(lease.model);
    const builtIn = analyse(records, {
      model: lease.model,
      rolloutId: lease.rollout.id,
      seq: progressive.seq,
      step: progressive.step,
      weight: progressive.weight,
      baseline: progressive.baseline,
      candidate: lease.rollout.target,
      thresholds: progressive.analysis,
      now: new Date(this.now()),
    });
    const checks = progressive.analysis.checks ?? [];
    const context = { model: lease.model, version: lease.rollout.target, baseline: progressive.baseline };
    const results =
      checks.length === 0
        ? []
        : progressive.checkedSeq === progressive.seq
          ? (progressive.lastAnalysis?.checks ?? [])
          : checksDue
            ? await judgeChecks(this.options.prometheus ?? null, checks, context)
            : [];
    const analysis = addChecks(builtIn, results);
    this.options.observer?.analysed?.(lease.model, analysis.verdict);
    return analysis;
  }

  /** The step after the one in force (its analysis kept), or the promotion after the last. */
  private async next(
    lease: RolloutLease,
    reports: RolloutReports,
    analysis: AnalysisResult,
    started: number,
  ): Promise<ProgressView> {
    const progressive = this.progressiveOf(lease);
    // Kept with the step they judged: written only when the next step (or the promotion) is.
    const judged = { lastAnalysis: analysis, analyses: [...(progressive.analyses ?? []), analysis] };
    if (progressive.step + 1 < progressive.steps.length) {
      return this.advance(lease, reports, progressive.step + 1, started, { judged, analysis });
    }
    return this.complete(lease, reports, started, judged);
  }

  /**
   * Moves to step `index`: every live node stages the candidate (nodes that joined since the last
   * step too), then the new weight is written and announced, and the lock let go.
   */
  private async advance(
    lease: RolloutLease,
    reports: RolloutReports,
    index: number,
    started: number,
    options: {
      stageTimeoutMs?: number | undefined;
      required?: number;
      judged?: Pick<Progressive, "lastAnalysis" | "analyses">;
      analysis?: AnalysisResult;
    } = {},
  ): Promise<ProgressView> {
    const progressive = this.progressiveOf(lease);
    const staged = await this.options.coordinator.stage(lease, reports, lease.rollout, {
      timeoutMs: options.stageTimeoutMs ?? this.stageTimeoutMs,
      required: options.required ?? 1,
    });
    if (!staged.ok)
      return this.end(lease, reports, progressive.weight > 0 ? "rolled-back" : "aborted", staged.reason, started);
    const weight = progressive.steps[index] ?? 100;
    const { lease: moved, unconfirmed } = await this.applySplit(lease, reports, staged.nodes, {
      ...options.judged,
      step: index,
      weight,
      bakeUntil: this.now() + progressive.bakeMs,
      holding: progressive.manual ? `manual: \`cutover promote ${lease.model}\` moves on` : null,
    });
    if (options.analysis !== undefined) {
      await this.holding(moved, () => this.hook(moved, "step", this.progressiveOf(moved), options.analysis));
    }
    await this.options.store.release(moved);
    return this.view(moved, "progressing", { unconfirmed });
  }

  /** Writes the split (a new seq) and announces it; waits for the nodes' `weighted` confirmations. */
  private async applySplit(
    lease: RolloutLease,
    reports: RolloutReports,
    nodes: readonly string[],
    changes: Partial<Progressive>,
  ): Promise<{ lease: RolloutLease; unconfirmed: string[] }> {
    const { store, bus, fleet, coordinator } = this.options;
    const progressive = this.progressiveOf(lease);
    const seq = progressive.seq + 1;
    const rollout: Rollout = {
      ...lease.rollout,
      phase: "progressing",
      progressive: { ...progressive, ...changes, seq },
    };
    const moved = await store.update(lease, rollout);
    const next = this.progressiveOf(moved);
    await bus.publish(
      fleet.keys.commandChannel(lease.model),
      encodeMessage({
        type: "split",
        model: lease.model,
        version: lease.rollout.target,
        rolloutId: lease.rollout.id,
        seq,
        weight: next.weight,
        shadowPercent: next.shadowPercent,
      }),
    );
    this.options.observer?.weight?.(lease.model, next.baseline, lease.rollout.target, next.weight);
    let live = new Set(nodes);
    const applied = (nodeId: string) => (reports.weighted.get(nodeId)?.seq ?? -1) >= seq;
    await reports.waitFor(
      () => nodes.every((nodeId) => applied(nodeId) || !live.has(nodeId)),
      this.confirmTimeoutMs,
      Math.min(1_000, this.confirmTimeoutMs),
      async () => {
        if (!(await store.extend(moved, this.lockTtlMs))) {
          throw new StateError(
            ErrorCode.LockLost,
            `the rollout lock of ${lease.model} expired while nodes applied the split`,
          );
        }
        const records = await coordinator.liveNodes(lease.model);
        live = new Set(records.map((record) => record.nodeId));
        for (const record of records) {
          const split = record.models[lease.model]?.split;
          if (split?.rolloutId === lease.rollout.id && split.seq >= seq && !applied(record.nodeId)) {
            reports.weighted.set(record.nodeId, {
              type: "weighted",
              nodeId: record.nodeId,
              model: lease.model,
              rolloutId: lease.rollout.id,
              seq: split.seq,
              weight: split.weight,
              at: Date.parse(record.updatedAt),
            });
          }
        }
      },
    );
    const unconfirmed = nodes.filter((nodeId) => live.has(nodeId) && !applied(nodeId)).sort();
    if (unconfirmed.length > 0) {
      this.log(
        `${lease.model}: ${unconfirmed.join(", ")} did not confirm ${percent(next.weight)} within ${this.confirmTimeoutMs} ms`,
      );
    }
    return { lease: moved, unconfirmed };
  }

  /** After the last step: the coordinator's promotion (pointer, `promote`, confirmations, history). */
  private async complete(
    lease: RolloutLease,
    reports: RolloutReports,
    started: number,
    judged: Pick<Progressive, "lastAnalysis" | "analyses">,
  ): Promise<ProgressView> {
    const { coordinator } = this.options;
    const staged = await coordinator.stage(lease, reports, lease.rollout, {
      timeoutMs: this.stageTimeoutMs,
      required: 1,
    });
    const progressive = { ...this.progressiveOf(lease), ...judged };
    if (!staged.ok) return this.end(lease, reports, "rolled-back", staged.reason, started);
    const promotion = await coordinator.promoteStaged(
      lease,
      reports,
      { model: lease.model, version: lease.rollout.target, by: lease.rollout.by, action: "activate" },
      staged.nodes,
      started,
      this.extra(progressive),
    );
    this.options.observer?.weight?.(lease.model, progressive.baseline, lease.rollout.target, 100);
    const done = { ...lease, rollout: { ...lease.rollout, progressive: { ...progressive, weight: 100 } } };
    // The last step's hook (judged, then followed by the promotion), then the completion's.
    await this.hook(lease, "step", progressive, progressive.lastAnalysis ?? undefined);
    await this.hook(done, "complete", this.progressiveOf(done));
    return this.view(done, "promoted", { promotion, unconfirmed: promotion.unconfirmed });
  }

  /** The candidate back to 0 % (confirmed by the nodes), the rollout recorded as aborted, nodes told. */
  private async end(
    lease: RolloutLease,
    reports: RolloutReports,
    state: "rolled-back" | "aborted",
    reason: string,
    started: number,
    analysis?: AnalysisResult,
  ): Promise<ProgressView> {
    const { coordinator, bus, fleet } = this.options;
    let ended = lease;
    let unconfirmed: string[] = [];
    const progressive = this.progressiveOf(lease);
    if (lease.rollout.phase === "progressing") {
      const nodes = (await coordinator.liveNodes(lease.model)).map((record) => record.nodeId);
      ({ lease: ended, unconfirmed } = await this.applySplit(lease, reports, nodes, {
        weight: 0,
        // Should this controller stop before the history entry, the next tick finishes the end with it.
        holding: reason,
        ...(analysis !== undefined
          ? { lastAnalysis: analysis, analyses: [...(progressive.analyses ?? []), analysis] }
          : {}),
      }));
    }
    const final = this.progressiveOf(ended);
    await coordinator.finish(
      ended,
      { action: "activate" },
      { outcome: "aborted", nodes: [], reason, revision: ended.startState.revision, ...this.extra(final) },
      started,
    );
    await bus.publish(
      fleet.keys.commandChannel(lease.model),
      encodeMessage({ type: "abort", model: lease.model, rolloutId: lease.rollout.id, reason }),
    );
    await this.hook(ended, "rollback", final, analysis, reason);
    return this.view(ended, state, { reason, unconfirmed });
  }

  /** Records the step's latest analysis (and a hold), then lets go of the lock. */
  private async record(lease: RolloutLease, changes: Partial<Progressive>): Promise<ProgressView> {
    const progressive = this.progressiveOf(lease);
    const recorded = await this.options.store.update(lease, {
      ...lease.rollout,
      progressive: { ...progressive, ...changes },
    });
    await this.options.store.release(recorded);
    return this.view(recorded, "progressing", { unconfirmed: [] });
  }

  private extra(progressive: Progressive): HistoryExtra {
    const analyses = progressive.analyses ?? [];
    return {
      strategy: progressive.strategy,
      steps: [...progressive.steps],
      ...(analyses.length > 0 ? { analyses: [...analyses] } : {}),
    };
  }

  private async hook(
    lease: RolloutLease,
    event: Hook["event"],
    progressive: Progressive,
    analysis?: AnalysisResult,
    reason?: string,
  ): Promise<{ ok: boolean; reason?: string }> {
    const hooks = (progressive.hooks ?? []).filter((hook) => hook.event === event);
    const runner = this.options.hooks;
    if (hooks.length === 0 || runner === undefined) return { ok: true };
    const outcome = await runner.run(hooks, {
      event,
      model: lease.model,
      rolloutId: lease.rollout.id,
      from: progressive.baseline,
      to: lease.rollout.target,
      strategy: progressive.strategy,
      steps: progressive.steps,
      step: progressive.step,
      weight: progressive.weight,
      at: new Date(this.now()).toISOString(),
      ...(analysis !== undefined ? { analysis } : {}),
      ...(reason !== undefined ? { reason } : {}),
    });
    if (!outcome.ok) this.log(`${lease.model}: ${event} hook failed: ${outcome.reason ?? "no reason given"}`);
    return outcome;
  }

  private view(
    lease: RolloutLease,
    state: ProgressView["state"],
    details: { unconfirmed: readonly string[]; reason?: string; promotion?: RolloutResult },
  ): ProgressView {
    const progressive = this.progressiveOf(lease);
    const { model, rollout } = lease;
    const where = `${model}: ${progressive.baseline} → ${rollout.target}`;
    const stepText = `step ${progressive.step + 1}/${progressive.steps.length}`;
    const message =
      state === "promoted"
        ? `${where}: promoted to 100 % after ${progressive.steps.length} step(s)`
        : state === "progressing"
          ? `${where}: ${percent(progressive.weight)} (${stepText})${progressive.holding ? `, holding: ${progressive.holding}` : ""}`
          : `${where}: ${state === "rolled-back" ? "rolled back" : "aborted"} to 0 %: ${details.reason ?? ""}`;
    return {
      rolloutId: rollout.id,
      model,
      from: progressive.baseline,
      to: rollout.target,
      state,
      strategy: progressive.strategy,
      steps: progressive.steps,
      step: progressive.step,
      weight: state === "progressing" || state === "promoted" ? progressive.weight : 0,
      bakeUntil: progressive.bakeUntil,
      holding: progressive.holding,
      lastAnalysis: progressive.lastAnalysis,
      unconfirmed: details.unconfirmed,
      ...(details.reason !== undefined ? { reason: details.reason } : {}),
      ...(details.promotion !== undefined ? { promotion: details.promotion } : {}),
      message,
    };
  }
}

/** The history entry's figures as a line per analysis (CLI, notifications). */
export function analysisLines(entry: Pick<HistoryEntry, "analyses">): string[] {
  return (entry.analyses ?? []).map(
    (analysis) => `${percent(analysis.weight)} (step ${analysis.step + 1}): ${analysis.verdict}: ${analysis.reason}`,
  );
}
