/**
 * How far a staged candidate's outputs are from the active version's on the recent real requests
 * replayed on it (warm-up.ts): a request diverges when any output the active version gave is not the
 * candidate's within the candidate's tolerance (output-comparison.ts, the comparison golden vectors and
 * shadow runs use); the worst absolute and relative errors are taken over every compared value.
 */
import type * as ort from "onnxruntime-node";
import type { Tolerance } from "../core/golden-recording.js";
import type { ReplayReport } from "../core/replay-report.js";
import { encodeTensor } from "../core/tensor-codec.js";
import { outputErrors, outputMismatch } from "./output-comparison.js";

/** The first divergence in words stays short: it travels in reports and history. */
const MAX_FIRST_CHARS = 300;

export class ReplayComparison {
  private compared = 0;
  private divergent = 0;
  private worst: { absolute: number; relative: number } | null = null;
  private first: string | undefined;

  constructor(private readonly tolerance: Tolerance) {}

  /** Compares the candidate's `results` for replayed request `index` (0-based) with `expected`. */
  add(
    index: number,
    expected: Readonly<Record<string, ort.Tensor>>,
    results: Readonly<Record<string, ort.Tensor>>,
  ): void {
    this.compared++;
    let mismatch: string | null = null;
    for (const [name, tensor] of Object.entries(expected)) {
      const want = encodeTensor(name, tensor);
      const errors = outputErrors(want, results[name]);
      if (errors !== null) {
        this.worst = {
          absolute: Math.max(this.worst?.absolute ?? 0, errors.absolute),
          relative: Math.max(this.worst?.relative ?? 0, errors.relative),
        };
      }
      const off = outputMismatch(want, results[name], this.tolerance);
      if (off !== null && mismatch === null) mismatch = `request ${index + 1}, output ${name}: ${off}`;
    }
    if (mismatch === null) return;
    this.divergent++;
    this.first ??= mismatch.length <= MAX_FIRST_CHARS ? mismatch : `${mismatch.slice(0, MAX_FIRST_CHARS - 1)}…`;
  }

  /** The report of `replayed` requests run, those compared among them. */
  report(replayed: number): ReplayReport {
    return {
      replayed,
      compared: this.compared,
      divergent: this.divergent,
      ...(this.worst !== null ? { worstAbsolute: this.worst.absolute, worstRelative: this.worst.relative } : {}),
      ...(this.first !== undefined ? { first: this.first } : {}),
    };
  }
}
