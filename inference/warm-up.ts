/**
 * Warm-up of a freshly loaded session, before it may serve.
 *
 * With golden vectors (cutover.json) the warm-up is the gate: every case must run and match within
 * its tolerance, or the version is refused (WARMUP_FAILED, GOLDEN_MISMATCH). Recent real requests the
 * node's active version served (replay-buffer.ts), when given, must all run too (REPLAY_FAILED), and
 * without golden vectors they are the warm-up (`replay`): a model synthetic inputs cannot run is
 * staged warm once its node has served traffic. Without either it is best
 * effort: synthetic inputs are generated from the metadata, most plausible shape first, and when the
 * model rejects every guess (a minimum length, a sample rate it branches on, token ids that must be
 * valid) the version is staged *cold* with a warning instead of being refused — nothing was proven
 * wrong with it, only that cutover could not guess a valid input. `push --sample` records real inputs
 * and their outputs as golden vectors, which turns the warm-up back into a gate.
 */
import type * as ort from "onnxruntime-node";
import { ErrorCode, errorMessage, StagingError } from "../core/errors.js";
import type { WARMUP_MODES } from "../core/messages.js";
import type { Golden, ModelCard } from "../core/model-card.js";
import type { ReplayReport } from "../core/replay-report.js";
import { decodeInferRequest } from "../core/tensor-codec.js";
import { outputMismatch, toleranceOf } from "./output-comparison.js";
import { ReplayComparison } from "./replay-comparison.js";
import type { ReplayCase } from "./replay-inputs.js";
import { type ShapeGuess, syntheticFeeds } from "./synthetic-inputs.js";

/** How a version was warmed up: golden vectors, replayed requests, synthetic inputs, or not at all (cold). */
export type WarmupMode = (typeof WARMUP_MODES)[number];

export interface WarmupResult {
  readonly mode: WarmupMode;
  /** Why the version is cold: what the model said to the last synthetic guess. */
  readonly warning?: string;
  /** The recent real requests replayed on it, and how far its outputs were from the active version's. */
  readonly replay?: ReplayReport;
}

export interface WarmupOptions {
  /** Length given to symbolic dimensions other than the first in the first synthetic guess (default 32). */
  readonly symbolicDim?: number;
  /**
   * Recent real requests (decoded for this version), each of which must run, with the active version's
   * outputs where known, which this version's are compared with.
   */
  readonly replay?: readonly ReplayCase[];
}

/** How long one replayed request may run before the version is refused (a hung run never serves). */
export const REPLAY_RUN_TIMEOUT_MS = 30_000;

/** Runs on the guess that worked, after the first. */
const SYNTHETIC_RUNS = 3;
export const DEFAULT_SYMBOLIC_DIM = 32;
/** A warning carries onnxruntime's words; bus messages and records stay small. */
const MAX_WARNING_CHARS = 1000;

type Run = (feeds: Record<string, ort.Tensor>) => Promise<ort.InferenceSession.ReturnType>;

/** The synthetic shapes tried in order: batch 1 with longer other dims, all long, then all 1. */
function syntheticGuesses(symbolicDim: number): ShapeGuess[] {
  return [
    {
      label: `batch 1, other symbolic dimensions ${symbolicDim}`,
      length: (leading) => (leading ? 1 : symbolicDim),
    },
    { label: `every symbolic dimension ${symbolicDim}`, length: () => symbolicDim },
    { label: "every symbolic dimension 1", length: () => 1 },
  ];
}

/** Warms a session up; throws StagingError only when golden vectors fail. */
export async function warmUpSession(
  label: string,
  card: ModelCard,
  run: Run,
  options: WarmupOptions = {},
): Promise<WarmupResult> {
  const replay = options.replay ?? [];
  if (card.golden) {
    await checkGolden(label, card, card.golden, run);
    if (replay.length === 0) return { mode: "golden" };
    return { mode: "golden", replay: await replayRequests(label, card, replay, run) };
  }
  if (replay.length > 0) return { mode: "replay", replay: await replayRequests(label, card, replay, run) };
  const failures: string[] = [];
  for (const guess of syntheticGuesses(options.symbolicDim ?? DEFAULT_SYMBOLIC_DIM)) {
    try {
      const feeds = syntheticFeeds(card.inputs, guess);
      for (let repeat = 0; repeat < SYNTHETIC_RUNS; repeat++) await run(feeds);
      return { mode: "synthetic" };
    } catch (error) {
      failures.push(`${guess.label}: ${oneLine(errorMessage(error))}`);
    }
  }
  const warning =
    `${label} was staged cold: the model rejected every synthetic warm-up input (${failures.at(-1) ?? "none could be built"}); ` +
    "push it with --sample FILE to check real inputs on every node";
  return { mode: "cold", warning: clip(warning) };
}

/** onnxruntime's messages end in a newline and may span lines; a warning is one line. */
function oneLine(text: string): string {
  return text.replace(/\s+/g, " ").trim();
}

function clip(text: string): string {
  return text.length <= MAX_WARNING_CHARS ? text : `${text.slice(0, MAX_WARNING_CHARS - 1)}…`;
}

async function checkGolden(label: string, card: ModelCard, golden: Golden, run: Run): Promise<void> {
  for (const [index, goldenCase] of golden.cases.entries()) {
    let results: ort.InferenceSession.ReturnType;
    try {
      const { feeds } = decodeInferRequest(goldenCase.request, card.inputs);
      results = await run(feeds);
    } catch (error) {
      throw new StagingError(
        ErrorCode.WarmupFailed,
        `${label}: golden case ${index} did not run: ${errorMessage(error)}`,
        {
          cause: error,
        },
      );
    }
    for (const expected of goldenCase.response.outputs) {
      const mismatch = outputMismatch(expected, results[expected.name], golden.tolerance);
      if (mismatch !== null)
        throw new StagingError(
          ErrorCode.GoldenMismatch,
          `${label}: golden case ${index}, output ${expected.name}: ${mismatch}`,
        );
    }
  }
}

/**
 * Runs each replayed request, the first that fails or hangs refusing the version (REPLAY_FAILED), and
 * compares its outputs with the active version's where known.
 */
async function replayRequests(
  label: string,
  card: ModelCard,
  replay: readonly ReplayCase[],
  run: Run,
): Promise<ReplayReport> {
  const comparison = new ReplayComparison(toleranceOf(card));
  for (const [index, { feeds, expected }] of replay.entries()) {
    let timer: NodeJS.Timeout | undefined;
    const hung = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`no answer within ${REPLAY_RUN_TIMEOUT_MS / 1000} s`)),
        REPLAY_RUN_TIMEOUT_MS,
      );
    });
    try {
      const results = await Promise.race([run(feeds), hung]);
      if (expected !== undefined) comparison.add(index, expected, results);
    } catch (error) {
      throw new StagingError(
        ErrorCode.ReplayFailed,
        `${label}: recent request ${index + 1} of ${replay.length}, which the active version answered, fails on it (5xx): ${oneLine(errorMessage(error))}`,
        { cause: error },
      );
    } finally {
      clearTimeout(timer);
    }
  }
  return comparison.report(replay.length);
}
