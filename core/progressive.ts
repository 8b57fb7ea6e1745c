/**
 * Progressive delivery, the shapes both sides share (docs/ARCHITECTURE.md, Progressive delivery):
 *
 * - a progressive rollout lives in the model state as `rollout.progressive` for as long as it runs
 *   (between controller ticks too): the strategy's steps, the current weight, the bake deadline, the
 *   analysis thresholds and the last analysis;
 * - every node splits requests itself: at weight w, w % of a model's requests are answered by the
 *   candidate (`rollout.target`), the rest by the baseline (the active version); a request key makes
 *   the choice sticky;
 * - nodes count, per version, the requests of the current step (`seq`) by answer class (2xx, 4xx,
 *   5xx) and the latency of its 2xx answers, and put them in their heartbeat record, which is what
 *   the controller's analysis reads.
 */
import { createHash } from "node:crypto";
import { z } from "zod";
import { FINE_BUCKETS, FineHistogram } from "./latency-histogram.js";

/** Upper bounds (ms) of the latency histogram nodes keep per version; one more bucket counts the rest. */
export const LATENCY_BUCKETS_MS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000] as const;

/** The header that makes a request's version sticky: the same key, the same version, at a given weight. */
export const SPLIT_KEY_HEADER = "x-cutover-key";

/**
 * A user's analysis check on Prometheus, beside the built-in ones: a PromQL query whose `{{model}}`,
 * `{{version}}` (the candidate) and `{{baseline}}` are filled in, and the bound every series it returns
 * must keep (`max`: at most, `min`: at least). Judged once per step, when the bake ends
 * (controller/progressive/metric-checks.ts).
 */
export const metricCheckSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z][\w.-]{0,63}$/, "a name of letters, digits, _ . - (at most 64)"),
    query: z.string().min(1).max(4096),
    max: z.number().optional(),
    min: z.number().optional(),
  })
  .strict()
  .refine((check) => check.max !== undefined || check.min !== undefined, "a check needs a bound: max or min");
export type MetricCheck = z.infer<typeof metricCheckSchema>;

/** What a check on Prometheus found at one look: the values of its series and its verdict. */
export const metricCheckResultSchema = z.object({
  name: z.string(),
  /** The query as sent, placeholders filled in. */
  query: z.string(),
  /**
   * The finite value of each series it returned; absent when there is none (the state's Lua scripts
   * would turn an empty list into an object).
   */
  values: z.array(z.number()).min(1).optional(),
  verdict: z.enum(["pass", "fail", "inconclusive"]),
  /** In words: the bound and what broke it, or why nothing could be judged. */
  reason: z.string(),
});
export type MetricCheckResult = z.infer<typeof metricCheckResultSchema>;

export const analysisThresholdsSchema = z
  .object({
    /** The candidate's failure (5xx) rate may exceed the baseline's by at most this much (0.01: one point). */
    maxErrorRate: z.number().min(0).max(1),
    /**
     * The candidate's rejection (4xx) rate may exceed the baseline's by at most this much: a version
     * that refuses requests the baseline takes breaks its callers as surely as one that fails them.
     * Absent in rollouts started before it existed: DEFAULT_ANALYSIS's applies.
     */
    maxClientErrorRate: z.number().min(0).max(1).optional(),
    /**
     * The candidate's median latency may be at most this many times the baseline's (the effect a
     * conclusive latency difference must reach to fail a step). Absent in rollouts started before it
     * existed: DEFAULT_ANALYSIS's applies.
     */
    maxP50Ratio: z.number().min(1).optional(),
    /** The candidate's p99 latency may be at most this many times the baseline's… */
    maxP99Ratio: z.number().min(1),
    /**
     * …or at most this many milliseconds above it, whichever is more: for a model answering in a few
     * milliseconds, scheduler noise alone moves a p99 of a few hundred requests by 5–40 ms on a busy
     * 2-core machine (seen in this project's tests), so a small absolute floor rolls back good versions
     * (absent: 0).
     */
    minP99DeltaMs: z.number().min(0).optional(),
    /** Requests each version (candidate and baseline) must have answered in the step before it can pass. */
    minRequests: z.number().int().min(1),
    /** Shadowed requests whose outputs diverged, as a fraction of those shadowed; unset: not judged. */
    maxDivergenceRate: z.number().min(0).max(1).optional(),
    /** The user's checks on Prometheus (CUTOVER_PROMETHEUS_URL), judged when each step's bake ends. */
    checks: z.array(metricCheckSchema).max(16).optional(),
  })
  .strict();
export type AnalysisThresholds = z.infer<typeof analysisThresholdsSchema>;

/**
 * The defaults. minRequests: with none of 500 answers failing, a failure rate over 1 point is ruled
 * out at 1 % (ln 100 / 0.01 ≈ 461), so a step cannot pass on fewer.
 */
