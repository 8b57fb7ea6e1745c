/**
 * The controller's state transitions on Redis. Each one that touches more than one key is a Lua
 * script (controller/state/lua); this class only assembles keys and arguments and maps each script
 * status to a typed error in one function.
 */
import { ErrorCode, StateError } from "../../core/errors.js";
import {
  emptyModelState,
  type HistoryEntry,
  type ModelState,
  modelStateSchema,
  parseStored,
  type Rollout,
} from "../../core/model-state.js";
import type { PointerStore } from "../../core/pointer-store.js";
import { toStateError } from "../../core/redis/connection.js";
import type { RedisFleetState } from "../../core/redis/fleet-state.js";
import { LuaScript } from "../../core/redis/lua-script.js";
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

const beginScript = new LuaScript(new URL("./lua/beginRollout-2.lua", import.meta.url));
const extendScript = new LuaScript(new URL("./lua/extendLock-1.lua", import.meta.url));
const promoteScript = new LuaScript(new URL("./lua/promoteVersion-2.lua", import.meta.url));
const finishScript = new LuaScript(new URL("./lua/finishRollout-3.lua", import.meta.url));
const syncScript = new LuaScript(new URL("./lua/syncPointer-1.lua", import.meta.url));
const resumeScript = new LuaScript(new URL("./lua/resumeRollout-2.lua", import.meta.url));
const updateScript = new LuaScript(new URL("./lua/updateRollout-2.lua", import.meta.url));
const releaseScript = new LuaScript(new URL("./lua/releaseLock-1.lua", import.meta.url));

export interface RolloutStoreOptions {
  /** Approximate number of history entries kept per model (default 1000). */
  readonly historyCap?: number;
  /** A durable home for the pointer (SSM); Redis alone when absent. */
  readonly pointers?: PointerStore;
  /**
   * Replicas a promotion and a finished rollout wait for (WAIT) before they are reported, so a
   * failover right after cannot lose them: 1 behind Sentinel (`replicasToConfirm`), 0 otherwise.
   */
  readonly replicas?: number;
  /** The longest that wait lasts (default 1000 ms); past it the transition is reported as it stands. */
  readonly replicaWaitMs?: number;
}

function statusError(status: number, model: string, state: ModelState, expected?: number): StateError {
  switch (status) {
    case -1:
      return rolloutInProgress(model, state);
    case -2:
      return new StateError(
        ErrorCode.RevisionMismatch,
        `${model} is at revision ${state.revision}, not the expected ${expected ?? "?"}`,
      );
    case -3:
      return new StateError(ErrorCode.LockLost, `the rollout lock of ${model} expired or was taken over`);
    default:
      return new StateError(ErrorCode.LockLost, `the rollout of ${model} was replaced by another`);
  }
}

export class RedisRolloutStore implements RolloutTransitions {
  private readonly historyCap: number;
  private readonly pointers: PointerStore | undefined;
  private readonly replicas: number;
  private readonly replicaWaitMs: number;

  constructor(
    readonly fleet: RedisFleetState,
    options: RolloutStoreOptions = {},
  ) {
    this.historyCap = options.historyCap ?? 1000;
    this.pointers = options.pointers;
    this.replicas = options.replicas ?? 0;
    this.replicaWaitMs = options.replicaWaitMs ?? 1_000;
  }

  /**
   * Waits until `replicas` replicas hold what this connection wrote, at most replicaWaitMs. Best
   * effort: the transition is on the master already, so neither a short count nor a failure undoes
   * it; both leave the same window a failover had before.
   */
  private async replicated(): Promise<void> {
    if (this.replicas === 0) return;
    await this.fleet.redis.wait(this.replicas, this.replicaWaitMs).catch(() => undefined);
  }

  /**
   * With a durable pointer store: copies its pointer into Redis when Redis is behind (Redis lost
   * its data, or a controller died between the two writes of a promotion). No-op otherwise.
   */
  async syncFromDurable(model: string): Promise<void> {
    const pointer = await this.pointers?.read(model);
    if (pointer === undefined) return;
    try {
      await syncScript.run(this.fleet.redis, [this.fleet.keys.modelState(model)], [JSON.stringify(pointer)]);
      await this.fleet.redis.sadd(this.fleet.keys.models(), model);
    } catch (error) {
      throw toStateError(error, `copy the ${this.pointers?.location} pointer of ${model} into Redis`);
    }
  }

  private parseReply(reply: unknown, model: string): { status: number; state: ModelState } {
    if (!Array.isArray(reply) || typeof reply[0] !== "number" || typeof reply[1] !== "string") {
      throw new StateError(ErrorCode.StateCorrupt, `unexpected script reply for ${model}`);
    }
    const raw = reply[1];
    return {
      status: reply[0],
      state: raw === "" ? emptyModelState() : parseStored(modelStateSchema, raw, `state of ${model}`),
    };
  }

