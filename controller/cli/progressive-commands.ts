/**
 * Progressive rollouts on the command line: `activate … --canary 10,50 --bake 5m` (or `--linear 20`,
 * `--manual`, `--shadow P`, analysis thresholds, `--hook`), `promote MODEL`, `abort MODEL`.
 *
 * `activate` with a strategy returns once the first step holds when `--manual` is given; otherwise it
 * follows the rollout (the controller's reconcile tick moves it) until it ends, printing each step,
 * and exits 0 when promoted, 1 when rolled back or aborted (the figures printed).
 */
import { type Command, InvalidArgumentError } from "commander";
import { ErrorCode, errorMessage, InputError, RolloutError } from "../../core/errors.js";
import type { HistoryEntry } from "../../core/model-state.js";
import { HOOK_EVENTS, type Hook, type MetricCheck } from "../../core/progressive.js";
import { parseCheckFlag } from "../progressive/metric-checks.js";
import type { StrategyOptions } from "../progressive/progressive-request.js";
import type { ProgressView } from "../progressive/progressive-runner.js";
import type { ControllerClient } from "./api-client.js";
import { integerFlag, rateFlag } from "./flag-parsers.js";
import { printResult } from "./output.js";
import { endLines, progressLines } from "./progressive-view.js";
import type { ModelDetail } from "./rollout-view.js";

const UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

/** A duration: 90 (seconds), 500ms, 30s, 5m, 1h, or combined as 1m30s. */
export function durationFlag(flag: string): (value: string) => number {
  return (value) => {
    const text = value.trim();
    if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
    const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
    if (parts.length === 0 || parts.map((part) => part[0]).join("") !== text) {
      throw new InvalidArgumentError(`${flag} must be a duration such as 30s, 5m, 1h or 1m30s`);
    }
    return Math.round(parts.reduce((sum, [, amount, unit]) => sum + Number(amount) * (UNITS[unit ?? "s"] ?? 1000), 0));
  };
}

/** Comma-separated whole percents, e.g. 10,50 (the controller checks they grow and stay under 100). */
function percentListFlag(flag: string): (value: string) => number[] {
  return (value) => {
    const steps = value.split(",").map((part) => Number(part.trim()));
    if (steps.some((step) => !Number.isInteger(step) || step < 1 || step > 99)) {
      throw new InvalidArgumentError(`${flag} must be whole percents from 1 to 99, comma-separated (e.g. 10,50)`);
    }
    return steps;
  };
}

function numberFlag(flag: string, min: number, max: number): (value: string) => number {
  return (value) => {
    const parsed = Number(value);
    if (value.trim() === "" || !Number.isFinite(parsed) || parsed < min || parsed > max) {
      throw new InvalidArgumentError(`${flag} must be a number from ${min} to ${max}`);
    }
    return parsed;
  };
}

/** --hook EVENT=URL, repeatable. */
function hookFlag(value: string, previous: Hook[] = []): Hook[] {
  const at = value.indexOf("=");
  const event = value.slice(0, at);
  const url = value.slice(at + 1);
  if (at < 1 || !(HOOK_EVENTS as readonly string[]).includes(event) || !/^https?:\/\//.test(url)) {
    throw new InvalidArgumentError(`--hook must be EVENT=URL with EVENT one of ${HOOK_EVENTS.join(", ")}`);
  }
  return [...previous, { event: event as Hook["event"], url }];
}

/** `--check NAME=QUERY<=BOUND`, repeatable: the checks given so far and this one. */
function checkFlag(value: string, previous: MetricCheck[] = []): MetricCheck[] {
  try {
    return [...previous, parseCheckFlag(value)];
  } catch (error) {
    throw new InvalidArgumentError(errorMessage(error));
  }
}

export interface StrategyFlags {
  canary?: number[];
  linear?: number;
  bake?: number;
  manual?: boolean;
  shadow?: number;
  maxErrorRate?: number;
  maxClientErrorRate?: number;
  maxP50Ratio?: number;
  maxP99Ratio?: number;
  minP99Delta?: number;
  minRequests?: number;
  maxDivergence?: number;
  check?: MetricCheck[];
  hook?: Hook[];
}

