/**
 * What the CLI prints of progressive rollouts: a step's answer, the progress line while it runs, the
 * rollout block of `status MODEL`, and the figures of each step in history.
 */
import type { HistoryEntry, Rollout } from "../../core/model-state.js";
import type { AnalysisResult, VersionFigures } from "../../core/progressive.js";
import type { ProgressView } from "../progressive/progressive-runner.js";

/** A duration for people: 4m05s, 12s, 0s. */
export function durationText(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  const minutes = Math.floor(seconds / 60);
  if (minutes === 0) return `${seconds}s`;
  const hours = Math.floor(minutes / 60);
  const rest = `${String(seconds % 60).padStart(2, "0")}s`;
  return hours === 0 ? `${minutes}m${rest}` : `${hours}h${String(minutes % 60).padStart(2, "0")}m${rest}`;
}

function figures(figure: VersionFigures): string {
  const p99 = figure.p99Ms === null ? "—" : `${figure.p99Ms.toFixed(1)} ms`;
  const rejected =
    figure.clientErrorRate === undefined ? "" : `, ${(figure.clientErrorRate * 100).toFixed(2)} % rejected (4xx)`;
  const p50 = figure.p50Ms === undefined || figure.p50Ms === null ? "" : `, p50 ${figure.p50Ms.toFixed(1)} ms`;
  return `${figure.requests} req, ${(figure.errorRate * 100).toFixed(2)} % failed${rejected}${p50}, p99 ${p99}`;
}

/** One line per analysis: the step, the verdict, both versions' figures. */
export function analysisLine(analysis: AnalysisResult): string {
  const shadow =
    analysis.shadowed !== undefined ? `; shadow ${analysis.divergent ?? 0}/${analysis.shadowed} diverged` : "";
  return `  ${analysis.weight} % (step ${analysis.step + 1}): ${analysis.verdict} — candidate ${figures(analysis.candidate)}; baseline ${figures(analysis.baseline)}${shadow}`;
}

/** `status MODEL`'s rollout block: weight, step, bake time left, hold, the last analysis. */
export function rolloutStatusLines(rollout: Rollout, now = Date.now()): string[] {
  const progressive = rollout.progressive;
  if (progressive === undefined) return [];
  const bake =
    progressive.bakeUntil === null
      ? "not started"
      : progressive.bakeUntil > now
        ? `${durationText(progressive.bakeUntil - now)} left`
        : "over";
  const lines = [
    `${progressive.strategy} ${progressive.baseline} → ${rollout.target}: ${progressive.weight} % at step ${progressive.step + 1}/${progressive.steps.length} (${progressive.steps.join(", ")}, then 100 %), bake ${bake}${progressive.shadowPercent > 0 ? `, shadow ${progressive.shadowPercent} %` : ""}`,
  ];
  if (progressive.holding !== null) lines.push(`holding: ${progressive.holding}`);
  if (progressive.lastAnalysis !== null) lines.push(`last analysis:${analysisLine(progressive.lastAnalysis).slice(1)}`);
  return lines;
}

/** The answer to activate (first step), promote, abort. */
export function progressLines(view: ProgressView, now = Date.now()): string[] {
  const lines = [view.message];
  if (view.state === "progressing" && view.bakeUntil !== null && view.holding === null) {
    lines.push(`bake ${durationText(view.bakeUntil - now)} left, then the analysis decides`);
  }
  if (view.unconfirmed.length > 0)
    lines.push(`not confirmed yet (they apply it on resync): ${view.unconfirmed.join(", ")}`);
  if (view.lastAnalysis !== null && view.state !== "progressing") lines.push(analysisLine(view.lastAnalysis));
  return lines;
}

/** How a progressive rollout ended, from its history entry. */
export function endLines(entry: HistoryEntry): string[] {
  const outcome =
    entry.outcome === "promoted"
      ? `${entry.from ?? "-"} → ${entry.to}: promoted at revision ${entry.revision}`
      : `${entry.from ?? "-"} → ${entry.to}: rolled back to ${entry.from ?? "-"}: ${entry.reason ?? ""}`;
  return [outcome, ...(entry.analyses ?? []).map(analysisLine)];
}
