/**
 * What a caller asks of a rollout (activate or rollback), and how many live nodes it needs before
 * the coordinator takes the lock.
 */
import { InputError } from "../core/errors.js";

export interface ActivateRequest {
  readonly model: string;
  readonly version: string;
  readonly by: string;
  readonly action?: "activate" | "rollback";
  readonly expectRevision?: number;
  readonly allowIncompatible?: boolean;
  /**
   * The share (0–1) of recent real requests replayed on the target whose outputs may diverge from the
   * active version's before a node refuses it (REPLAY_DIVERGED); absent: divergences are reported only.
   */
  readonly maxReplayDivergence?: number;
  /** How long nodes may take to stage (default 120 s). */
  readonly timeoutMs?: number;
  /** Go ahead with no live node serving the model: sets the pointer before a fleet starts. */
  readonly allowNoNodes?: boolean;
  /** Refuse unless at least this many live nodes serve the model (default 1; excludes allowNoNodes). */
  readonly minNodes?: number;
}

/** A rollback: the previous version, or `to`, through the same protocol (no schema check). */
export interface RollbackRequest
  extends Omit<ActivateRequest, "version" | "action" | "allowIncompatible" | "maxReplayDivergence"> {
  readonly to?: string;
}

/** How nodes are to stage a rollout's target: what travels in its record and its `prepare`. */
export type StagingRules = Pick<ActivateRequest, "allowIncompatible" | "maxReplayDivergence">;

/** The rules set, without the ones left at their default (absent fields in records and messages). */
export function stagingRules(request: StagingRules): StagingRules {
  return {
    ...(request.allowIncompatible ? { allowIncompatible: true } : {}),
    ...(request.maxReplayDivergence !== undefined ? { maxReplayDivergence: request.maxReplayDivergence } : {}),
  };
}

/**
 * How many live nodes must serve the model for the rollout to start, and to have staged the
 * target before the promotion: `minNodes`, else one, else none with `allowNoNodes`. A pointer
 * moved with nobody serving it is what `activate` must not report as success by accident.
 */
export function requiredNodes(request: Pick<ActivateRequest, "allowNoNodes" | "minNodes">): number {
  const { allowNoNodes, minNodes } = request;
  if (minNodes === undefined) return allowNoNodes ? 0 : 1;
  if (!Number.isInteger(minNodes) || minNodes < 1) {
    throw new InputError(`minNodes (--min-nodes) must be an integer ≥ 1, not ${minNodes}`);
  }
  if (allowNoNodes) {
    throw new InputError("allowNoNodes (--allow-no-nodes) and minNodes (--min-nodes) exclude each other");
  }
  return minNodes;
}
