/**
 * One model version loaded into onnxruntime: its session, model card and the counts that decide
 * when the session may be released. Loading checks that the ONNX file's inputs and outputs are the
 * ones its cutover.json declares; warming up (warm-up.ts) runs the golden vectors, or synthetic inputs
 * as a best effort.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type * as ort from "onnxruntime-node";
import { MODEL_CARD_FILE, MODEL_FILE } from "../core/artifact-layout.js";
import { ErrorCode, errorMessage, StagingError } from "../core/errors.js";
import { assertCardIdentity, type ModelCard, parseModelCard } from "../core/model-card.js";
import { signatureOfSession } from "../core/onnx-signature.js";
import { schemaIncompatibilities } from "../core/schema-compatibility.js";
import type { SessionOpener } from "./session-opener.js";
import { type WarmupOptions, type WarmupResult, warmUpSession } from "./warm-up.js";

export class LoadedVersion {
  /** Requests running on this session. */
  leases = 0;
  /** No longer active, staged or kept warm: released when the last lease ends. */
  retired = false;
  released = false;
  warmupMs = 0;
  /** How the warm-up went; undefined until it ran. */
  warmup: WarmupResult | undefined;

  private constructor(
    readonly model: string,
    readonly version: string,
    readonly dir: string,
    readonly card: ModelCard,
    readonly session: ort.InferenceSession,
    /** The execution provider the session runs on (the first configured one that took the model). */
    readonly provider: string,
    readonly loadMs: number,
  ) {}

  /**
   * Creates the session from a verified version folder, on the first execution provider that takes
   * it. Fails with LOAD_FAILED (naming every provider and why) or INCOMPATIBLE_SCHEMA.
   */
  static async load(model: string, version: string, dir: string, sessions: SessionOpener): Promise<LoadedVersion> {
    const started = performance.now();
    let card: ModelCard;
    try {
      card = parseModelCard(await readFile(join(dir, MODEL_CARD_FILE)));
    } catch (error) {
      throw new StagingError(ErrorCode.LoadFailed, `${model}/${version}: ${errorMessage(error)}`, { cause: error });
    }
    assertCardIdentity(card, model, version);
    const { session, provider } = await sessions.open(`${model}/${version}`, join(dir, MODEL_FILE));
    const actual = signatureOfSession(session);
    const lies = [...schemaIncompatibilities(card, actual), ...schemaIncompatibilities(actual, card)];
    if (lies.length > 0) {
      await session.release();
      throw new StagingError(
        ErrorCode.IncompatibleSchema,
        `${model}/${version}: model.onnx does not match its cutover.json: ${lies.join("; ")}`,
      );
    }
    return new LoadedVersion(model, version, dir, card, session, provider, Math.round(performance.now() - started));
  }

  /**
   * Runs the golden vectors (a failure refuses the version: GOLDEN_MISMATCH or WARMUP_FAILED), or
   * synthetic inputs as a best effort: a model that rejects every guess is staged cold, with a warning.
   */
  async warmUp(options: WarmupOptions = {}): Promise<WarmupResult> {
    const started = performance.now();
    this.warmup = await warmUpSession(
      `${this.model}/${this.version}`,
      this.card,
      (feeds) => this.session.run(feeds),
      options,
    );
    this.warmupMs = Math.round(performance.now() - started);
    return this.warmup;
  }
}
