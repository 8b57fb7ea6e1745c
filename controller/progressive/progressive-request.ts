/**
 * What a caller asks of a progressive rollout (`activate --canary 10,50 --bake 5m`, `--linear 20`,
 * `--manual`, `--shadow P`, the analysis thresholds, hooks) and the rollout record it starts with.
 */
import { InputError } from "../../core/errors.js";
import {
  type AnalysisThresholds,
  DEFAULT_ANALYSIS,
  type Hook,
  linearSteps,
  type MetricCheck,
  type Progressive,
} from "../../core/progressive.js";
import type { ActivateRequest } from "../rollout-request.js";

/** The progressive part of an activate call, as the API and the CLI take it. */
export interface StrategyOptions {
  /** Candidate weights in percent, e.g. [10, 50]; after the last, 100 %. */
  readonly canary?: readonly number[];
  /** Weight added per step, e.g. 20 → 20, 40, 60, 80. */
  readonly linear?: number;
  /** How long each step bakes before it is judged and the next one starts (default 0: judge at once). */
  readonly bakeMs?: number;
  /** Hold after each step until `promote`. */
  readonly manual?: boolean;
  readonly shadowPercent?: number;
  readonly maxErrorRate?: number;
  readonly maxClientErrorRate?: number;
  readonly maxP50Ratio?: number;
  readonly maxP99Ratio?: number;
  readonly minP99DeltaMs?: number;
  readonly minRequests?: number;
  readonly maxDivergenceRate?: number;
  /** The rollout's own checks on Prometheus, judged when each step's bake ends. */
  readonly checks?: readonly MetricCheck[];
  readonly hooks?: readonly Hook[];
}

export interface ProgressiveRequest extends ActivateRequest {
  readonly progressive: Progressive;
}

/** True when the call asks for anything progressive (a strategy, or an option only a strategy takes). */
export function isProgressive(options: StrategyOptions): boolean {
  return Object.values(options).some((value) => value !== undefined && value !== false);
}

/** The steps of the strategy asked for: checked ascending, each 1–99. */
function stepsOf(options: StrategyOptions): { strategy: Progressive["strategy"]; steps: number[] } {
  const { canary, linear } = options;
  if (canary !== undefined && linear !== undefined) throw new InputError("canary and linear exclude each other");
  if (canary !== undefined) {
    if (canary.length === 0) throw new InputError("canary needs at least one step, e.g. 10,50");
    canary.forEach((weight, index) => {
      if (!Number.isInteger(weight) || weight < 1 || weight > 99) {
        throw new InputError(`canary step ${weight} is not a whole percent from 1 to 99 (100 % follows the last step)`);
      }
      if (index > 0 && weight <= (canary[index - 1] ?? 0)) {
        throw new InputError(`canary steps must grow: ${canary.join(",")}`);
      }
    });
    return { strategy: "canary", steps: [...canary] };
  }
  if (linear !== undefined) {
    if (!Number.isInteger(linear) || linear < 1 || linear > 50) {
      throw new InputError(`linear ${linear} is not a whole percent from 1 to 50 per step`);
    }
    return { strategy: "linear", steps: linearSteps(linear) };
  }
  throw new InputError("bake, manual, shadow, analysis thresholds and hooks need a strategy: --canary or --linear");
}

/** The record a progressive rollout starts with: weight 0 until every node staged the candidate. */
export function initialProgressive(options: StrategyOptions, baseline: string): Progressive {
  const { strategy, steps } = stepsOf(options);
  const analysis: AnalysisThresholds = {
    maxErrorRate: options.maxErrorRate ?? DEFAULT_ANALYSIS.maxErrorRate,
    maxClientErrorRate: options.maxClientErrorRate ?? DEFAULT_ANALYSIS.maxClientErrorRate,
    maxP50Ratio: options.maxP50Ratio ?? DEFAULT_ANALYSIS.maxP50Ratio,
    maxP99Ratio: options.maxP99Ratio ?? DEFAULT_ANALYSIS.maxP99Ratio,
    minP99DeltaMs: options.minP99DeltaMs ?? DEFAULT_ANALYSIS.minP99DeltaMs,
    minRequests: options.minRequests ?? DEFAULT_ANALYSIS.minRequests,
    ...(options.maxDivergenceRate !== undefined ? { maxDivergenceRate: options.maxDivergenceRate } : {}),
    ...(options.checks !== undefined && options.checks.length > 0 ? { checks: [...options.checks] } : {}),
  };
  const bakeMs = options.bakeMs ?? 0;
  if (!Number.isInteger(bakeMs) || bakeMs < 0) throw new InputError(`bake ${bakeMs} ms is not a duration`);
  const shadowPercent = options.shadowPercent ?? 0;
  if (!(shadowPercent >= 0 && shadowPercent <= 100)) throw new InputError(`shadow ${shadowPercent} is not 0–100 %`);
  const hooks = options.hooks ?? [];
  return {
    strategy,
    steps,
    step: 0,
    weight: 0,
    seq: 0,
    bakeMs,
    bakeUntil: null,
    manual: options.manual ?? false,
    holding: null,
    shadowPercent,
    baseline,
    analysis,
    lastAnalysis: null,
    ...(hooks.length > 0 ? { hooks: [...hooks] } : {}),
  };
}
