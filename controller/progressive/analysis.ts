/**
 * The canary analysis: what the candidate and the baseline did in the current step, summed over the
 * fleet's heartbeat records, judged by three checks — failures (5xx), rejections (4xx) and latency
 * (2xx answers). A check *breaches* when its effect passes the rollout's floor:
 *
 *   failures    candidate's rate > baseline's + maxErrorRate
 *   rejections  candidate's rate > baseline's + maxClientErrorRate
 *   latency     candidate's median > maxP50Ratio × baseline's, or (once each version has P99_SAMPLES
 *               2xx answers) its p99 > maxP99Ratio × baseline's and more than minP99DeltaMs above it
 *
 * and is *conclusive* when the anytime-valid evidence that the two versions differ there
 * (sequential-test.ts) reaches 1/α, α = 0.5 % per check (1.5 % for the three together) — a bound on
 * false alarms that holds at every tick that looks, not only at one. The verdict:
 *
 *   fail          a check breaches, conclusively
 *   inconclusive  a check breaches but the evidence is not yet conclusive, or either version answered
 *                 fewer than minRequests in the step (too few to rule a breach out); the rollout holds
 *   pass          otherwise (and, when set, shadow divergences ≤ maxDivergenceRate of those shadowed)
 *
 * Only counts of the step in force (its rollout id and seq) are summed: a node still on an older seq,
 * or one that restarted, contributes what it counted since it applied this one.
 */
import { octaveBins } from "../../core/latency-histogram.js";
import type { NodeRecord } from "../../core/model-state.js";
import {
  type AnalysisResult,
  type AnalysisThresholds,
  DEFAULT_ANALYSIS,
  type VersionFigures,
} from "../../core/progressive.js";
import { type BinCounts, logEvidence } from "./sequential-test.js";
import { addTraffic, emptySum, figuresOf, round, type TrafficSum } from "./traffic-sums.js";

/**
 * The false-alarm bound of each check, over every look at a step: the three together stay under
 * 1.5 %, within the 2 % of same-speed canaries a team can afford to see rolled back.
 */
export const ANALYSIS_ALPHA = 0.005;
const CONCLUSIVE = Math.log(1 / ANALYSIS_ALPHA);
/** 2xx answers each version needs before its p99 is compared: below it the p99 is the slowest answer or two. */
export const P99_SAMPLES = 100;

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

const percent = (rate: number) => `${(rate * 100).toFixed(2)} %`;
const ms = (value: number | null | undefined) =>
  value === null || value === undefined ? "—" : `${value.toFixed(1)} ms`;

/** One version's figures in words: "v2: 40 requests, 0.00 % failed (5xx), 27.50 % rejected (4xx), p50 1.2 ms, p99 3.1 ms". */
function describeFigures(version: string, figures: VersionFigures): string {
  return `${version}: ${figures.requests} requests, ${percent(figures.errorRate)} failed (5xx), ${percent(figures.clientErrorRate ?? 0)} rejected (4xx), p50 ${ms(figures.p50Ms)}, p99 ${ms(figures.p99Ms)}`;
}

/** The latency outcome classes both versions' 2xx answers fall in: octaves of the fine histogram, or the coarse buckets. */
function latencyBins(candidate: TrafficSum, baseline: TrafficSum): BinCounts[] {
  if (candidate.latency === null || baseline.latency === null) {
    return candidate.buckets.map((count, i) => ({ candidate: count, baseline: baseline.buckets[i] ?? 0 }));
  }
  const ofCandidate = octaveBins(candidate.latency);
  const ofBaseline = octaveBins(baseline.latency);
  const bins = new Set([...ofCandidate.keys(), ...ofBaseline.keys()]);
  return [...bins].map((bin) => ({ candidate: ofCandidate.get(bin) ?? 0, baseline: ofBaseline.get(bin) ?? 0 }));
}

interface Check {
  /** What breached, in words, with the flag that sets its floor; null when nothing did. */
  readonly breach: string | null;
  /** ln of the evidence that the versions differ in what this check looks at. */
  readonly evidence: number;
}

