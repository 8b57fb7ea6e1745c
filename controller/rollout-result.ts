/**
 * What an activation or a rollback answers: where the pointer went, what each node said, and whether
 * every node that staged the target confirmed serving it — what a pipeline reads to know that the
 * fleet serves the version, not only that the pointer moved.
 */
import type { ModelState, NodeOutcome } from "../core/model-state.js";

export interface RolloutResult {
  readonly rolloutId: string | null;
  readonly model: string;
  readonly from: string | null;
  readonly to: string;
  readonly revision: number;
  /** False when the target was already active: nothing was done. */
  readonly changed: boolean;
  readonly nodes: readonly NodeOutcome[];
  /** Live nodes that confirmed serving the new version, of those that staged it. */
  readonly confirmed: number;
  /**
   * True when every node that staged the target confirmed serving it within the confirmation
   * timeout (so also when nothing changed, or no node staged it under allowNoNodes).
   */
  readonly fullyConfirmed: boolean;
  /** The nodes that staged the target but did not confirm serving it; empty when fullyConfirmed. */
  readonly unconfirmed: readonly string[];
  /** What nodes warned about while staging (e.g. the version was staged cold), one line per node. */
  readonly warnings?: readonly string[];
  readonly switchSpreadMs?: number;
  readonly durationMs: number;
  readonly message: string;
}

/** The answer when the target is already active: nothing to do, nothing to confirm. */
export function unchangedResult(model: string, version: string, state: ModelState, durationMs: number): RolloutResult {
  return {
    rolloutId: null,
    model,
    from: version,
    to: version,
    revision: state.revision,
    changed: false,
    nodes: [],
    confirmed: 0,
    fullyConfirmed: true,
    unconfirmed: [],
    durationMs,
    message: `${model} already serves ${version} (revision ${state.revision}); nothing to do`,
  };
}

/** What a promotion's node outcomes add up to: the counts, the missing nodes, and the line that says so. */
export interface Confirmation {
  readonly confirmed: number;
  readonly fullyConfirmed: boolean;
  readonly unconfirmed: readonly string[];
  readonly message: string;
  /** For the history entry when some node did not confirm; absent when all did. */
  readonly reason?: string;
}

export function confirmationOf(
  model: string,
  target: string,
  revision: number,
  nodes: readonly NodeOutcome[],
): Confirmation {
  const moved = `${model} → ${target} at revision ${revision}`;
  if (nodes.length === 0) {
    return {
      confirmed: 0,
      fullyConfirmed: true,
      unconfirmed: [],
      message: `${moved}; no live node serves ${model} (allowed): nodes load it when they start`,
    };
  }
  const missing = nodes.filter((node) => node.outcome !== "promoted");
  const confirmed = nodes.length - missing.length;
  const counted = `${confirmed}/${nodes.length} node(s) confirmed`;
  if (missing.length === 0)
    return { confirmed, fullyConfirmed: true, unconfirmed: [], message: `${moved}; ${counted}` };
  const named = missing.map((node) => (node.reason ? `${node.nodeId} (${node.reason})` : node.nodeId)).join(", ");
  return {
    confirmed,
    fullyConfirmed: false,
    unconfirmed: missing.map((node) => node.nodeId),
    message: `${moved}; ${counted}, not confirmed: ${named}`,
    reason: `${counted}; not confirmed: ${named}`,
  };
}
