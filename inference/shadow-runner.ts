/**
 * Shadow runs of a progressive rollout: a share of the baseline's answers mirrored to the candidate,
 * whose outputs are compared with the baseline's within the candidate's golden tolerance (the warm-up's
 * comparison, output-comparison.ts; a candidate without golden vectors gets the tolerance `push
 * --sample` would have recorded for it). They count as `shadowed` and `divergent` on the candidate's
 * traffic of the step, never as its requests; a shadow run that fails counts as divergent.
 *
 * The answer never waits for its shadow: the run is reserved before the primary runs (a primary in
 * workers takes its input buffers, so they are copied first) and starts with setImmediate, after the
 * transport's continuation has written the answer. At most the candidate's instance count (at least 1)
 * are in flight per model; a request over that bound is not mirrored and counts as skipped.
 */
import { encodeTensor } from "../core/tensor-codec.js";
import type { Feeds, Results } from "./execution/execution-types.js";
import type { LoadedVersion } from "./loaded-version.js";
import type { NodeMetrics } from "./metrics.js";
import type { ModelSlot } from "./model-slot.js";
import { outputMismatch, toleranceOf } from "./output-comparison.js";
import type { AppliedSplit } from "./split-router.js";
import { copyFeeds } from "./tensor-copies.js";

/** A shadow run reserved for one request. */
export interface ShadowReservation {
  /** The primary answered with `primary`: run the candidate once the answer has gone out. */
  start(primary: Results): void;
  /** The primary failed: nothing to compare with. */
  cancel(): void;
}

/** What a shadow run needs of the request it mirrors. */
export interface MirroredRequest {
  readonly feeds: Feeds;
  /** The outputs the request asked for; undefined: all. */
  readonly outputs: readonly string[] | undefined;
  /** The primary runs in workers, which take the feeds' buffers: keep a copy. */
  readonly copyInputs: boolean;
}

export class ShadowRunner {
  private readonly inFlight = new Map<string, number>();

  constructor(private readonly metrics: NodeMetrics) {}

  /** Reserves a shadow run on `split`'s candidate, or returns null (skipped) when the bound is reached. */
  reserve(slot: ModelSlot, split: AppliedSplit, request: MirroredRequest): ShadowReservation | null {
    const { model } = slot;
    const candidate = split.candidate;
    const running = this.inFlight.get(model) ?? 0;
    if (running >= Math.max(1, candidate.execution.instances)) {
      this.metrics.shadowSkipped.labels({ model }).inc();
      return null;
    }
    this.inFlight.set(model, running + 1);
    // Leased now: the candidate stays loaded until its shadow run is over, whatever the split does.
    const lease = slot.lease(candidate);
    const feeds = request.copyInputs ? copyFeeds(request.feeds) : request.feeds;
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      lease.end();
      this.inFlight.set(model, (this.inFlight.get(model) ?? 1) - 1);
    };
    return {
      start: (primary) => {
        setImmediate(() => {
          void this.run(model, split, candidate, feeds, request.outputs, primary).finally(finish);
        });
      },
      cancel: finish,
    };
  }

  private async run(
    model: string,
    split: AppliedSplit,
    candidate: LoadedVersion,
    feeds: Feeds,
    outputs: readonly string[] | undefined,
    primary: Results,
  ): Promise<void> {
    let divergent: boolean;
    try {
      divergent = diverges(candidate, primary, await candidate.session.run(feeds, outputs));
    } catch {
      divergent = true;
    }
    split.traffic.shadowed(candidate.version, divergent);
    const labels = { model, version: candidate.version };
    this.metrics.shadowRequests.labels(labels).inc();
    if (divergent) this.metrics.shadowDivergences.labels(labels).inc();
  }
}

/** Whether any output the primary gave is not the candidate's within the candidate's tolerance. */
function diverges(candidate: LoadedVersion, primary: Results, shadow: Results): boolean {
  const tolerance = toleranceOf(candidate.card);
  for (const [name, tensor] of Object.entries(primary)) {
    if (outputMismatch(encodeTensor(name, tensor), shadow[name], tolerance) !== null) return true;
  }
  return false;
}
