/**
 * The canary analysis: what the candidate and the baseline did in the current step, summed over the
 * fleet's heartbeat records, and the verdict against the rollout's thresholds (Argo Rollouts' and
 * Flagger's checks, on the nodes' own counts instead of a metrics server):
 *
 *   inconclusive  the candidate answered fewer than `minRequests` in the step
 *   fail          failure (5xx) rate > baseline's + maxErrorRate, or rejection (4xx) rate > baseline's +
 *                 maxClientErrorRate, or p99 > maxP99Ratio × baseline's and more than minP99DeltaMs
 *                 above it,
 *                 or (when set) shadow divergences > maxDivergenceRate of the shadowed requests
 *   pass          otherwise
 *
 * Only counts of the step in force (its rollout id and seq) are summed: a node still on an older seq,
 * or one that restarted, contributes what it counted since it applied this one.
 */
import type { NodeRecord } from "../../core/model-state.js";
import {
  type AnalysisResult,
  type AnalysisThresholds,
  DEFAULT_ANALYSIS,
  LATENCY_BUCKETS_MS,
  type Traffic,
  type VersionFigures,
} from "../../core/progressive.js";

export interface AnalysisInput {
  readonly model: string;
  readonly rolloutId: string;
  readonly seq: number;
  readonly step: number;
  readonly weight: number;
  readonly baseline: string;
  readonly candidate: string;
  readonly thresholds: AnalysisThresholds;
  readonly now?: Date;
}

interface Summed {
  requests: number;
  failures: number;
  clientErrors: number;
  buckets: number[];
  shadowed: number;
  divergent: number;
}

function empty(): Summed {
  return {
    requests: 0,
    failures: 0,
    clientErrors: 0,
    buckets: new Array<number>(LATENCY_BUCKETS_MS.length + 1).fill(0),
    shadowed: 0,
    divergent: 0,
  };
}

function add(sum: Summed, traffic: Traffic | undefined): void {
  if (traffic === undefined) return;
  sum.requests += traffic.requests;
  sum.failures += traffic.failures;
  sum.clientErrors += traffic.clientErrors ?? 0;
  traffic.buckets.forEach((count, index) => {
    sum.buckets[index] = (sum.buckets[index] ?? 0) + count;
  });
  sum.shadowed += traffic.shadowed ?? 0;
  sum.divergent += traffic.divergent ?? 0;
}

/**
 * The 99th percentile from bucket counts, interpolated linearly inside its bucket (as Prometheus'
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

/**
 * Rounded (rates to 1e-9, milliseconds to µs): the figures are stored in the state, and Redis's
 * Lua JSON encoder keeps 14 significant digits, so unrounded ones would not read back as written.
 */
const round = (value: number, digits: number) => Number(value.toFixed(digits));

function figures(sum: Summed): VersionFigures {
  const p99 = histogramQuantile(sum.buckets, 0.99);
  return {
    requests: sum.requests,
    failures: sum.failures,
    errorRate: sum.requests === 0 ? 0 : round(sum.failures / sum.requests, 9),
    clientErrors: sum.clientErrors,
    clientErrorRate: sum.requests === 0 ? 0 : round(sum.clientErrors / sum.requests, 9),
    p99Ms: p99 === null ? null : round(p99, 3),
  };
}

const percent = (rate: number) => `${(rate * 100).toFixed(2)} %`;
const ms = (value: number | null) => (value === null ? "—" : `${value.toFixed(1)} ms`);

/** One version's figures in words: "v2: 40 requests, 0.00 % failed (5xx), 27.50 % rejected (4xx), p99 3.1 ms". */
function describeFigures(version: string, figures: VersionFigures): string {
  return `${version}: ${figures.requests} requests, ${percent(figures.errorRate)} failed (5xx), ${percent(figures.clientErrorRate ?? 0)} rejected (4xx), p99 ${ms(figures.p99Ms)}`;
}

/** Sums the step's traffic from the nodes' records and judges it. */
export function analyse(records: readonly NodeRecord[], input: AnalysisInput): AnalysisResult {
  const baseline = empty();
  const candidate = empty();
  for (const record of records) {
    const split = record.models[input.model]?.split;
    if (split === undefined || split.rolloutId !== input.rolloutId || split.seq !== input.seq) continue;
    add(baseline, split.traffic[input.baseline]);
    add(candidate, split.traffic[input.candidate]);
  }
  const base = figures(baseline);
  const cand = figures(candidate);
  const { thresholds } = input;
  const shadow = candidate.shadowed > 0 ? { shadowed: candidate.shadowed, divergent: candidate.divergent } : {};
  const result = (verdict: AnalysisResult["verdict"], reason: string): AnalysisResult => ({
    at: (input.now ?? new Date()).toISOString(),
    step: input.step,
    weight: input.weight,
    verdict,
    reason,
    baseline: base,
    candidate: cand,
    ...shadow,
  });
  const compared = `candidate ${describeFigures(input.candidate, cand)}; baseline ${describeFigures(input.baseline, base)}`;
  if (cand.requests < thresholds.minRequests) {
    return result("inconclusive", `${compared}; fewer than the ${thresholds.minRequests} requests needed to judge`);
  }
  if (cand.errorRate > base.errorRate + thresholds.maxErrorRate) {
    return result(
      "fail",
      `${compared}; failure rate over the baseline's + ${percent(thresholds.maxErrorRate)} (--max-error-rate)`,
    );
  }
  const maxClientErrorRate = thresholds.maxClientErrorRate ?? DEFAULT_ANALYSIS.maxClientErrorRate;
  if ((cand.clientErrorRate ?? 0) > (base.clientErrorRate ?? 0) + maxClientErrorRate) {
    return result(
      "fail",
      `${compared}; rejection (4xx) rate over the baseline's + ${percent(maxClientErrorRate)} (--max-client-error-rate)`,
    );
  }
  const slack = thresholds.minP99DeltaMs ?? 0;
  if (
    cand.p99Ms !== null &&
    base.p99Ms !== null &&
    cand.p99Ms > thresholds.maxP99Ratio * base.p99Ms &&
    cand.p99Ms - base.p99Ms > slack
  ) {
    return result(
      "fail",
      `${compared}; p99 ${(cand.p99Ms / base.p99Ms).toFixed(2)}× the baseline's, over ${thresholds.maxP99Ratio}× (--max-p99-ratio) and more than ${slack} ms above it (--min-p99-delta)`,
    );
  }
  const maxDivergence = thresholds.maxDivergenceRate;
  if (maxDivergence !== undefined && candidate.shadowed > 0) {
    const rate = candidate.divergent / candidate.shadowed;
    if (rate > maxDivergence) {
      return result(
        "fail",
        `${compared}; ${candidate.divergent} of ${candidate.shadowed} shadowed requests diverged (${percent(rate)}), over ${percent(maxDivergence)} (--max-divergence)`,
      );
    }
  }
  return result("pass", `${compared}; within thresholds`);
}
