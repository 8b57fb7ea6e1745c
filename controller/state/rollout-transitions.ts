/**
 * The controller's state transitions, as the rollout coordinator needs them. Two implementations
 * with the same rules: Redis (Lua scripts, for fleets) and in-memory (the embedded default).
 */
import { randomBytes } from "node:crypto";
import { ErrorCode, StateError } from "../../core/errors.js";
import type { HistoryEntry, ModelState, Rollout } from "../../core/model-state.js";
import type { Progressive } from "../../core/progressive.js";
import { stagingRules } from "../rollout-request.js";

/** A rollout's hold on a model: what it started from and the lock it owns. */
export interface RolloutLease {
  readonly model: string;
  readonly rollout: Rollout;
  readonly token: string;
  readonly lockTtlMs: number;
  /** The state when the rollout began (its revision guards the promotion). */
  readonly startState: ModelState;
}

export interface BeginOptions {
  readonly target: string;
  readonly by: string;
  readonly lockTtlMs: number;
  readonly expectRevision?: number;
  readonly allowIncompatible?: boolean;
  readonly maxReplayDivergence?: number;
  /** A canary or linear rollout (its record stays in the state between steps). */
  readonly progressive?: Progressive;
  readonly now?: Date;
}

export interface ResumeOptions {
  /** The rollout expected; absent: whichever the state records. */
  readonly rolloutId?: string;
  readonly lockTtlMs: number;
}

export interface RolloutTransitions {
  /** Takes the model's rollout lock. Fails with ROLLOUT_IN_PROGRESS or REVISION_MISMATCH. */
  begin(model: string, options: BeginOptions): Promise<RolloutLease>;
  /** Renews the lock; false when it is no longer ours. */
  extend(lease: RolloutLease, ttlMs: number): Promise<boolean>;
  /** The atomic promotion: active = target, previous = old active, revision + 1. */
  promote(lease: RolloutLease, now?: Date): Promise<ModelState>;
  /** Clears the rollout, appends its history entry, releases the lock. False if the lock was lost. */
  finish(lease: RolloutLease, entry: HistoryEntry): Promise<boolean>;
  /**
   * Takes the lock of the rollout recorded in the model state (a progressive rollout between steps,
   * or one whose controller died): undefined when there is none (or not `rolloutId`); fails with
   * ROLLOUT_IN_PROGRESS while another controller holds the lock.
   */
  resume(model: string, options: ResumeOptions): Promise<RolloutLease | undefined>;
  /** Rewrites the rollout record (its progressive part) while the lock is ours. LOCK_LOST otherwise. */
  update(lease: RolloutLease, rollout: Rollout): Promise<RolloutLease>;
  /** Releases the lock and leaves the rollout recorded (between steps). False if it was not ours. */
  release(lease: RolloutLease): Promise<boolean>;
  /** Copies a durable pointer into the working state when it is behind (no-op without one). */
  syncFromDurable(model: string): Promise<void>;
}

/** A new rollout record and the random owner token of its lock (both backends make them the same way). */
export function newRollout(options: BeginOptions): { rollout: Rollout; token: string } {
  return {
    rollout: {
      id: randomBytes(8).toString("hex"),
      target: options.target,
      phase: "preparing",
      startedAt: (options.now ?? new Date()).toISOString(),
      by: options.by,
      ...stagingRules(options),
      ...(options.progressive !== undefined ? { progressive: options.progressive } : {}),
    },
    token: newLockToken(),
  };
}

export function newLockToken(): string {
  return randomBytes(16).toString("hex");
}

/** The lease of a rollout found in `state` (resume): it started from the state's pointer as it is now. */
export function resumedLease(model: string, state: ModelState, token: string, lockTtlMs: number): RolloutLease {
  const rollout = state.rollout;
  if (rollout === null) throw new Error(`${model} has no rollout to resume`);
  return { model, rollout, token, lockTtlMs, startState: { ...state, rollout: null } };
}

/** ROLLOUT_IN_PROGRESS naming the rollout; a progressive one between steps says how to end it. */
export function rolloutInProgress(model: string, state: ModelState): StateError {
  const running = state.rollout;
  const named = running ? ` (${running.id} → ${running.target}, by ${running.by})` : "";
  const hint =
    running?.progressive !== undefined
      ? `; \`cutover promote ${model}\` or \`cutover abort ${model}\` moves it on`
      : "";
  return new StateError(ErrorCode.RolloutInProgress, `a rollout of ${model} is in progress${named}${hint}`);
}
