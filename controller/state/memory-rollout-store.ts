/**
 * The rollout transitions on in-memory state (the embedded default), with the same rules as the Lua
 * scripts of the Redis implementation: one lock per model with a TTL, the expected revision, only the
 * lock owner promotes, a finished rollout clears only its own record. Each method runs without an
 * await between its checks and its writes, which is what makes it atomic in one process; it then
 * waits for the fleet state to be saved (when it has a file), so a change is on disk before it is
 * announced.
 */
import { ErrorCode, StateError } from "../../core/errors.js";
import type { MemoryFleetState } from "../../core/memory/memory-fleet-state.js";
import { emptyModelState, type HistoryEntry, type ModelState, type Rollout } from "../../core/model-state.js";
import {
  type BeginOptions,
  newLockToken,
  newRollout,
  type ResumeOptions,
  type RolloutLease,
  type RolloutTransitions,
  resumedLease,
  rolloutInProgress,
} from "./rollout-transitions.js";

export class MemoryRolloutStore implements RolloutTransitions {
  constructor(
    private readonly fleet: MemoryFleetState,
    private readonly historyCap = 1000,
  ) {}

  private lockHeld(model: string, now = Date.now()): { token: string; expiresAt: number } | undefined {
    const lock = this.fleet.locks.get(model);
    if (lock !== undefined && lock.expiresAt <= now) {
      this.fleet.locks.delete(model);
      return undefined;
    }
    return lock;
  }

  async begin(model: string, options: BeginOptions): Promise<RolloutLease> {
    const state = this.fleet.states.get(model) ?? emptyModelState();
    // A progressive rollout between its steps holds no lock but is still running.
    if (this.lockHeld(model) !== undefined || state.rollout?.phase === "progressing")
      throw rolloutInProgress(model, state);
    if (options.expectRevision !== undefined && options.expectRevision !== state.revision) {
      throw new StateError(
        ErrorCode.RevisionMismatch,
        `${model} is at revision ${state.revision}, not the expected ${options.expectRevision}`,
      );
    }
    const { rollout, token } = newRollout(options);
    this.fleet.locks.set(model, { token, expiresAt: Date.now() + options.lockTtlMs });
    this.fleet.states.set(model, { ...state, rollout });
    await this.fleet.save();
    return {
      model,
      rollout,
      token,
      lockTtlMs: options.lockTtlMs,
      startState: { ...structuredClone(state), rollout: null },
    };
  }

  async extend(lease: RolloutLease, ttlMs: number): Promise<boolean> {
    const lock = this.lockHeld(lease.model);
    if (lock?.token !== lease.token) return false;
    lock.expiresAt = Date.now() + ttlMs;
    return true;
  }

  async promote(lease: RolloutLease, now = new Date()): Promise<ModelState> {
    if (this.lockHeld(lease.model)?.token !== lease.token) {
      throw new StateError(ErrorCode.LockLost, `the rollout lock of ${lease.model} expired or was taken over`);
    }
    const state = this.fleet.states.get(lease.model) ?? emptyModelState();
    if (state.revision !== lease.startState.revision) {
      throw new StateError(
        ErrorCode.RevisionMismatch,
        `${lease.model} is at revision ${state.revision}, not the expected ${lease.startState.revision}`,
      );
    }
    if (state.rollout?.id !== lease.rollout.id) {
      throw new StateError(ErrorCode.LockLost, `the rollout of ${lease.model} was replaced by another`);
    }
    const promoted: ModelState = {
      active: lease.rollout.target,
      previous: state.active,
      revision: state.revision + 1,
      rollout: { ...state.rollout, phase: "promoting" },
      updatedAt: now.toISOString(),
      updatedBy: lease.rollout.by,
    };
    this.fleet.states.set(lease.model, promoted);
    await this.fleet.save();
    return structuredClone(promoted);
  }

  async finish(lease: RolloutLease, entry: HistoryEntry): Promise<boolean> {
    const state = this.fleet.states.get(lease.model);
    if (state?.rollout?.id === lease.rollout.id) this.fleet.states.set(lease.model, { ...state, rollout: null });
    const history = this.fleet.histories.get(lease.model) ?? [];
    history.unshift(structuredClone(entry));
    history.splice(this.historyCap);
    this.fleet.histories.set(lease.model, history);
    const owned = this.lockHeld(lease.model)?.token === lease.token;
    if (owned) this.fleet.locks.delete(lease.model);
    await this.fleet.save();
    return owned;
  }

  async resume(model: string, options: ResumeOptions): Promise<RolloutLease | undefined> {
    const state = this.fleet.states.get(model) ?? emptyModelState();
    if (this.lockHeld(model) !== undefined) throw rolloutInProgress(model, state);
    const rollout = state.rollout;
    if (rollout === null || (options.rolloutId !== undefined && rollout.id !== options.rolloutId)) return undefined;
    const token = newLockToken();
    this.fleet.locks.set(model, { token, expiresAt: Date.now() + options.lockTtlMs });
    return resumedLease(model, structuredClone(state), token, options.lockTtlMs);
  }

  async update(lease: RolloutLease, rollout: Rollout): Promise<RolloutLease> {
    if (this.lockHeld(lease.model)?.token !== lease.token) {
      throw new StateError(ErrorCode.LockLost, `the rollout lock of ${lease.model} expired or was taken over`);
    }
    const state = this.fleet.states.get(lease.model);
    if (state?.rollout?.id !== lease.rollout.id) {
      throw new StateError(ErrorCode.LockLost, `the rollout of ${lease.model} was replaced by another`);
    }
    this.fleet.states.set(lease.model, { ...state, rollout: structuredClone(rollout) });
    await this.fleet.save();
    return { ...lease, rollout: structuredClone(rollout) };
  }

  async release(lease: RolloutLease): Promise<boolean> {
    const owned = this.lockHeld(lease.model)?.token === lease.token;
    if (owned) this.fleet.locks.delete(lease.model);
    return owned;
  }

  async syncFromDurable(): Promise<void> {}
}
