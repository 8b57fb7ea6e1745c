/**
 * What a node says of the recent real requests it replayed on a staged candidate
 * (inference/replay-comparison.ts): in its `staged` answer, the rollout's node outcomes and history,
 * and the heartbeat; and the bound a rollout sets on it.
 */
import { z } from "zod";

/**
 * The share (0–1) of replayed requests whose outputs may diverge from the active version's before a
 * node refuses the candidate (REPLAY_DIVERGED); absent: divergences are reported, never refused.
 */
export const maxReplayDivergence = z.number().min(0).max(1);

/**
 * How a node's replay of recent real requests on a staged candidate went (inference/warm-up.ts):
 * requests replayed, those with outputs of the active version to compare with, those whose outputs
 * were not the active version's within the candidate's golden tolerance, the worst absolute and
 * relative errors over every compared value, and the first divergence in words.
 */
export const replayReportSchema = z.object({
  replayed: z.number().int().nonnegative(),
  compared: z.number().int().nonnegative(),
  divergent: z.number().int().nonnegative(),
  worstAbsolute: z.number().nonnegative().optional(),
  worstRelative: z.number().nonnegative().optional(),
  first: z.string().max(1000).optional(),
});
export type ReplayReport = z.infer<typeof replayReportSchema>;

/** A report in a few words: "32 replayed, 3 of 30 compared diverged (worst 0.02 absolute, 4.1 % relative)". */
export function replaySummary(report: ReplayReport): string {
  const { replayed, compared, divergent, worstAbsolute, worstRelative } = report;
  if (compared === 0) return `${replayed} replayed, none with outputs to compare`;
  const worst =
    worstAbsolute !== undefined && worstRelative !== undefined
      ? ` (worst ${formatError(worstAbsolute)} absolute, ${formatError(worstRelative * 100)} % relative)`
      : "";
  return `${replayed} replayed, ${divergent} of ${compared} compared diverged${worst}`;
}

/** Two significant digits, no trailing zeros: 0.021, 4.1, 120, 1e-7. */
function formatError(value: number): string {
  return String(Number(value.toPrecision(2)));
}

/** The fleet's reports as one: counts added, worst errors the worst of all (null when there is none). */
export function mergedReplayReport(reports: readonly ReplayReport[]): ReplayReport | null {
  if (reports.length === 0) return null;
  const worst = reports.filter((report) => report.worstAbsolute !== undefined && report.worstRelative !== undefined);
  const first = reports.find((report) => report.first !== undefined)?.first;
  return {
    replayed: reports.reduce((sum, report) => sum + report.replayed, 0),
    compared: reports.reduce((sum, report) => sum + report.compared, 0),
    divergent: reports.reduce((sum, report) => sum + report.divergent, 0),
    ...(worst.length > 0
      ? {
          worstAbsolute: Math.max(...worst.map((report) => report.worstAbsolute ?? 0)),
          worstRelative: Math.max(...worst.map((report) => report.worstRelative ?? 0)),
        }
      : {}),
    ...(first !== undefined ? { first } : {}),
  };
}