/** The strategy options of `activate`. */
export function withStrategyOptions(command: Command): Command {
  return command
    .option(
      "--canary <steps>",
      "progressive: candidate weights in percent, e.g. 10,50 (then 100 %)",
      percentListFlag("--canary"),
    )
    .option(
      "--linear <percent>",
      "progressive: add this weight per step, e.g. 20 → 20, 40, 60, 80, 100",
      integerFlag("--linear", 1, 50),
    )
    .option(
      "--bake <duration>",
      "how long each step runs before it is judged (30s, 5m, 1h; default 0)",
      durationFlag("--bake"),
    )
    .option("--manual", "hold after each step until `cutover promote MODEL` (returns once the first step holds)")
    .option(
      "--shadow <percent>",
      "mirror this percent of the baseline's requests to the candidate and compare outputs",
      numberFlag("--shadow", 0, 100),
    )
    .option(
      "--max-error-rate <rate>",
      "fail a step when the candidate fails (5xx) more often than the baseline + this, conclusively (default 1%)",
      rateFlag("--max-error-rate"),
    )
    .option(
      "--max-client-error-rate <rate>",
      "fail a step when the candidate rejects (4xx) more often than the baseline + this, conclusively (default 1%)",
      rateFlag("--max-client-error-rate"),
    )
    .option(
      "--max-p50-ratio <x>",
      "fail a step when the candidate's median latency is over x × the baseline's, conclusively (default 1.2)",
      numberFlag("--max-p50-ratio", 1, 1000),
    )
    .option(
      "--max-p99-ratio <x>",
      "fail a step when the candidate's p99 is over x × the baseline's, conclusively (default 1.5)",
      numberFlag("--max-p99-ratio", 1, 1000),
    )
    .option(
      "--min-p99-delta <ms>",
      "…and more than this many ms above it (default 25: the p99 of a few-ms model moves that much on a busy machine by noise alone)",
      numberFlag("--min-p99-delta", 0, 3_600_000),
    )
    .option(
      "--min-requests <n>",
      "requests each version must answer in a step before it can pass (default 500)",
      integerFlag("--min-requests", 1),
    )
    .option(
      "--max-divergence <rate>",
      "fail a step when more shadowed answers diverge than this (0.01 or 1%)",
      rateFlag("--max-divergence"),
    )
    .option(
      "--check <name=query<=bound>",
      'also fail a step when a Prometheus query (CUTOVER_PROMETHEUS_URL on the controller) is beyond its bound when the bake ends, e.g. \'p99=histogram_quantile(0.99, sum by (le) (rate(cutover_infer_duration_seconds_bucket{model="{{model}}",version="{{version}}"}[1m])))<=0.25\' ({{model}}, {{version}}, {{baseline}} filled in; >= for a lower bound); repeatable',
      checkFlag,
    )
    .option(
      "--hook <event=url>",
      `call URL on EVENT (${HOOK_EVENTS.join(", ")}); repeatable; a failing pre-traffic hook aborts`,
      hookFlag,
    );
}

/** The API body's strategy fields from the flags (none when no strategy flag was given). */
export function strategyBody(flags: StrategyFlags): StrategyOptions {
  return {
    ...(flags.canary !== undefined ? { canary: flags.canary } : {}),
    ...(flags.linear !== undefined ? { linear: flags.linear } : {}),
    ...(flags.bake !== undefined ? { bakeMs: flags.bake } : {}),
    ...(flags.manual ? { manual: true } : {}),
    ...(flags.shadow !== undefined ? { shadowPercent: flags.shadow } : {}),
    ...(flags.maxErrorRate !== undefined ? { maxErrorRate: flags.maxErrorRate } : {}),
    ...(flags.maxClientErrorRate !== undefined ? { maxClientErrorRate: flags.maxClientErrorRate } : {}),
    ...(flags.maxP50Ratio !== undefined ? { maxP50Ratio: flags.maxP50Ratio } : {}),
    ...(flags.maxP99Ratio !== undefined ? { maxP99Ratio: flags.maxP99Ratio } : {}),
    ...(flags.minP99Delta !== undefined ? { minP99DeltaMs: flags.minP99Delta } : {}),
    ...(flags.minRequests !== undefined ? { minRequests: flags.minRequests } : {}),
    ...(flags.maxDivergence !== undefined ? { maxDivergenceRate: flags.maxDivergence } : {}),
    ...(flags.check !== undefined ? { checks: flags.check } : {}),
    ...(flags.hook !== undefined ? { hooks: flags.hook } : {}),
  };
}

