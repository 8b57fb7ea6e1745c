/**
 * Fleet state in this process's memory, for the embedded default: the same shapes and rules as the
 * Redis implementation (heartbeats expire, history is capped, state is copied in and out so callers
 * never share objects with the store). Nothing survives the process.
 */
import type { FleetStateStore } from "../fleet-state.js";
import { emptyModelState, type HistoryEntry, type ModelState, type NodeRecord } from "../model-state.js";
import { assertModelName } from "../names.js";
import { StateKeys } from "../state-keys.js";

export class MemoryFleetState implements FleetStateStore {
  readonly keys = new StateKeys("memory:");
  /** Model states by name (read and written by the in-memory rollout transitions too). */
  readonly states = new Map<string, ModelState>();
  /** Rollout locks: owner token and expiry (ms). */
  readonly locks = new Map<string, { token: string; expiresAt: number }>();
  readonly histories = new Map<string, HistoryEntry[]>();
  private readonly nodes = new Map<string, { record: NodeRecord; expiresAt: number }>();

  async ping(): Promise<void> {}

  async getModelState(model: string): Promise<ModelState> {
    const state = this.states.get(assertModelName(model));
    return state === undefined ? emptyModelState() : structuredClone(state);
  }

  async listModelNames(): Promise<string[]> {
    return [...this.states.keys()].sort();
  }

  async history(model: string, limit = 50): Promise<HistoryEntry[]> {
    return structuredClone((this.histories.get(model) ?? []).slice(0, limit));
  }

  async heartbeat(record: NodeRecord, ttlMs: number, now = Date.now()): Promise<void> {
    this.nodes.set(record.nodeId, { record: structuredClone(record), expiresAt: now + ttlMs });
  }

  async deregister(nodeId: string): Promise<void> {
    this.nodes.delete(nodeId);
  }

  async listNodes(now = Date.now()): Promise<NodeRecord[]> {
    for (const [id, entry] of this.nodes) if (entry.expiresAt < now) this.nodes.delete(id);
    return [...this.nodes.values()]
      .map((entry) => structuredClone(entry.record))
      .sort((a, b) => a.nodeId.localeCompare(b.nodeId));
  }
}
