/**
 * The gauges of what a node holds, set from its slots after each swap, load and release:
 * `cutover_active_version_info`, `cutover_resident_sessions`, `cutover_execution_provider_info`, and
 * `cutover_split_weight` when a progressive rollout's split is put in force or ends.
 */
import type { NodeMetrics } from "./metrics.js";
import type { ModelSlot } from "./model-slot.js";

/** One `cutover_active_version_info` series per model that serves a version. */
export function showActiveVersions(metrics: NodeMetrics, slots: ReadonlyMap<string, ModelSlot>): void {
  metrics.activeVersion.reset();
  for (const [model, slot] of slots) {
    if (slot.active) metrics.activeVersion.set({ model, version: slot.active.version }, 1);
  }
}

/** The resident session count, and one `cutover_execution_provider_info` series per resident version. */
export function showResidentSessions(metrics: NodeMetrics, slots: ReadonlyMap<string, ModelSlot>): void {
  let resident = 0;
  metrics.executionProvider.reset();
  for (const [model, slot] of slots) {
    for (const loaded of slot.all()) {
      resident++;
      metrics.executionProvider.set({ model, version: loaded.version, provider: loaded.provider }, 1);
    }
  }
  metrics.residentSessions.set(resident);
}

/**
 * `cutover_split_weight`: per model with a split in force, the candidate's weight and the active
 * version's (100 − weight); a model whose split ended has no series.
 */
export function showSplitWeights(metrics: NodeMetrics, slots: ReadonlyMap<string, ModelSlot>): void {
  metrics.splitWeight.reset();
  for (const [model, slot] of slots) {
    const split = slot.split;
    if (split === null) continue;
    if (slot.active !== null && slot.active !== split.candidate) {
      metrics.splitWeight.set({ model, version: slot.active.version }, 100 - split.weight);
    }
    metrics.splitWeight.set({ model, version: split.candidate.version }, split.weight);
  }
}