/** The end of a followed rollout: its history entry (exit 0 when promoted, else ROLLOUT_ABORTED). */
function ended(entry: HistoryEntry, json: boolean): void {
  printResult({ json }, entry, () => endLines(entry));
  if (entry.outcome !== "promoted") {
    throw new RolloutError(
      ErrorCode.RolloutAborted,
      `${entry.to} did not take ${entry.from ?? "-"}'s place: ${entry.reason ?? "aborted"}`,
      { rolloutId: entry.rolloutId },
    );
  }
}

/**
 * After the first step: waits until the rollout ends (the controller's tick moves it), printing each
 * new step, then prints how it ended. `pollMs` between reads.
 */
export async function followRollout(
  api: ControllerClient,
  first: ProgressView,
  json: boolean,
  pollMs = 1_000,
): Promise<void> {
  if (!json) for (const line of progressLines(first)) process.stdout.write(`${line}\n`);
  let seen = `${first.weight}/${first.holding ?? ""}`;
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, pollMs));
    const { state } = await api.get<ModelDetail>(`/v1/models/${encodeURIComponent(first.model)}`);
    const rollout = state.rollout;
    if (rollout?.id === first.rolloutId && rollout.phase !== "promoting") {
      const progressive = rollout.progressive;
      const now = `${progressive?.weight}/${progressive?.holding ?? ""}`;
      if (!json && progressive !== undefined && now !== seen) {
        process.stdout.write(
          `${first.model}: ${progressive.weight} % (step ${progressive.step + 1}/${progressive.steps.length})${progressive.holding ? `, holding: ${progressive.holding}` : ""}\n`,
        );
      }
      seen = now;
      if (progressive?.holding) {
        if (json)
          process.stdout.write(`${JSON.stringify({ rolloutId: first.rolloutId, state: "holding", rollout })}\n`);
        throw new RolloutError(
          ErrorCode.RolloutHolding,
          `${first.model} → ${first.to} holds at ${progressive.weight} %: ${progressive.holding} (it moves on by itself once a later analysis passes; \`cutover promote ${first.model}\` or \`cutover abort ${first.model}\` decides now)`,
          { rolloutId: first.rolloutId },
        );
      }
      continue;
    }
    if (rollout?.id === first.rolloutId) continue;
    const { history } = await api.get<{ history: HistoryEntry[] }>(
      `/v1/models/${encodeURIComponent(first.model)}/history?limit=50`,
    );
    const entry = history.find((candidate) => candidate.rolloutId === first.rolloutId);
    if (entry === undefined) throw new InputError(`rollout ${first.rolloutId} ended but is not in the history`);
    ended(entry, json);
    return;
  }
}

/** `promote` and `abort`. */
export function registerProgressiveCommands(program: Command, api: (needsToken: boolean) => ControllerClient): void {
  program
    .command("promote <model>")
    .description("move MODEL's progressive rollout to its next step now (after the last: 100 %)")
    .option("--json", "print the result as JSON")
    .action(async (model: string, flags: { json?: boolean }) => {
      const view = await api(true).post<ProgressView>(`/v1/models/${encodeURIComponent(model)}/promote`, {});
      printResult(flags, view, () => progressLines(view));
    });

  program
    .command("abort <model>")
    .description("end MODEL's progressive rollout: all traffic back to the baseline (history says who)")
    .option("--json", "print the result as JSON")
    .action(async (model: string, flags: { json?: boolean }) => {
      const view = await api(true).post<ProgressView>(`/v1/models/${encodeURIComponent(model)}/abort`, {});
      printResult(flags, view, () => progressLines(view));
    });
}