export const DEFAULT_ANALYSIS = {
  maxErrorRate: 0.01,
  maxClientErrorRate: 0.01,
  maxP50Ratio: 1.2,
  maxP99Ratio: 1.5,
  minP99DeltaMs: 25,
  minRequests: 500,
} satisfies AnalysisThresholds;

/** What one version did in a step, summed over the fleet. */
export const versionFiguresSchema = z.object({
  requests: z.number().int().nonnegative(),
  /** Answers with a 5xx status. */
  failures: z.number().int().nonnegative(),
  errorRate: z.number().nonnegative(),
  /** Answers with a 4xx status after this version was chosen (absent in analyses made before it was counted). */
  clientErrors: z.number().int().nonnegative().optional(),
  clientErrorRate: z.number().nonnegative().optional(),
  /** The 2xx answers' median latency (within ±2 %); absent in analyses made before it was kept. */
  p50Ms: z.number().nullable().optional(),
  /** The 2xx answers' 99th percentile latency; null without any. */
  p99Ms: z.number().nullable(),
});
export type VersionFigures = z.infer<typeof versionFiguresSchema>;

export const analysisResultSchema = z.object({
  at: z.string(),
  step: z.number().int().nonnegative(),
  weight: z.number().int().min(0).max(100),
  verdict: z.enum(["pass", "fail", "inconclusive"]),
  /** One line: what was compared and what decided. */
  reason: z.string(),
  baseline: versionFiguresSchema,
  candidate: versionFiguresSchema,
  shadowed: z.number().int().nonnegative().optional(),
  divergent: z.number().int().nonnegative().optional(),
  /**
   * log10 of the evidence (an anytime-valid e-value) that the candidate differs from the baseline in
   * its failures, its rejections and its latency; log10 200 ≈ 2.3 or more is conclusive (α = 0.5 %). Absent in
   * analyses made before it was computed, or when a version answered nothing.
   */
  evidence: z.object({ failures: z.number(), clientErrors: z.number(), latency: z.number() }).optional(),
  /** The user's checks on Prometheus, when this analysis judged them (at the end of a step's bake). */
  checks: z.array(metricCheckResultSchema).optional(),
});
export type AnalysisResult = z.infer<typeof analysisResultSchema>;

export const HOOK_EVENTS = ["pre-traffic", "step", "complete", "rollback"] as const;
export const hookSchema = z.object({ event: z.enum(HOOK_EVENTS), url: z.url({ protocol: /^https?$/ }) });
export type Hook = z.infer<typeof hookSchema>;

export const progressiveSchema = z.object({
  strategy: z.enum(["canary", "linear"]),
  /** Candidate weights in percent, ascending, each 1–99; after the last step the candidate takes 100 %. */
  steps: z.array(z.number().int().min(1).max(99)).min(1),
  /** Index of the step in force; the weight is 0 until the first step has been applied. */
  step: z.number().int().nonnegative(),
  weight: z.number().int().min(0).max(100),
  /** Bumped with every change nodes must apply (weight, shadow): orders messages against state reads. */
  seq: z.number().int().nonnegative(),
  bakeMs: z.number().int().nonnegative(),
  /** When the current step's bake ends (ms since the epoch); null before the first step. */
  bakeUntil: z.number().nullable(),
  /** Hold after each step until `promote`. */
  manual: z.boolean(),
  /** Why the rollout holds (a manual step, an inconclusive analysis); null while it advances by itself. */
  holding: z.string().nullable(),
  /** Percent of the baseline's requests mirrored to the candidate (answers never wait for it). */
  shadowPercent: z.number().min(0).max(100),
  /** The version serving the rest of the traffic (the active one when the rollout began). */
  baseline: z.string(),
  analysis: analysisThresholdsSchema,
  lastAnalysis: analysisResultSchema.nullable(),
  /**
   * The seq of the step whose own checks on Prometheus all passed: they are not asked again in it (a
   * threshold looked at on every tick would alarm more often than once), their results carried.
   */
  checkedSeq: z.number().int().nonnegative().optional(),
  /** The verdict of each step judged so far (history keeps them); absent while none. */
  analyses: z.array(analysisResultSchema).optional(),
  hooks: z.array(hookSchema).optional(),
});
export type Progressive = z.infer<typeof progressiveSchema>;

