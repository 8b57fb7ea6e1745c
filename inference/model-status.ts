/**
 * One model's entry in the node's heartbeat record: what its slot holds (active at its revision, warm,
 * each resident version's execution provider, the versions staged cold), the staging in progress or
 * its outcome, the last error, the split of a progressive rollout in force with this step's traffic,
 * and what each resident version answered since the node started. The controller reads rollout
 * answers from it when a report message was lost, the split's traffic for its analysis, and the
 * served counts for its dashboard.
 */
import type { NodeRecord } from "../core/model-state.js";
import type { ModelSlot } from "./model-slot.js";
import type { StagingStep } from "./version-stager.js";
import type { WarmupResult } from "./warm-up.js";

export type ModelStatus = NodeRecord["models"][string];

/** A staging step or outcome; `rolloutId` and the warm-up only once staged for a rollout. */
export type StagingStatus = { version: string; state: StagingStep; rolloutId?: string } & Partial<WarmupResult>;

export function modelStatus(slot: ModelSlot, staging: StagingStatus | null, lastError: string | null): ModelStatus {
  const resident = slot.all();
  const cold = resident.filter((loaded) => loaded.warmup?.mode === "cold");
  slot.served.retain(new Set(resident.map((loaded) => loaded.version)));
  const served = slot.served.snapshot();
  return {
    active: slot.active?.version ?? null,
    revision: slot.revision,
    warm: slot.warm.map((loaded) => loaded.version),
    staged:
      staging === null
        ? null
        : {
            version: staging.version,
            state: staging.state,
            ...(staging.rolloutId !== undefined ? { rolloutId: staging.rolloutId } : {}),
            ...(staging.mode !== undefined ? { warmup: staging.mode } : {}),
            ...(staging.replay !== undefined ? { replay: staging.replay } : {}),
            ...(staging.warning !== undefined ? { warning: staging.warning } : {}),
          },
    lastError,
    ...(cold.length > 0
      ? { cold: Object.fromEntries(cold.map((loaded) => [loaded.version, loaded.warmup?.warning ?? "staged cold"])) }
      : {}),
    providers: Object.fromEntries(resident.map((loaded) => [loaded.version, loaded.provider])),
    ...(slot.split !== null ? { split: slot.split.toNodeSplit() } : {}),
    ...(Object.keys(served).length > 0 ? { served } : {}),
  };
}
