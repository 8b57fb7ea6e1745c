/**
 * What one version of a model answered in one window of a traffic series, summed over the nodes, and
 * the figures a dashboard plots from it. Counts may be fractional: a node's answers between two of
 * its heartbeat records are spread evenly over the windows that interval overlaps.
 */
import { LATENCY_BUCKETS_MS, type Traffic } from "../../core/progressive.js";
import { histogramQuantile } from "../progressive/traffic-sums.js";

/** One version in one closed window, over every node. */
export interface VersionPoint {
  /** Requests answered per second over the window. */
  readonly rps: number;
  /** Failures (5xx) over requests; null without requests. */
  readonly errorRate: number | null;
  /** Rejections (4xx once a version was chosen) over requests; null without requests. */
  readonly clientErrorRate: number | null;
  /** The 99th percentile latency, interpolated in its histogram bucket; null without requests. */
  readonly p99Ms: number | null;
  /** Requests answered in the window (fractional where a node's interval straddles windows). */
  readonly requests: number;
}

export interface Tally {
  requests: number;
  failures: number;
  clientErrors: number;
  readonly buckets: number[];
}

export function emptyTally(): Tally {
  return {
    requests: 0,
    failures: 0,
    clientErrors: 0,
    buckets: new Array<number>(LATENCY_BUCKETS_MS.length + 1).fill(0),
  };
}

/** What `after` counted beyond `before`; null when any count went down (the counter started again). */
export function trafficDelta(after: Traffic, before: Traffic): Traffic | null {
  const buckets = after.buckets.map((count, index) => count - (before.buckets[index] ?? 0));
  const delta = {
    requests: after.requests - before.requests,
    failures: after.failures - before.failures,
    // Nodes of an earlier release count no 4xx: none.
    clientErrors: (after.clientErrors ?? 0) - (before.clientErrors ?? 0),
    buckets,
  };
  if (delta.requests < 0 || delta.failures < 0 || delta.clientErrors < 0 || buckets.some((count) => count < 0))
    return null;
  return delta;
}

/** Adds `share` (0–1) of `delta` to the tally. */
export function addShare(tally: Tally, delta: Traffic, share: number): void {
  tally.requests += delta.requests * share;
  tally.failures += delta.failures * share;
  tally.clientErrors += (delta.clientErrors ?? 0) * share;
  delta.buckets.forEach((count, index) => {
    tally.buckets[index] = (tally.buckets[index] ?? 0) + count * share;
  });
}

/** Rounded to 1e-6 (milliseconds: ns): spreading leaves float noise a dashboard would print. */
const round = (value: number) => Number(value.toFixed(6));

/** The tally's figures over a window of `windowMs`. */
export function versionPoint(tally: Tally, windowMs: number): VersionPoint {
  const requests = round(tally.requests);
  // histogramQuantile interpolates fractional bucket counts as it does whole ones.
  const p99 = requests > 0 ? histogramQuantile(tally.buckets, 0.99) : null;
  return {
    rps: round(tally.requests / (windowMs / 1000)),
    errorRate: requests > 0 ? round(tally.failures / tally.requests) : null,
    clientErrorRate: requests > 0 ? round(tally.clientErrors / tally.requests) : null,
    p99Ms: p99 === null ? null : round(p99),
    requests,
  };
}
