/**
 * One model version loaded into onnxruntime: its session, model card and the counts that decide
 * when the session may be released. Loading checks that the ONNX file's inputs and outputs are the
 * ones its cutover.json declares; warming up runs the golden vectors (compared within their
 * tolerance) or, without any, a few runs on generated inputs.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type * as ort from "onnxruntime-node";
import { MODEL_CARD_FILE, MODEL_FILE } from "../core/artifact-layout.js";
import { ErrorCode, errorMessage, StagingError } from "../core/errors.js";
import { type Golden, type ModelCard, parseModelCard } from "../core/model-card.js";
import { signatureOfSession } from "../core/onnx-signature.js";
import { schemaIncompatibilities } from "../core/schema-compatibility.js";
import type { SessionOpener } from "./session-opener.js";
import { decodeInferRequest, encodeTensor, syntheticFeeds } from "./tensor-codec.js";

const SYNTHETIC_RUNS = 3;

export class LoadedVersion {
  /** Requests running on this session. */
  leases = 0;
  /** No longer active, staged or kept warm: released when the last lease ends. */
  retired = false;
  released = false;
  warmupMs = 0;

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

  /** Runs the golden vectors, or a few synthetic inputs. Fails with GOLDEN_MISMATCH or WARMUP_FAILED. */
  async warmUp(): Promise<void> {
    const started = performance.now();
    if (this.card.golden) await this.checkGolden(this.card.golden);
    else {
      for (let run = 0; run < SYNTHETIC_RUNS; run++) {
        try {
          await this.session.run(syntheticFeeds(this.card.inputs));
        } catch (error) {
          throw new StagingError(
            ErrorCode.WarmupFailed,
            `${this.model}/${this.version}: warm-up run failed: ${errorMessage(error)}`,
            {
              cause: error,
            },
          );
        }
      }
    }
    this.warmupMs = Math.round(performance.now() - started);
  }

  private async checkGolden(golden: Golden): Promise<void> {
    const { absolute, relative } = golden.tolerance;
    for (const [index, goldenCase] of golden.cases.entries()) {
      let results: ort.InferenceSession.ReturnType;
      try {
        const { feeds } = decodeInferRequest(goldenCase.request, this.card.inputs);
        results = await this.session.run(feeds);
      } catch (error) {
        throw new StagingError(
          ErrorCode.WarmupFailed,
          `${this.model}/${this.version}: golden case ${index} did not run: ${errorMessage(error)}`,
          {
            cause: error,
          },
        );
      }
      for (const expected of goldenCase.response.outputs) {
        const tensor = results[expected.name];
        const mismatch = (detail: string) =>
          new StagingError(
            ErrorCode.GoldenMismatch,
            `${this.model}/${this.version}: golden case ${index}, output ${expected.name}: ${detail}`,
          );
        if (tensor === undefined) throw mismatch("not produced");
        const actual = encodeTensor(expected.name, tensor);
        if (actual.shape.join(",") !== expected.shape.join(","))
          throw mismatch(`shape [${actual.shape}] ≠ [${expected.shape}]`);
        const wanted = (expected.data as unknown[]).flat(Number.POSITIVE_INFINITY);
        for (const [i, value] of actual.data.entries()) {
          const want = wanted[i];
          const close =
            typeof value === "number" && typeof want === "number"
              ? Math.abs(value - want) <= absolute + relative * Math.abs(want)
              : value === want;
          if (!close)
            throw mismatch(`value ${i} is ${value}, expected ${want} (±${absolute} + ${relative}×|expected|)`);
        }
      }
    }
  }
}
