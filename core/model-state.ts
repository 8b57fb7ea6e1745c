/**
 * The shapes of fleet state: a model's pointer (active, previous, revision, rollout in progress), the
 * history of every activation, rollback and abort, and the heartbeat record each node keeps. All are
 * parsed from unknown with a schema when read back from Redis or SSM.
 */
import { z } from "zod";
import { ErrorCode, StateError } from "./errors.js";
import { WARMUP_MODES } from "./messages.js";
import { analysisResultSchema, nodeSplitSchema, progressiveSchema, trafficSchema } from "./progressive.js";
import { maxReplayDivergence, replayReportSchema } from "./replay-report.js";

export const rolloutSchema = z.object({
  id: z.string(),
  target: z.string(),
  /** `progressing`: a progressive rollout between steps (core/progressive.ts); it holds no lock then. */
  phase: z.enum(["preparing", "promoting", "progressing"]),
  startedAt: z.string(),
  by: z.string(),
  /** The operator forced a version whose schema does not fit (nodes skip their own check). */
  allowIncompatible: z.boolean().optional(),
  /** The share of replayed requests whose outputs may diverge before a node refuses the target. */
  maxReplayDivergence: maxReplayDivergence.optional(),
  /** A canary or linear rollout: its steps, weight, bake and analysis. Absent: all at once. */
  progressive: progressiveSchema.optional(),
});
export type Rollout = z.infer<typeof rolloutSchema>;

export const modelStateSchema = z.object({
  active: z.string().nullable(),
  previous: z.string().nullable(),
  revision: z.number().int().nonnegative(),
  rollout: rolloutSchema.nullable(),
  updatedAt: z.string().nullable(),
  updatedBy: z.string().nullable(),
});
export type ModelState = z.infer<typeof modelStateSchema>;

/** The state of a model nobody has activated yet. */
export function emptyModelState(): ModelState {
  return { active: null, previous: null, revision: 0, rollout: null, updatedAt: null, updatedBy: null };
}

export const nodeOutcomeSchema = z.object({
  nodeId: z.string(),
  /** `pending`: the node had not answered yet when another node's failure aborted the rollout. */
  outcome: z.enum(["staged", "failed", "timeout", "pending", "promoted", "unconfirmed"]),
  code: z.string().optional(),
  reason: z.string().optional(),
  loadMs: z.number().optional(),
  warmupMs: z.number().optional(),
  warmup: z.enum(WARMUP_MODES).optional(),
  /** Recent real requests replayed on the version, and how far its outputs were from the active one's. */
  replay: replayReportSchema.optional(),
  /** Something the operator should know though the node staged the version (it was staged cold). */
  warning: z.string().optional(),
  /** When the node reported serving the new version (its clock, ms since the epoch, sub-millisecond). */
  switchedAt: z.number().optional(),
});
export type NodeOutcome = z.infer<typeof nodeOutcomeSchema>;

export const historyEntrySchema = z.object({
  rolloutId: z.string(),
  action: z.enum(["activate", "rollback"]),
  by: z.string(),
  startedAt: z.string(),
  finishedAt: z.string(),
  from: z.string().nullable(),
  to: z.string(),
  outcome: z.enum(["promoted", "aborted"]),
  revision: z.number().int().nonnegative(),
  reason: z.string().optional(),
  nodes: z.array(nodeOutcomeSchema),
  /** First → last node serving the new version, from their reports (ms, sub-millisecond). */
  switchSpreadMs: z.number().optional(),
  /** What nodes warned about while staging (a version staged cold), one line each. */
  warnings: z.array(z.string()).optional(),
  /** A progressive rollout: its strategy, steps and every analysis it ran, in order. */
  strategy: z.enum(["canary", "linear"]).optional(),
  steps: z.array(z.number()).optional(),
  analyses: z.array(analysisResultSchema).optional(),
});
export type HistoryEntry = z.infer<typeof historyEntrySchema>;

export const nodeModelStatusSchema = z.object({
  active: z.string().nullable(),
  revision: z.number().int().nonnegative(),
  warm: z.array(z.string()),
  staged: z
    .object({
      version: z.string(),
      /** `waiting`: for one of the version's fleet-wide download slots (CUTOVER_FETCH_FANIN), then `fetching`. */
      state: z.enum(["waiting", "fetching", "loading", "warming", "staged", "failed"]),
      /** The rollout it was staged for: lets the controller read the answer from the heartbeat too. */
      rolloutId: z.string().optional(),
      warmup: z.enum(WARMUP_MODES).optional(),
      replay: replayReportSchema.optional(),
      warning: z.string().optional(),
    })
    .nullable(),
  lastError: z.string().nullable(),
  /** Resident versions that were staged cold (no warm-up input worked), with the node's warning. */
  cold: z.record(z.string(), z.string()).optional(),
  /**
   * The execution provider each resident version (active, warm, staged) runs on, after fallback.
   * Absent from nodes older than this field.
   */
  providers: z.record(z.string(), z.string()).optional(),
  /** The request split of a progressive rollout in force on this node, with its per-version traffic. */
  split: nodeSplitSchema.optional(),
  /**
   * What each resident version answered on this node since the node started, cumulative: requests
   * (pinned, split or plain), failures (5xx) and the latency histogram. A version's counts are dropped
   * once it is no longer resident, so one that comes back starts from zero, as after a node restart
   * (`startedAt`): readers take a count going down, or a version coming back, as a reset. Absent while
   * no resident version answered anything, and from nodes older than this field.
   */
  served: z.record(z.string(), trafficSchema).optional(),
});

export const nodeRecordSchema = z.object({
  nodeId: z.string(),
  url: z.string(),
  /** The providers the node's sessions run on, "+"-joined in preference order; "none" before any load. */
  executionProvider: z.string(),
  startedAt: z.string(),
  updatedAt: z.string(),
  /** The models this node serves; an empty list means every model. */
  serves: z.array(z.string()),
  models: z.record(z.string(), nodeModelStatusSchema),
});
export type NodeRecord = z.infer<typeof nodeRecordSchema>;

/** True when the node serves `model` (it lists it, or it serves every model). */
export function nodeServes(node: NodeRecord, model: string): boolean {
  return node.serves.length === 0 || node.serves.includes(model);
}

/** Parses stored JSON with a schema; corrupt state is a StateError, never a silent default. */
export function parseStored<T>(schema: z.ZodType<T>, raw: string, what: string): T {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (error) {
    throw new StateError(ErrorCode.StateCorrupt, `${what} is not JSON`, { cause: error });
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    throw new StateError(ErrorCode.StateCorrupt, `${what} is invalid: ${parsed.error.issues[0]?.message}`);
  }
  return parsed.data;
}
