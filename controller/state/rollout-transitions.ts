/**
 * The controller's state transitions, as the rollout coordinator needs them. Two implementations
 * with the same rules: Redis (Lua scripts, for fleets) and in-memory (the embedded default).
 */
import { randomBytes } from "node:crypto";
import type { HistoryEntry, ModelState, Rollout } from "../../core/model-state.js";

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
  readonly now?: Date;
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
      ...(options.allowIncompatible ? { allowIncompatible: true } : {}),
    },
    token: randomBytes(16).toString("hex"),
  };
}
