/**
 * Fleet state in this process's memory, for the embedded default: the same shapes and rules as the
 * Redis implementation (heartbeats expire, history is capped, state is copied in and out so callers
 * never share objects with the store). With a {@link StateFile}, model states and histories are
 * saved after every change and read back on open, so they survive a restart; heartbeats and locks
 * never do.
 */
import type { FleetStateStore } from "../fleet-state.js";
import { emptyModelState, type HistoryEntry, type ModelState, type NodeRecord, nodeServes } from "../model-state.js";
import { assertModelName } from "../names.js";
import { StateKeys } from "../state-keys.js";
import type { StateFile } from "./state-file.js";

export class MemoryFleetState implements FleetStateStore {
  readonly keys = new StateKeys("memory:");
  /** Model states by name (read and written by the in-memory rollout transitions too). */
  readonly states = new Map<string, ModelState>();
  /** Rollout locks: owner token and expiry (ms). */
  readonly locks = new Map<string, { token: string; expiresAt: number }>();
  readonly histories = new Map<string, HistoryEntry[]>();
  private readonly nodes = new Map<string, { record: NodeRecord; expiresAt: number }>();
  private saving: Promise<void> = Promise.resolve();

  constructor(private readonly file?: StateFile) {}

  /**
   * State kept in `file`, as it was saved. A rollout cannot outlive the process that ran it, so a
   * rollout record found there is dropped (its lock was never saved; nodes drop what they staged
   * for it on their next resync).
   */
  static async open(file: StateFile): Promise<MemoryFleetState> {
    const fleet = new MemoryFleetState(file);
    const saved = await file.read();
    for (const [model, state] of saved?.states ?? []) fleet.states.set(model, { ...state, rollout: null });
    for (const [model, history] of saved?.histories ?? []) fleet.histories.set(model, [...history]);
    return fleet;
  }

  /**
   * Saves the current states and histories to the file (nothing without one); the rollout
   * transitions call it after each change and resolve once it is on disk. Saves run one at a time,
   * each writing everything, so a save that fails is made good by the next.
   */
  save(): Promise<void> {
    const file = this.file;
    if (file === undefined) return Promise.resolve();
    const next = this.saving.then(() => file.write({ states: this.states, histories: this.histories }));
    this.saving = next.catch(() => undefined);
    return next;
  }

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

  /** One process's nodes are few and in memory: a filter is the index. */
  async listModelNodes(model: string, now = Date.now()): Promise<NodeRecord[]> {
    return (await this.listNodes(now)).filter((node) => nodeServes(node, model));
  }
}