/** One version's traffic on one node during one step. */
export const trafficSchema = z.object({
  /** Every answer the version gave: 2xx, 4xx and 5xx. */
  requests: z.number().int().nonnegative(),
  /** Answers with a 5xx status: the version's fault, not the client's. */
  failures: z.number().int().nonnegative(),
  /**
   * Answers with a 4xx status once the version was chosen (an input it does not take, a shape it does
   * not fit): compared with the baseline's on the same split. Absent from nodes of an earlier release.
   */
  clientErrors: z.number().int().nonnegative().optional(),
  /** Counts of the 2xx answers' latency per LATENCY_BUCKETS_MS bucket, plus one for slower answers. */
  buckets: z.array(z.number().int().nonnegative()).length(LATENCY_BUCKETS_MS.length + 1),
  /**
   * The 2xx answers' latency in the fine log-spaced histogram (core/latency-histogram.ts), sparse:
   * [bucket, count] pairs. The split's traffic carries it (the analysis judges it); absent from the
   * served counts and from nodes of an earlier release.
   */
  latency: z
    .array(
      z.tuple([
        z
          .number()
          .int()
          .min(0)
          .max(FINE_BUCKETS - 1),
        z.number().int().positive(),
      ]),
    )
    .optional(),
  /** Baseline requests mirrored to the candidate, and those whose outputs diverged (kept on the candidate). */
  shadowed: z.number().int().nonnegative().optional(),
  divergent: z.number().int().nonnegative().optional(),
});
export type Traffic = z.infer<typeof trafficSchema>;

/** A node's split of one model, as its heartbeat record says it: what it applies and what it counted. */
export const nodeSplitSchema = z.object({
  rolloutId: z.string(),
  seq: z.number().int().nonnegative(),
  candidate: z.string(),
  weight: z.number().int().min(0).max(100),
  shadowPercent: z.number().min(0).max(100),
  /** Traffic per version since this seq took effect on the node. */
  traffic: z.record(z.string(), trafficSchema),
});
export type NodeSplit = z.infer<typeof nodeSplitSchema>;

export function emptyTraffic(): Traffic {
  return {
    requests: 0,
    failures: 0,
    clientErrors: 0,
    buckets: new Array<number>(LATENCY_BUCKETS_MS.length + 1).fill(0),
  };
}

/** How a version answered a request: 2xx, 4xx (the request did not fit it) or 5xx (it failed). */
export type AnswerClass = "ok" | "client_error" | "server_error";

/** The bucket index of a latency. */
export function latencyBucket(ms: number): number {
  const index = LATENCY_BUCKETS_MS.findIndex((bound) => ms <= bound);
  return index === -1 ? LATENCY_BUCKETS_MS.length : index;
}

/**
 * Counts one answer in `traffic`: a request, a failure (5xx) or client error (4xx) by its class, and a
 * 2xx's latency (a refusal's or a failure's time says nothing of the version's speed: a version that
 * refuses most requests fast must not look faster).
 */
function countAnswer(traffic: Traffic, answer: AnswerClass, ms: number): void {
  traffic.requests++;
  if (answer === "server_error") traffic.failures++;
  if (answer === "client_error") traffic.clientErrors = (traffic.clientErrors ?? 0) + 1;
  if (answer !== "ok") return;
  const bucket = latencyBucket(ms);
  traffic.buckets[bucket] = (traffic.buckets[bucket] ?? 0) + 1;
}

/** One version's traffic as a node counts it: the record's fields, and (on request) the fine histogram. */
export class TrafficTally {
  private readonly traffic: Traffic;
  private readonly fine: FineHistogram | null;

  constructor(options: { fine: boolean; shadow?: boolean }) {
    this.traffic = options.shadow ? { ...emptyTraffic(), shadowed: 0, divergent: 0 } : emptyTraffic();
    this.fine = options.fine ? new FineHistogram() : null;
  }

  /** A request answered in `ms`, with a 2xx, a 4xx or a 5xx. */
  count(answer: AnswerClass, ms: number): void {
    countAnswer(this.traffic, answer, ms);
    if (answer === "ok") this.fine?.observe(ms);
  }

  /** A baseline request mirrored to this (candidate) version; `divergent`: its outputs differed. */
  shadowed(divergent: boolean): void {
    this.traffic.shadowed = (this.traffic.shadowed ?? 0) + 1;
    if (divergent) this.traffic.divergent = (this.traffic.divergent ?? 0) + 1;
  }

  /** A copy, as the node record says it. */
  snapshot(): Traffic {
    const copy: Traffic = { ...this.traffic, buckets: [...this.traffic.buckets] };
    if (this.fine !== null) copy.latency = this.fine.sparse();
    return copy;
  }
}

/**
 * Where a split key falls, 0 ≤ x < 100 (hundredths of a percent of resolution): the candidate answers
 * when it is below the weight, so a key on the candidate stays there as the weight grows. Hashed with
 * the rollout id so that each rollout picks a different share of keys.
 */
export function splitPoint(rolloutId: string, key: string): number {
  const digest = createHash("sha256").update(rolloutId).update("\0").update(key).digest();
  return (digest.readUInt32BE(0) / 2 ** 32) * 100;
}

/** The steps of `--linear P`: P, 2P, … below 100. */
export function linearSteps(increment: number): number[] {
  const steps: number[] = [];
  for (let weight = increment; weight < 100; weight += increment) steps.push(weight);
  return steps;
}
