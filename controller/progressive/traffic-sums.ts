/**
 * One version's traffic in a step, summed over the fleet's heartbeat records, and the figures an
 * analysis reports of it (rates, median and p99 latency).
 */
import { histogramQuantileFine, mergeHistograms, type SparseHistogram } from "../../core/latency-histogram.js";
import { LATENCY_BUCKETS_MS, type Traffic, type VersionFigures } from "../../core/progressive.js";

export interface TrafficSum {
  requests: number;
  failures: number;
  clientErrors: number;
  /** The coarse histogram (LATENCY_BUCKETS_MS). */
  buckets: number[];
  /** The fine histogram, summed; null when a record lacked one (a node of an earlier release). */
  latency: SparseHistogram | null;
  shadowed: number;
  divergent: number;
}

export function emptySum(): TrafficSum {
  return {
    requests: 0,
    failures: 0,
    clientErrors: 0,
    buckets: new Array<number>(LATENCY_BUCKETS_MS.length + 1).fill(0),
    latency: [],
    shadowed: 0,
    divergent: 0,
  };
}

/** Adds one record's counts of a version to `sum`. */
export function addTraffic(sum: TrafficSum, traffic: Traffic | undefined): void {
  if (traffic === undefined) return;
  sum.requests += traffic.requests;
  sum.failures += traffic.failures;
  sum.clientErrors += traffic.clientErrors ?? 0;
  traffic.buckets.forEach((count, index) => {
    sum.buckets[index] = (sum.buckets[index] ?? 0) + count;
  });
  sum.latency =
    sum.latency === null || traffic.latency === undefined ? null : mergeHistograms([sum.latency, traffic.latency]);
  sum.shadowed += traffic.shadowed ?? 0;
  sum.divergent += traffic.divergent ?? 0;
}

/**
 * A quantile from coarse bucket counts, interpolated linearly inside its bucket (as Prometheus'
 * histogram_quantile does); answers in the last, open bucket count as the largest bound.
 */
export function histogramQuantile(buckets: readonly number[], q: number): number | null {
  const total = buckets.reduce((sum, count) => sum + count, 0);
  if (total === 0) return null;
  const rank = q * total;
  let below = 0;
  for (let index = 0; index < buckets.length; index++) {
    const count = buckets[index] ?? 0;
    if (below + count >= rank && count > 0) {
      const upper = LATENCY_BUCKETS_MS[index];
      if (upper === undefined) return LATENCY_BUCKETS_MS[LATENCY_BUCKETS_MS.length - 1] ?? null;
      const lower = index === 0 ? 0 : (LATENCY_BUCKETS_MS[index - 1] ?? 0);
      return lower + ((upper - lower) * (rank - below)) / count;
    }
    below += count;
  }
  return LATENCY_BUCKETS_MS[LATENCY_BUCKETS_MS.length - 1] ?? null;
}

/** A quantile of the sum: from the fine histogram (±2 %) when every record had one, else the coarse. */
export function sumQuantile(sum: TrafficSum, q: number): number | null {
  return sum.latency !== null ? histogramQuantileFine(sum.latency, q) : histogramQuantile(sum.buckets, q);
}

/**
 * Rounded (rates to 1e-9, milliseconds to µs): the figures are stored in the state, and Redis's
 * Lua JSON encoder keeps 14 significant digits, so unrounded ones would not read back as written.
 */
export const round = (value: number, digits: number) => Number(value.toFixed(digits));

export function figuresOf(sum: TrafficSum): VersionFigures {
  const rate = (count: number) => (sum.requests === 0 ? 0 : round(count / sum.requests, 9));
  const p50 = sumQuantile(sum, 0.5);
  const p99 = sumQuantile(sum, 0.99);
  return {
    requests: sum.requests,
    failures: sum.failures,
    errorRate: rate(sum.failures),
    clientErrors: sum.clientErrors,
    clientErrorRate: rate(sum.clientErrors),
    p50Ms: p50 === null ? null : round(p50, 3),
    p99Ms: p99 === null ? null : round(p99, 3),
  };
}
