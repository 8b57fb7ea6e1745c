/**
 * The bus protocol: JSON messages tagged by `type`, parsed with a schema at the edge. Pub/sub is only
 * a wake-up signal; state in the state store is the truth, so a lost message costs time, not safety.
 */
import { z } from "zod";
import { InputError } from "./errors.js";
import { isModelName, isVersionName } from "./names.js";
import { maxReplayDivergence, replayReportSchema } from "./replay-report.js";

/** How a version was warmed up before it could serve (inference/warm-up.ts). */
export const WARMUP_MODES = ["golden", "replay", "synthetic", "cold"] as const;

const model = z.string().refine(isModelName, "invalid model name");
const version = z.string().refine(isVersionName, "invalid version name");
const rolloutId = z.string().min(1).max(64);
const nodeId = z.string().min(1).max(128);

export const prepareMessage = z.object({
  type: z.literal("prepare"),
  model,
  version,
  rolloutId,
  /** The operator forced a version whose inputs/outputs do not fit the active one's. */
  allowIncompatible: z.boolean().optional(),
  maxReplayDivergence: maxReplayDivergence.optional(),
});
export const promoteMessage = z.object({
  type: z.literal("promote"),
  model,
  version,
  revision: z.number().int().nonnegative(),
  rolloutId,
});
/**
 * A progressive rollout's split changed (state `rollout.progressive`, seq `seq`): answer `weight` % of
 * the model's requests with `version` (staged for `rolloutId`) and mirror `shadowPercent` % of the rest.
 */
export const splitMessage = z.object({
  type: z.literal("split"),
  model,
  version,
  rolloutId,
  seq: z.number().int().nonnegative(),
  weight: z.number().int().min(0).max(100),
  shadowPercent: z.number().min(0).max(100),
});
export const abortMessage = z.object({ type: z.literal("abort"), model, rolloutId, reason: z.string() });
export const stagedMessage = z.object({
  type: z.literal("staged"),
  nodeId,
  model,
  version,
  rolloutId,
  loadMs: z.number().nonnegative(),
  warmupMs: z.number().nonnegative(),
  /**
   * How it was warmed up: golden vectors, the node's recent real requests (`replay`), synthetic
   * inputs, or not at all (`cold`, with a warning).
   */
  warmup: z.enum(WARMUP_MODES).optional(),
  /** Recent real requests replayed on it, and how far its outputs were from the active version's. */
  replay: replayReportSchema.optional(),
  warning: z.string().max(4096).optional(),
});
export const failedMessage = z.object({
  type: z.literal("failed"),
  nodeId,
  model,
  version,
  rolloutId,
  code: z.string(),
  reason: z.string(),
});
/**
 * A node now serves `version` at `revision`; `at` is its clock: ms since the epoch, a float with
 * sub-millisecond resolution (core/precise-clock.ts), so the switch spread is not rounded to 0 or 1 ms.
 */
export const promotedMessage = z.object({
  type: z.literal("promoted"),
  nodeId,
  model,
  version,
  revision: z.number().int().nonnegative(),
  rolloutId,
  at: z.number(),
});

/** A node applies the split of `seq` (weight 0 included); `at` as in `promoted`. */
export const weightedMessage = z.object({
  type: z.literal("weighted"),
  nodeId,
  model,
  rolloutId,
  seq: z.number().int().nonnegative(),
  weight: z.number().int().min(0).max(100),
  at: z.number(),
});

export const commandMessage = z.discriminatedUnion("type", [
  prepareMessage,
  promoteMessage,
  splitMessage,
  abortMessage,
]);
export const reportMessage = z.discriminatedUnion("type", [
  stagedMessage,
  failedMessage,
  promotedMessage,
  weightedMessage,
]);

export type PrepareMessage = z.infer<typeof prepareMessage>;
export type PromoteMessage = z.infer<typeof promoteMessage>;
export type AbortMessage = z.infer<typeof abortMessage>;
export type SplitMessage = z.infer<typeof splitMessage>;
export type WeightedMessage = z.infer<typeof weightedMessage>;
export type StagedMessage = z.infer<typeof stagedMessage>;
export type FailedMessage = z.infer<typeof failedMessage>;
export type PromotedMessage = z.infer<typeof promotedMessage>;
export type CommandMessage = z.infer<typeof commandMessage>;
export type ReportMessage = z.infer<typeof reportMessage>;

function parseWith<T>(schema: z.ZodType<T>, raw: string, what: string): T {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    throw new InputError(`${what} is not JSON`);
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new InputError(`${what} is invalid: ${issue?.path.join(".") || "(root)"}: ${issue?.message}`);
  }
  return parsed.data;
}

/** Parses a controller → node message; throws InputError on anything else. */
export function parseCommand(raw: string): CommandMessage {
  return parseWith(commandMessage, raw, "bus command");
}

/** Parses a node → controller message; throws InputError on anything else. */
export function parseReport(raw: string): ReportMessage {
  return parseWith(reportMessage, raw, "bus report");
}

export function encodeMessage(message: CommandMessage | ReportMessage): string {
  return JSON.stringify(message);
}