  /** Takes the model's rollout lock. Fails with ROLLOUT_IN_PROGRESS or REVISION_MISMATCH. */
  async begin(model: string, options: BeginOptions): Promise<RolloutLease> {
    const { fleet } = this;
    const { rollout, token } = newRollout(options);
    let reply: unknown;
    try {
      reply = await beginScript.run(
        fleet.redis,
        [fleet.keys.modelState(model), fleet.keys.rolloutLock(model)],
        [token, options.lockTtlMs, JSON.stringify(rollout), options.expectRevision ?? ""],
      );
      await fleet.redis.sadd(fleet.keys.models(), model);
    } catch (error) {
      throw toStateError(error, `begin rollout of ${model}`);
    }
    const { status, state } = this.parseReply(reply, model);
    if (status !== 0) throw statusError(status, model, state, options.expectRevision);
    return { model, rollout, token, lockTtlMs: options.lockTtlMs, startState: { ...state, rollout: null } };
  }

  /** Renews the lock; false when it is no longer ours. */
  async extend(lease: RolloutLease, ttlMs: number): Promise<boolean> {
    try {
      const renewed = await extendScript.run(
        this.fleet.redis,
        [this.fleet.keys.rolloutLock(lease.model)],
        [lease.token, ttlMs],
      );
      return renewed === 1;
    } catch (error) {
      throw toStateError(error, `renew rollout lock of ${lease.model}`);
    }
  }

  /**
   * The atomic promotion: active = target, previous = old active, revision + 1. With a durable
   * pointer store the pointer is written there first, once the lock is confirmed ours and the
   * durable revision is the one the rollout started from.
   */
  async promote(lease: RolloutLease, now = new Date()): Promise<ModelState> {
    const { fleet } = this;
    if (this.pointers !== undefined) await this.promoteDurable(lease, now);
    let reply: unknown;
    try {
      reply = await promoteScript.run(
        fleet.redis,
        [fleet.keys.modelState(lease.model), fleet.keys.rolloutLock(lease.model)],
        [
          lease.token,
          lease.rollout.id,
          lease.startState.revision,
          lease.rollout.target,
          lease.rollout.by,
          now.toISOString(),
        ],
      );
    } catch (error) {
      throw toStateError(error, `promote ${lease.model}`);
    }
    const { status, state } = this.parseReply(reply, lease.model);
    if (status !== 0) throw statusError(status, lease.model, state, lease.startState.revision);
    await this.replicated();
    return state;
  }

  private async promoteDurable(lease: RolloutLease, now: Date): Promise<void> {
    const pointers = this.pointers;
    if (pointers === undefined) return;
    if (!(await this.extend(lease, lease.lockTtlMs))) {
      throw new StateError(ErrorCode.LockLost, `the rollout lock of ${lease.model} expired before the promotion`);
    }
    const durable = await pointers.read(lease.model);
    const start = lease.startState;
    if ((durable?.revision ?? 0) !== start.revision) {
      throw new StateError(
        ErrorCode.RevisionMismatch,
        `${pointers.location} holds revision ${durable?.revision ?? 0} of ${lease.model}, not the ${start.revision} this rollout started from`,
      );
    }
    await pointers.write(lease.model, {
      active: lease.rollout.target,
      previous: start.active,
      revision: start.revision + 1,
      updatedAt: now.toISOString(),
      updatedBy: lease.rollout.by,
    });
  }

  /** Clears the rollout, appends its history entry and releases the lock. False if the lock was lost. */
  async finish(lease: RolloutLease, entry: HistoryEntry): Promise<boolean> {
    const { fleet } = this;
    try {
      const released = await finishScript.run(
        fleet.redis,
        [fleet.keys.modelState(lease.model), fleet.keys.rolloutLock(lease.model), fleet.keys.history(lease.model)],
        [lease.token, lease.rollout.id, JSON.stringify(entry), this.historyCap],
      );
      await this.replicated();
      return released === 1;
    } catch (error) {
      throw toStateError(error, `finish rollout of ${lease.model}`);
    }
  }

  async resume(model: string, options: ResumeOptions): Promise<RolloutLease | undefined> {
    const { fleet } = this;
    const token = newLockToken();
    let reply: unknown;
    try {
      reply = await resumeScript.run(
        fleet.redis,
        [fleet.keys.modelState(model), fleet.keys.rolloutLock(model)],
        [token, options.lockTtlMs, options.rolloutId ?? ""],
      );
    } catch (error) {
      throw toStateError(error, `resume the rollout of ${model}`);
    }
    const { status, state } = this.parseReply(reply, model);
    if (status === -4) return undefined;
    if (status !== 0) throw statusError(status, model, state);
    return resumedLease(model, state, token, options.lockTtlMs);
  }

  async update(lease: RolloutLease, rollout: Rollout): Promise<RolloutLease> {
    const { fleet } = this;
    let reply: unknown;
    try {
      reply = await updateScript.run(
        fleet.redis,
        [fleet.keys.modelState(lease.model), fleet.keys.rolloutLock(lease.model)],
        [lease.token, lease.rollout.id, JSON.stringify(rollout)],
      );
    } catch (error) {
      throw toStateError(error, `update the rollout of ${lease.model}`);
    }
    const { status, state } = this.parseReply(reply, lease.model);
    if (status !== 0) throw statusError(status, lease.model, state);
    return { ...lease, rollout: state.rollout ?? rollout };
  }

  async release(lease: RolloutLease): Promise<boolean> {
    try {
      const released = await releaseScript.run(
        this.fleet.redis,
        [this.fleet.keys.rolloutLock(lease.model)],
        [lease.token],
      );
      return released === 1;
    } catch (error) {
      throw toStateError(error, `release the rollout lock of ${lease.model}`);
    }
  }
}
