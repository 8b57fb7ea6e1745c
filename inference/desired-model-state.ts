/**
 * What the fleet wants of one model, as its node last learnt it — from bus messages and from state
 * reads. Messages and reads only write here; the model's reconcile cycle (model-reconciler.ts) reads
 * it, compares it with what the node holds and converges. Pub/sub is a signal and state the truth: a
 * message fills in ahead of the next read, and a read corrects what a message got wrong or missed.
 */
import type { AbortMessage, PrepareMessage, PromoteMessage, SplitMessage } from "../core/messages.js";
import type { ModelState, Rollout } from "../core/model-state.js";
import type { SplitSettings } from "./split-router.js";

/** A version at the revision it was (or is to be) activated at. */
export interface VersionAt {
  readonly version: string;
  readonly revision: number;
}

/** The rollout in flight for the model. */
export interface RolloutIntent {
  readonly id: string;
  readonly target: string;
  readonly phase: "preparing" | "promoting" | "progressing";
  /** The operator forced a version whose inputs/outputs do not fit the active one's. */
  readonly allowIncompatible: boolean;
  /** The share of replayed requests whose outputs may diverge before the target is refused. */
  readonly maxReplayDivergence?: number;
}

/** The rollout's bound on replay divergence, as an optional field (absent when it sets none). */
function divergenceBound(value: number | undefined): Pick<RolloutIntent, "maxReplayDivergence"> {
  return value === undefined ? {} : { maxReplayDivergence: value };
}

/** The request split a progressive rollout asks for: `weight` % of requests to `candidate`. */
export interface SplitIntent extends SplitSettings {
  readonly candidate: string;
}

/** A progressive rollout's split as the state says it; null when the rollout is not progressing. */
function splitOf(rollout: Rollout | null): SplitIntent | null {
  if (rollout?.phase !== "progressing" || rollout.progressive === undefined) return null;
  const { weight, seq, shadowPercent } = rollout.progressive;
  return { rolloutId: rollout.id, candidate: rollout.target, seq, weight, shadowPercent };
}

export class DesiredModelState {
  /** The version to serve; null until a message or a read names one. */
  active: VersionAt | null = null;
  /** The rollout waiting for this node's `promoted` once `active` is served; said once, then cleared. */
  confirmTo: string | null = null;
  /** The rollout in flight: null when there is none, undefined while nothing said either way. */
  rollout: RolloutIntent | null | undefined = undefined;
  /**
   * The split to apply: the one with the highest seq heard of the rollout in flight; null when there
   * is none (no progressive rollout, or it ended).
   */
  split: SplitIntent | null = null;
  /** The next cycle re-reads the state (a resync). */
  readDue = false;
  /** The last read found the rollout still preparing: an answer already given is said again. */
  resendDue = false;
  /** Messages heard so far: a read begun before the latest one must not undo what it said. */
  private heard = 0;

  /** A `promote` message: serve `version` at `revision` and confirm to its rollout. */
  promoted(message: PromoteMessage): void {
    this.heard++;
    this.active = { version: message.version, revision: message.revision };
    this.confirmTo = message.rolloutId;
    this.rollout = {
      id: message.rolloutId,
      target: message.version,
      phase: "promoting",
      allowIncompatible: this.rollout?.id === message.rolloutId && this.rollout.allowIncompatible,
    };
  }

  /** A `prepare` message: stage the rollout's target and answer it. */
  preparing(message: PrepareMessage): void {
    this.heard++;
    // A progressive rollout prepares again for nodes that joined: its split stays; another's ends.
    if (this.split !== null && this.split.rolloutId !== message.rolloutId) this.split = null;
    this.rollout = {
      id: message.rolloutId,
      target: message.version,
      phase: "preparing",
      allowIncompatible: message.allowIncompatible ?? false,
      ...divergenceBound(message.maxReplayDivergence),
    };
  }

  /**
   * A `split` message: the rollout is progressing, at the message's weight unless a higher seq of it
   * is known. One for a rollout this node has not heard of (it joined mid-rollout) also asks for a
   * state read, which says how the target is to be staged (allowIncompatible).
   */
  splitting(message: SplitMessage): void {
    this.heard++;
    const { rolloutId, version, seq, weight, shadowPercent } = message;
    const known = this.rollout?.id === rolloutId ? this.rollout : null;
    // A promote said after the split: the candidate is (about to be) active, nothing left to split.
    if (known?.phase === "promoting") return;
    if (this.split?.rolloutId === rolloutId && this.split.seq >= seq) return;
    if (known === null) this.readDue = true;
    this.rollout = {
      id: rolloutId,
      target: version,
      phase: "progressing",
      allowIncompatible: known?.allowIncompatible ?? false,
      ...divergenceBound(known?.maxReplayDivergence),
    };
    this.split = { rolloutId, candidate: version, seq, weight, shadowPercent };
  }

  /** An `abort` message: the rollout is over (a newer one it does not name stays). */
  aborted(message: AbortMessage): void {
    this.heard++;
    if (this.rollout === undefined || this.rollout === null || this.rollout.id === message.rolloutId) {
      this.rollout = null;
    }
    if (this.split?.rolloutId === message.rolloutId) this.split = null;
  }

  /** Marks the start of a state read; pass what it returns to {@link read}. */
  readStarted(): number {
    return this.heard;
  }

  /**
   * A state read. Its active version replaces one learnt at a lower revision (a message at a higher
   * one is newer than the read); `confirm` says whether to confirm to a rollout caught mid-promotion.
   * When a message arrived while the read was under way (`started` is behind), the read may predate
   * it: its rollout is not taken (the next read's is). Its split is taken unless a higher seq of the
   * same rollout is known; a rollout of the split's that is preparing again or promoting keeps it.
   */
  read(state: ModelState, confirm: boolean, started: number): void {
    if (state.active !== null && (this.active === null || state.revision >= this.active.revision)) {
      this.active = { version: state.active, revision: state.revision };
    }
    if (started !== this.heard) return;
    const rollout = state.rollout;
    this.rollout =
      rollout === null
        ? null
        : {
            id: rollout.id,
            target: rollout.target,
            phase: rollout.phase,
            allowIncompatible: rollout.allowIncompatible ?? false,
            ...divergenceBound(rollout.maxReplayDivergence),
          };
    this.resendDue = rollout?.phase === "preparing";
    const split = splitOf(rollout);
    if (split !== null) {
      if (this.split?.rolloutId !== split.rolloutId || this.split.seq < split.seq) this.split = split;
    } else if (this.split !== null && this.split.rolloutId !== rollout?.id) {
      this.split = null;
    }
    if (confirm && rollout?.phase === "promoting" && rollout.target === state.active) this.confirmTo = rollout.id;
  }

  /** The state store lost its data: what was learnt at its old revisions no longer counts. */
  forget(): void {
    this.active = null;
  }

  /** The rollout to confirm to, cleared: a confirmation is said once per message or read. */
  takeConfirmation(): string | null {
    const rolloutId = this.confirmTo;
    this.confirmTo = null;
    return rolloutId;
  }

  /** The split is done with: its candidate was promoted. */
  splitEnded(): void {
    this.split = null;
  }

  /** Whether to say the last answer again, cleared. */
  takeResend(): boolean {
    const resend = this.resendDue;
    this.resendDue = false;
    return resend;
  }
}
