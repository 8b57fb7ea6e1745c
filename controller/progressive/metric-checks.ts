/**
 * A rollout's own analysis checks on Prometheus (`activate --check NAME=QUERY<=BOUND`), as Argo
 * Rollouts' and Flagger's analysis templates have them: the query's `{{model}}`, `{{version}}` (the
 * candidate) and `{{baseline}}` are filled in — names cutover already checked, safe inside a PromQL
 * string — and every series it returns must keep the bound.
 *
 * - When the rollout starts, each query must be one Prometheus accepts and every metric it names must
 *   have a series there: a typo is refused then (INVALID_INPUT), not found at the first step.
 * - When a step's bake ends (once per step: a threshold looked at on every tick would alarm more often
 *   than once), each check passes, fails (a series beyond its bound: the step rolls back with the
 *   figures), or is inconclusive — no series, NaN or ±Inf, Prometheus unreachable, slow or answering
 *   garbage — which holds the rollout until a later look decides. It never passes by default.
 */
import { errorMessage, InputError } from "../../core/errors.js";
import type { AnalysisResult, MetricCheck, MetricCheckResult } from "../../core/progressive.js";
import type { PrometheusClient } from "./prometheus-client.js";

/** What a check's placeholders stand for. */
export interface CheckContext {
  readonly model: string;
  readonly version: string;
  readonly baseline: string;
}

const PLACEHOLDER = /\{\{\s*([A-Za-z_]+)\s*\}\}/g;
/** Values shown per check; the rest are counted. */
const SHOWN_VALUES = 4;

/** The query with its placeholders filled in; an unknown placeholder is an InputError. */
export function fillPlaceholders(query: string, context: CheckContext): string {
  return query.replace(PLACEHOLDER, (_, name: string) => {
    if (name === "model" || name === "version" || name === "baseline") return context[name];
    throw new InputError(`unknown placeholder {{${name}}} (a check knows {{model}}, {{version}}, {{baseline}})`);
  });
}

/** PromQL words that are not metric names where they stand without a "(" after them. */
const KEYWORDS = new Set([
  "and",
  "or",
  "unless",
  "bool",
  "offset",
  "by",
  "without",
  "on",
  "ignoring",
  "group_left",
  "group_right",
  "atan2",
  "inf",
  "nan",
]);

/**
 * The metric names a query selects: identifiers that are not functions, aggregations, keywords or
 * numbers, once strings, label matchers, ranges and grouping label lists are set aside.
 */
export function metricNamesIn(query: string): string[] {
  const bare = query
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replace(/\{[^}]*\}/g, "{}")
    .replace(/\[[^\]]*\]/g, "")
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/gi, " ");
  const names = new Set<string>();
  for (const match of bare.matchAll(/[A-Za-z_:][\w:]*/g)) {
    const word = match[0];
    const before = bare[match.index - 1] ?? " ";
    if (/[\d.]/.test(before)) continue; // 1e5, 5m
    if (KEYWORDS.has(word.toLowerCase())) continue;
    if (/^\s*\(/.test(bare.slice(match.index + word.length))) continue; // a function or an aggregation
    names.add(word);
  }
  return [...names];
}

/**
 * Refuses, before the rollout starts, checks with nowhere to ask (no CUTOVER_PROMETHEUS_URL), a query
 * Prometheus refuses, or a metric it holds no series of. Prometheus unreachable refuses too
 * (PROMETHEUS_UNREACHABLE): nothing could be checked.
 */
export async function validateChecks(
  client: PrometheusClient | null,
  checks: readonly MetricCheck[],
  context: CheckContext,
): Promise<void> {
  if (checks.length === 0) return;
  if (client === null) {
    throw new InputError("analysis checks need Prometheus: set CUTOVER_PROMETHEUS_URL on the controller");
  }
  const names = new Set(checks.map((check) => check.name));
  if (names.size !== checks.length) throw new InputError("each check needs a name of its own");
  const known = await client.metricNames();
  for (const check of checks) {
    const query = await named(check, async () => fillPlaceholders(check.query, context));
    const missing = metricNamesIn(query).filter((name) => !known.has(name));
    if (missing.length > 0) {
      throw new InputError(
        `check ${check.name}: Prometheus at ${client.url} holds no series of ${missing.join(", ")} (a typo, or nothing it scrapes exports it); nothing changed`,
      );
    }
    await named(check, () => client.query(query));
  }
}

/** `work`, an InputError of which names the check. */
async function named<T>(check: MetricCheck, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof InputError) throw new InputError(`check ${check.name}: ${error.message}`, { cause: error });
    throw error;
  }
}

