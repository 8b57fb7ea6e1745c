/**
 * The gauges of what a node holds, set from its slots after each swap, load and release:
 * `cutover_active_version_info`, `cutover_resident_sessions`, `cutover_execution_provider_info`.
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
