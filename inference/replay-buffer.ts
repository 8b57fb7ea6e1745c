/**
 * A bounded sample of the recent real requests one model's active version answered with a 2xx on this
 * node: what a staged candidate is replayed on before any traffic moves to it (version-stager.ts).
 * Kept in memory only — never written or sent anywhere — as copies of the request bodies (a body read
 * from a socket may share its memory with others) and of the outputs the active version answered
 * them with, which the candidate's are compared with: at most `maxRequests` of them and `maxBytes` in
 * all (bodies and outputs), the oldest dropped first. A request whose outputs would not fit in
 * `maxBytes` with it is kept without them (replayed, not compared); one larger than `maxBytes` alone
 * is not kept. At most one
 * request is taken every MIN_INTERVAL_MS, so a busy node copies ten bodies a second, not thousands,
 * and the sample spans seconds rather than the last burst. Requests of a split's candidate, pinned to
 * another version, or refused are not kept: what the active version served is what a candidate must
 * also serve.
 */

import type * as ort from "onnxruntime-node";
import { copyFeeds, tensorsBytes } from "./tensor-copies.js";

/** One request as it came: its body and the `Inference-Header-Content-Length` it was sent with. */
export interface ReplaySample {
  readonly bytes: Uint8Array;
  readonly headerLength: string | undefined;
  /** The active version that answered it with a 2xx. */
  readonly version: string;
  /** What it answered (the outputs the request asked for); absent when they did not fit the bound. */
  readonly outputs?: Readonly<Record<string, ort.Tensor>>;
}

export interface ReplayLimits {
  /** Requests kept (0: replay off). */
  readonly maxRequests: number;
  /** Bytes of request bodies kept in all. */
  readonly maxBytes: number;
}

/** The shortest time between two requests kept. */
export const MIN_INTERVAL_MS = 100;

export class ReplayBuffer {
  private readonly samples: ReplaySample[] = [];
  private bytes = 0;
  private lastAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly limits: ReplayLimits,
    private readonly now: () => number = performance.now.bind(performance),
  ) {}

  /** Keeps (a copy of) a request the active version answered with a 2xx; the oldest go to make room. */
  record(sample: ReplaySample): void {
    const { bytes, headerLength, version, outputs } = sample;
    if (this.limits.maxRequests === 0 || bytes.byteLength > this.limits.maxBytes) return;
    const at = this.now();
    if (at - this.lastAt < MIN_INTERVAL_MS) return;
    this.lastAt = at;
    const kept: ReplaySample =
      outputs !== undefined && bytes.byteLength + tensorsBytes(outputs) <= this.limits.maxBytes
        ? { bytes: new Uint8Array(bytes), headerLength, version, outputs: copyFeeds(outputs) }
        : { bytes: new Uint8Array(bytes), headerLength, version };
    this.samples.push(kept);
    this.bytes += sampleBytes(kept);
    while (this.samples.length > this.limits.maxRequests || this.bytes > this.limits.maxBytes) {
      const dropped = this.samples.shift();
      if (dropped !== undefined) this.bytes -= sampleBytes(dropped);
    }
  }

  /** The requests kept, oldest first (a copy: recording goes on while a candidate is replayed). */
  snapshot(): ReplaySample[] {
    return [...this.samples];
  }

  /** Bytes held, for the bound's test and the node's metrics. */
  get heldBytes(): number {
    return this.bytes;
  }
}

/** What a sample holds: its body and its outputs' data. */
function sampleBytes(sample: ReplaySample): number {
  return sample.bytes.byteLength + (sample.outputs === undefined ? 0 : tensorsBytes(sample.outputs));
}