/** A number as a check reports it: four significant digits. */
function figure(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (!Number.isFinite(value)) return value > 0 ? "+Inf" : "-Inf";
  return String(Number(value.toPrecision(4)));
}

function boundText(check: MetricCheck): string {
  return [
    ...(check.max !== undefined ? [`≤ ${figure(check.max)}`] : []),
    ...(check.min !== undefined ? [`≥ ${figure(check.min)}`] : []),
  ].join(" and ");
}

/** Asks Prometheus each check's query now and judges it against its bound. */
export async function judgeChecks(
  client: PrometheusClient | null,
  checks: readonly MetricCheck[],
  context: CheckContext,
): Promise<MetricCheckResult[]> {
  return Promise.all(checks.map((check) => judgeCheck(client, check, context)));
}

async function judgeCheck(
  client: PrometheusClient | null,
  check: MetricCheck,
  context: CheckContext,
): Promise<MetricCheckResult> {
  const bound = boundText(check);
  let query = check.query;
  const result = (
    verdict: MetricCheckResult["verdict"],
    values: readonly number[],
    reason: string,
  ): MetricCheckResult => {
    const finite = values.filter(Number.isFinite);
    return {
      name: check.name,
      query,
      ...(finite.length > 0 ? { values: finite } : {}),
      verdict,
      reason: `${check.name} ${reason}`,
    };
  };
  try {
    query = fillPlaceholders(check.query, context);
    if (client === null) return result("inconclusive", [], "not asked: CUTOVER_PROMETHEUS_URL is not set");
    const { values, series } = await client.query(query);
    if (values.length === 0) return result("inconclusive", [], `returned no series (bound ${bound})`);
    const shown = values
      .slice(0, SHOWN_VALUES)
      .map((value, i) => `${figure(value)}${series[i] ?? ""}`)
      .join(", ");
    const more = values.length > SHOWN_VALUES ? ` and ${values.length - SHOWN_VALUES} more` : "";
    if (values.some((value) => !Number.isFinite(value))) {
      return result("inconclusive", values, `= ${shown}${more}: not a number to judge (bound ${bound})`);
    }
    const beyond = values.filter(
      (value) => (check.max !== undefined && value > check.max) || (check.min !== undefined && value < check.min),
    );
    if (beyond.length > 0) return result("fail", values, `= ${shown}${more}, beyond its bound ${bound}`);
    return result("pass", values, `= ${shown}${more}, within ${bound}`);
  } catch (error) {
    return result("inconclusive", [], `could not be judged: ${errorMessage(error)}`);
  }
}

/**
 * The built-in analysis with the checks' results: a failed check fails it, an inconclusive one holds a
 * step that would otherwise pass; each check's reason is added to the analysis's.
 */
export function addChecks(analysis: AnalysisResult, results: readonly MetricCheckResult[]): AnalysisResult {
  if (results.length === 0) return analysis;
  const failed = results.filter((result) => result.verdict === "fail");
  const pending = results.filter((result) => result.verdict === "inconclusive");
  const verdict =
    analysis.verdict === "fail" || failed.length > 0
      ? "fail"
      : analysis.verdict === "inconclusive" || pending.length > 0
        ? "inconclusive"
        : "pass";
  // What decided goes first: a failed check before the built-in figures when the checks decided.
  const checks = `checks: ${results.map((result) => result.reason).join("; ")}`;
  const reason =
    verdict !== analysis.verdict ? `${checks}; built-in: ${analysis.reason}` : `${analysis.reason}; ${checks}`;
  return { ...analysis, verdict, reason, checks: [...results] };
}

/** `--check NAME=QUERY<=BOUND` (or `>=BOUND`): the bound is the last comparison in the text. */
export function parseCheckFlag(text: string): MetricCheck {
  const match =
    /^\s*([A-Za-z][\w.-]{0,63})\s*=(?![=~])\s*(.*\S)\s*(<=|>=)\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?)\s*$/is.exec(
      text,
    );
  if (match === null) {
    throw new InputError(
      `--check ${JSON.stringify(text)}: write NAME=QUERY<=BOUND or NAME=QUERY>=BOUND, e.g. --check 'p99=histogram_quantile(0.99, sum by (le) (rate(cutover_infer_duration_seconds_bucket{model="{{model}}",version="{{version}}"}[1m])))<=0.25'`,
    );
  }
  const [, name = "", query = "", comparison, bound = ""] = match;
  const value = Number(bound);
  return { name, query, ...(comparison === "<=" ? { max: value } : { min: value }) };
}
