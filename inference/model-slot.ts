/**
 * The versions of one model resident on this node, and the swap. Everything here is synchronous:
 * a promotion is one reference assignment, so a request sees either the old session or the new one,
 * never neither. Each request holds a lease on the session it started with; a session is released
 * only when it is neither active, staged, kept warm nor a split's candidate, and its last lease has
 * ended. The slot also keeps what each version answered (served-traffic.ts) for the heartbeat record.
 */
import type { LoadedVersion } from "./loaded-version.js";
import { ReplayBuffer, type ReplayLimits } from "./replay-buffer.js";
import { ServedTraffic } from "./served-traffic.js";
import type { AppliedSplit } from "./split-router.js";

export interface Lease {
  readonly loaded: LoadedVersion;
  /** Ends the lease; call exactly once, when the request is done with the session. */
  end(): void;
}

export class ModelSlot {
  active: LoadedVersion | null = null;
  /** The revision the active version was promoted at (0: none yet, or the state store was reset). */
  revision = 0;
  /** Previous versions kept loaded for an instant rollback, most recent first. */
  warm: LoadedVersion[] = [];
  staged: LoadedVersion | null = null;
  /** The rollout the staged version was prepared for. */
  stagedFor: string | null = null;
  /**
   * The request split of a progressive rollout in force (split-router.ts), null when none: its
   * candidate counts as resident, so nothing releases it while requests may be routed to it.
   */
  split: AppliedSplit | null = null;
  /** Every answer a version of this model gave on this node, cumulative; counted by the infer endpoint. */
  readonly served = new ServedTraffic();
  /** Recent requests the active version answered with a 2xx, for replay on a staged candidate. */
  readonly replay: ReplayBuffer;

  constructor(
    readonly model: string,
    private readonly keepWarm: number,
    private readonly onRelease: (loaded: LoadedVersion) => void,
    replay: ReplayLimits = { maxRequests: 0, maxBytes: 0 },
  ) {
    this.replay = new ReplayBuffer(replay);
  }

  /** A resident version by name: active, warm, staged or the split's candidate. */
  resident(version: string): LoadedVersion | undefined {
    return (
      [this.active, this.staged, ...this.warm, this.split?.candidate].find((loaded) => loaded?.version === version) ??
      undefined
    );
  }

  /** Leases the active version, or a pinned resident one; undefined when there is none. */
  acquire(version?: string): Lease | undefined {
    const loaded = version === undefined ? this.active : this.resident(version);
    if (loaded === null || loaded === undefined) return undefined;
    return this.lease(loaded);
  }

  /** Leases a version the caller got from this slot (a split's candidate). */
  lease(loaded: LoadedVersion): Lease {
    loaded.leases++;
    let ended = false;
    return {
      loaded,
      end: () => {
        if (ended) return;
        ended = true;
        loaded.leases--;
        this.releaseIfIdle(loaded);
      },
    };
  }

  /** Holds a freshly staged version (replacing, and retiring, any other staged one). */
  stage(loaded: LoadedVersion, rolloutId: string | null): void {
    const previous = this.staged;
    this.staged = loaded;
    this.stagedFor = rolloutId;
    if (previous !== null && previous !== loaded) this.retireIfUnused(previous);
  }

  /**
   * Puts a split in force (its candidate must be resident), replacing any other: one assignment, so a
   * request is routed by the old split or the new one.
   */
  applySplit(split: AppliedSplit): void {
    const previous = this.split;
    this.split = split;
    if (previous !== null && previous.candidate !== split.candidate) this.retireIfUnused(previous.candidate);
  }

  /** Ends the split: every unpinned request goes to the active version; returns the split ended. */
  clearSplit(): AppliedSplit | null {
    const previous = this.split;
    this.split = null;
    if (previous !== null) this.retireIfUnused(previous.candidate);
    return previous;
  }

  /** Drops the staged version (an abort, or a rollout that never promoted). */
  dropStaged(): void {
    const staged = this.staged;
    this.staged = null;
    this.stagedFor = null;
    if (staged !== null) this.retireIfUnused(staged);
  }

  /**
   * The swap: makes the resident `version` active at `revision`. The old active goes to the front of
   * the warm list; versions beyond `keepWarm` are retired. Returns false if `version` is not resident.
   */
  promote(version: string, revision: number): boolean {
    const next = this.resident(version);
    if (next === undefined) return false;
    const previous = this.active;
    this.active = next;
    this.revision = revision;
    // The candidate promoted answers every request: its split is over, in the same assignment.
    if (this.split?.candidate === next) this.split = null;
    if (this.staged === next) {
      this.staged = null;
      this.stagedFor = null;
    }
    this.warm = this.warm.filter((loaded) => loaded !== next);
    if (previous !== null && previous !== next) this.warm.unshift(previous);
    for (const evicted of this.warm.splice(this.keepWarm)) this.retireIfUnused(evicted);
    return true;
  }

  /**
   * Sets the revision the active version counts as applied at, without a swap: after the state store
   * lost its data its revisions start again, and the node must take them as newer than its own.
   */
  rebase(revision: number): void {
    this.revision = revision;
  }

  /** Every resident version (for shutdown). */
  all(): LoadedVersion[] {
    return [
      ...new Set(
        [this.active, this.staged, ...this.warm, this.split?.candidate ?? null].filter(
          (loaded): loaded is LoadedVersion => loaded !== null,
        ),
      ),
    ];
  }

  /** Forgets every version; each is released once idle. */
  clear(): void {
    const all = this.all();
    this.active = null;
    this.staged = null;
    this.stagedFor = null;
    this.split = null;
    this.warm = [];
    for (const loaded of all) this.retireIfUnused(loaded);
  }

  private retireIfUnused(loaded: LoadedVersion): void {
    if (this.resident(loaded.version) === loaded) return;
    loaded.retired = true;
    this.releaseIfIdle(loaded);
  }

  private releaseIfIdle(loaded: LoadedVersion): void {
    if (!loaded.retired || loaded.released || loaded.leases > 0) return;
    loaded.released = true;
    this.onRelease(loaded);
  }
}
