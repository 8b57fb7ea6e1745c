/**
 * The request split of a progressive rollout as one node applies it (one per seq): which requests the
 * candidate answers, which baseline answers are mirrored to it, and the step's traffic counts.
 *
 * A request with a key (`x-cutover-key`) goes to the candidate when the key's split point is below the
 * weight (core/progressive.ts splitPoint): sticky at a weight, and a key on the candidate stays there
 * as the weight grows. A request without one takes the next point of a Weyl sequence,
 * x_n = frac(x_0 + n·φ) with x_0 random per split: its points fill [0, 1) evenly in any run of
 * requests, so over a thousand requests the candidate's share is within a fraction of a point of the
 * weight, where coin flips at 50 % would be off by more than 2 points over 2,000 requests about one
 * time in fourteen. Mirroring (shadow) draws from a second sequence the same way.
 */
import { type NodeSplit, splitPoint } from "../core/progressive.js";
import type { LoadedVersion } from "./loaded-version.js";
import { SplitTraffic } from "./split-traffic.js";

/** The fractional part of the golden ratio: the step with the lowest discrepancy. */
const GOLDEN_FRACTION = 0.6180339887498949;

/** Points 0 ≤ x < 100 of x_n = frac(x_0 + n·φ), scaled. */
export class WeylSequence {
  private point: number;

  constructor(start: number = Math.random()) {
    this.point = start;
  }

  next(): number {
    this.point += GOLDEN_FRACTION;
    if (this.point >= 1) this.point -= 1;
    return this.point * 100;
  }
}

export interface SplitSettings {
  readonly rolloutId: string;
  readonly seq: number;
  readonly weight: number;
  readonly shadowPercent: number;
}

export class AppliedSplit implements SplitSettings {
  readonly rolloutId: string;
  readonly seq: number;
  readonly weight: number;
  readonly shadowPercent: number;
  readonly traffic: SplitTraffic;
  private readonly routing = new WeylSequence();
  private readonly mirroring = new WeylSequence();

  /** `candidate` must be resident; the slot keeps it so while this split is in force. */
  constructor(
    settings: SplitSettings,
    readonly candidate: LoadedVersion,
    baseline: string | null,
  ) {
    this.rolloutId = settings.rolloutId;
    this.seq = settings.seq;
    this.weight = settings.weight;
    this.shadowPercent = settings.shadowPercent;
    this.traffic = new SplitTraffic(baseline, candidate.version);
  }

  /** Whether the candidate answers a request with this key (an empty or absent key: the sequence). */
  routesToCandidate(key: string | undefined): boolean {
    if (this.weight <= 0) return false;
    if (this.weight >= 100) return true;
    const point = key === undefined || key === "" ? this.routing.next() : splitPoint(this.rolloutId, key);
    return point < this.weight;
  }

  /** Whether to mirror this baseline answer to the candidate (shadowPercent of them). */
  mirrors(): boolean {
    return this.shadowPercent > 0 && this.mirroring.next() < this.shadowPercent;
  }

  /** The split as the node's heartbeat record says it, with a copy of its counts. */
  toNodeSplit(): NodeSplit {
    return {
      rolloutId: this.rolloutId,
      seq: this.seq,
      candidate: this.candidate.version,
      weight: this.weight,
      shadowPercent: this.shadowPercent,
      traffic: this.traffic.snapshot(),
    };
  }
}
