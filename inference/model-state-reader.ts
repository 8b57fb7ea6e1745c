/**
 * Reads a model's state for its reconciler and tells a late read from a state store that lost its
 * data. Revisions only grow while the store keeps its data, so an active version below the revision
 * the node applied (or another version at the same revision) means the store lost it: a Redis flushed
 * or replaced, `cutover dev` without its state file. The state is the truth then, and the node follows
 * it from its revision on. A read that merely predates a promote applied meanwhile looks the same, so
 * the decision rests on a read begun after noting the node's revision, and is dropped if that revision
 * moved while reading. State with no active version changes nothing: the node keeps serving what it
 * has until a version is activated.
 */
import type { FleetStateStore } from "../core/fleet-state.js";
import type { ModelState } from "../core/model-state.js";
import type { VersionAt } from "./desired-model-state.js";
import type { ModelSlot } from "./model-slot.js";

/** A revision newer than the one the slot applied, or nothing served yet. */
export function isAhead(slot: ModelSlot, target: VersionAt): boolean {
  return target.revision > slot.revision || slot.active === null;
}

/** Below what the slot applied, or another version at the same revision. */
export function isBehind(slot: ModelSlot, target: VersionAt | null): boolean {
  const { active, revision } = slot;
  if (target === null || active === null) return false;
  return target.revision < revision || (target.revision === revision && target.version !== active.version);
}

/** The state's active version at its revision; null when it has none. */
export function activeOf(state: ModelState): VersionAt | null {
  return state.active === null ? null : { version: state.active, revision: state.revision };
}

export interface StateRead {
  readonly state: ModelState;
  /** The store lost its data: the caller takes the state's revisions as newer than its own. */
  readonly reset: boolean;
}

/** Reads `slot`'s model's state; when it is behind the slot, reads again to tell which. */
export async function readModelState(fleet: FleetStateStore, slot: ModelSlot): Promise<StateRead> {
  const read = await fleet.getModelState(slot.model);
  if (!isBehind(slot, activeOf(read))) return { state: read, reset: false };
  const noted = slot.revision;
  const fresh = await fleet.getModelState(slot.model);
  return { state: fresh, reset: slot.revision === noted && isBehind(slot, activeOf(fresh)) };
}