/** The three checks on the step's sums. */
function checks(
  cand: VersionFigures,
  base: VersionFigures,
  sums: { candidate: TrafficSum; baseline: TrafficSum },
  input: AnalysisInput,
) {
  const { thresholds } = input;
  const share = input.weight / 100;
  const evidence = (bins: BinCounts[]) => (share > 0 && share < 1 ? logEvidence(bins, share) : 0);
  const maxClientErrorRate = thresholds.maxClientErrorRate ?? DEFAULT_ANALYSIS.maxClientErrorRate;
  const maxP50Ratio = thresholds.maxP50Ratio ?? DEFAULT_ANALYSIS.maxP50Ratio;
  const slack = thresholds.minP99DeltaMs ?? 0;
  const failures: Check = {
    breach:
      cand.errorRate > base.errorRate + thresholds.maxErrorRate
        ? `failure rate over the baseline's + ${percent(thresholds.maxErrorRate)} (--max-error-rate)`
        : null,
    evidence: evidence([{ candidate: cand.failures, baseline: base.failures }]),
  };
  const clientErrors: Check = {
    breach:
      (cand.clientErrorRate ?? 0) > (base.clientErrorRate ?? 0) + maxClientErrorRate
        ? `rejection (4xx) rate over the baseline's + ${percent(maxClientErrorRate)} (--max-client-error-rate)`
        : null,
    evidence: evidence([{ candidate: cand.clientErrors ?? 0, baseline: base.clientErrors ?? 0 }]),
  };
  const p50 = cand.p50Ms != null && base.p50Ms != null && base.p50Ms > 0 ? cand.p50Ms / base.p50Ms : null;
  const answered = (figures: VersionFigures) => figures.requests - figures.failures - (figures.clientErrors ?? 0);
  const p99Over =
    answered(cand) >= P99_SAMPLES &&
    answered(base) >= P99_SAMPLES &&
    cand.p99Ms !== null &&
    base.p99Ms !== null &&
    cand.p99Ms > thresholds.maxP99Ratio * base.p99Ms &&
    cand.p99Ms - base.p99Ms > slack;
  const latency: Check = {
    breach:
      p50 !== null && p50 > maxP50Ratio
        ? `median ${p50.toFixed(2)}× the baseline's, over ${maxP50Ratio}× (--max-p50-ratio)`
        : p99Over && cand.p99Ms !== null && base.p99Ms !== null
          ? `p99 ${(cand.p99Ms / base.p99Ms).toFixed(2)}× the baseline's, over ${thresholds.maxP99Ratio}× (--max-p99-ratio) and more than ${slack} ms above it (--min-p99-delta)`
          : null,
    evidence: evidence(latencyBins(sums.candidate, sums.baseline)),
  };
  return { failures, clientErrors, latency };
}

/** Sums the step's traffic from the nodes' records and judges it. */
export function analyse(records: readonly NodeRecord[], input: AnalysisInput): AnalysisResult {
  const baseline = emptySum();
  const candidate = emptySum();
  for (const record of records) {
    const split = record.models[input.model]?.split;
    if (split === undefined || split.rolloutId !== input.rolloutId || split.seq !== input.seq) continue;
    addTraffic(baseline, split.traffic[input.baseline]);
    addTraffic(candidate, split.traffic[input.candidate]);
  }
  const base = figuresOf(baseline);
  const cand = figuresOf(candidate);
  const { thresholds } = input;
  const found = checks(cand, base, { candidate, baseline }, input);
  const log10 = (value: number) => round(value / Math.LN10, 2);
  const result = (verdict: AnalysisResult["verdict"], reason: string): AnalysisResult => ({
    at: (input.now ?? new Date()).toISOString(),
    step: input.step,
    weight: input.weight,
    verdict,
    reason,
    baseline: base,
    candidate: cand,
    ...(candidate.shadowed > 0 ? { shadowed: candidate.shadowed, divergent: candidate.divergent } : {}),
    evidence: {
      failures: log10(found.failures.evidence),
      clientErrors: log10(found.clientErrors.evidence),
      latency: log10(found.latency.evidence),
    },
  });
  const compared = `candidate ${describeFigures(input.candidate, cand)}; baseline ${describeFigures(input.baseline, base)}`;
  const evidenceText = (check: Check) =>
    `evidence ${Math.exp(Math.min(check.evidence, 700)).toPrecision(2)} ${check.evidence >= CONCLUSIVE ? "≥" : "<"} ${1 / ANALYSIS_ALPHA}`;
  const all = [found.failures, found.clientErrors, found.latency];
  const conclusive = all.find((check) => check.breach !== null && check.evidence >= CONCLUSIVE);
  if (conclusive !== undefined)
    return result("fail", `${compared}; ${conclusive.breach} (${evidenceText(conclusive)})`);
  const maxDivergence = thresholds.maxDivergenceRate;
  if (
    maxDivergence !== undefined &&
    candidate.shadowed > 0 &&
    candidate.divergent / candidate.shadowed > maxDivergence
  ) {
    return result(
      "fail",
      `${compared}; ${candidate.divergent} of ${candidate.shadowed} shadowed requests diverged (${percent(candidate.divergent / candidate.shadowed)}), over ${percent(maxDivergence)} (--max-divergence)`,
    );
  }
  const fewer = Math.min(cand.requests, base.requests);
  if (fewer < thresholds.minRequests) {
    const which = cand.requests <= base.requests ? "candidate" : "baseline";
    return result(
      "inconclusive",
      `${compared}; the ${which} answered fewer than the ${thresholds.minRequests} requests needed to judge (--min-requests)`,
    );
  }
  const pending = all.find((check) => check.breach !== null);
  if (pending !== undefined) {
    return result("inconclusive", `${compared}; ${pending.breach}, not yet conclusive (${evidenceText(pending)})`);
  }
  return result("pass", `${compared}; within thresholds`);
}
