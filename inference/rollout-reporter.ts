/**
 * What one model's node says to the controller on the report channel: `staged` or `failed` for a
 * rollout it prepared, `promoted` (with its clock) when it serves the rollout's target, `weighted`
 * when a progressive rollout's split is in force. The last staged/failed answer is kept, to be said
 * again while its rollout still waits: a report is a pub/sub message, lost if the controller was
 * reconnecting. Publishing never throws (a failure is logged; the heartbeat record carries the
 * answer too).
 */
import type { Bus } from "../core/bus.js";
import { CutoverError, errorMessage } from "../core/errors.js";
import type { FleetStateStore } from "../core/fleet-state.js";
import { encodeMessage, type FailedMessage, type ReportMessage, type StagedMessage } from "../core/messages.js";
import { preciseNow } from "../core/precise-clock.js";
import type { VersionAt } from "./desired-model-state.js";
import type { LoadedVersion } from "./loaded-version.js";

/** A swap: the version, its revision, and when (ms since the epoch, sub-millisecond). */
export type Swap = VersionAt & { readonly at: number };

export class RolloutReporter {
  private lastAnswer: StagedMessage | FailedMessage | null = null;

  constructor(
    private readonly nodeId: string,
    private readonly model: string,
    private readonly fleet: FleetStateStore,
    private readonly bus: Bus,
    private readonly log: (line: string) => void,
  ) {}

  /** `version` is staged for `rolloutId`; load and warm-up times are 0 when it was resident already. */
  staged(rolloutId: string, loaded: LoadedVersion, loadedNow: boolean): Promise<void> {
    const warmup = loaded.warmup;
    return this.send({
      type: "staged",
      ...this.about(loaded.version, rolloutId),
      loadMs: loadedNow ? loaded.loadMs : 0,
      warmupMs: loadedNow ? loaded.warmupMs : 0,
      ...(warmup?.mode !== undefined ? { warmup: warmup.mode } : {}),
      ...(warmup?.replay !== undefined ? { replay: warmup.replay } : {}),
      ...(warmup?.warning !== undefined ? { warning: warmup.warning } : {}),
    });
  }

  /** Staging `version` for `rolloutId` failed: the error's code (INTERNAL for an untyped one) and reason. */
  failed(version: string, rolloutId: string, error: unknown): Promise<void> {
    const code = error instanceof CutoverError ? error.code : "INTERNAL";
    return this.send({ type: "failed", ...this.about(version, rolloutId), code, reason: errorMessage(error) });
  }

  promoted(swap: Swap, rolloutId: string): Promise<void> {
    return this.send({ type: "promoted", nodeId: this.nodeId, model: this.model, ...swap, rolloutId });
  }

  /** The split of `rolloutId` at `seq` is in force here (weight 0 too), stamped like `promoted`. */
  weighted(rolloutId: string, seq: number, weight: number): Promise<void> {
    return this.send({
      type: "weighted",
      nodeId: this.nodeId,
      model: this.model,
      rolloutId,
      seq,
      weight,
      at: preciseNow(),
    });
  }

  /** Says the last staged/failed answer again, if it was for `rolloutId`. */
  async repeat(rolloutId: string): Promise<void> {
    if (this.lastAnswer?.rolloutId === rolloutId) await this.send(this.lastAnswer);
  }

  private about(version: string, rolloutId: string) {
    return { nodeId: this.nodeId, model: this.model, version, rolloutId };
  }

  private async send(message: ReportMessage): Promise<void> {
    if (message.type === "staged" || message.type === "failed") this.lastAnswer = message;
    await this.bus
      .publish(this.fleet.keys.reportChannel(this.model), encodeMessage(message))
      .catch((error: unknown) =>
        this.log(`could not report ${message.type} for ${this.model}: ${errorMessage(error)}`),
      );
  }
}
