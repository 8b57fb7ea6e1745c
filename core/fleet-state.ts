/**
 * What both planes read and the nodes write about the fleet: model state and history, node
 * heartbeats. Two implementations: Redis (fleets) and in-memory (the embedded default, one process).
 */
import type { HistoryEntry, ModelState, NodeRecord } from "./model-state.js";
import type { StateKeys } from "./state-keys.js";

export interface FleetStateStore {
  /** Key and channel names (channels name the bus topics in both implementations). */
  readonly keys: StateKeys;
  /** Resolves when the state store answers; STATE_UNREACHABLE otherwise. */
  ping(): Promise<void>;
  /** The model's state; the empty state for a model never activated. */
  getModelState(model: string): Promise<ModelState>;
  /** Models that have ever had state, sorted. */
  listModelNames(): Promise<string[]>;
  /** The newest `limit` history entries, newest first. */
  history(model: string, limit?: number): Promise<HistoryEntry[]>;
  heartbeat(record: NodeRecord, ttlMs: number, now?: number): Promise<void>;
  deregister(nodeId: string): Promise<void>;
  /** Nodes whose heartbeat has not expired, sorted by id. */
  listNodes(now?: number): Promise<NodeRecord[]>;
  /**
   * Nodes whose heartbeat has not expired that serve `model` (list it, or serve every model), sorted
   * by id — read from a per-model index, so the cost follows that model's nodes, not the fleet's.
   */
  listModelNodes(model: string, now?: number): Promise<NodeRecord[]>;
}
