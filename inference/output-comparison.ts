/**
 * Whether an output is the one expected within a golden tolerance: the one comparison the node makes,
 * at warm-up (a version's output against its golden vector) and on a shadow run (the candidate's
 * output against the answer the baseline gave), so that "equal" means the same in both.
 */
import type * as ort from "onnxruntime-node";
import { errorMessage } from "../core/errors.js";
import { recordedTolerance, type Tolerance } from "../core/golden-recording.js";
import type { ModelCard } from "../core/model-card.js";
import { encodeTensor } from "../core/tensor-codec.js";
import { describeValue, flattenTensorData } from "../core/tensor-data.js";

/** An expected output as an OIP response tensor: data flat or nested row-major. */
export interface ExpectedOutput {
  readonly name: string;
  readonly shape: readonly number[];
  readonly data: readonly unknown[];
}

/**
 * Why `tensor` is not `expected` — not produced, another shape, or a value off by more than
 * absolute + relative × |expected| (other types: equal) — or null when it is within the tolerance.
 */
export function outputMismatch(
  expected: ExpectedOutput,
  tensor: ort.Tensor | undefined,
  tolerance: Tolerance,
): string | null {
  if (tensor === undefined) return "not produced";
  const actual = encodeTensor(expected.name, tensor);
  if (actual.shape.join(",") !== expected.shape.join(",")) return `shape [${actual.shape}] ≠ [${expected.shape}]`;
  let wanted: readonly unknown[];
  try {
    wanted = flattenTensorData(expected.name, expected.data, expected.shape, "expected output");
  } catch (error) {
    return errorMessage(error);
  }
  const { absolute, relative } = tolerance;
  for (const [i, value] of actual.data.entries()) {
    const want = wanted[i];
    const close =
      typeof value === "number" && typeof want === "number"
        ? Math.abs(value - want) <= absolute + relative * Math.abs(want)
        : value === want;
    if (!close)
      return `value ${i} is ${describeValue(value)}, expected ${describeValue(want)} (±${absolute} + ${relative}×|expected|)`;
  }
  return null;
}

/**
 * The tolerance a version's outputs are held to: its golden vectors' own, else the one `push --sample`
 * would have recorded for its outputs (half-precision room for FP16/BF16).
 */
export function toleranceOf(card: Pick<ModelCard, "golden" | "outputs">): Tolerance {
  return card.golden?.tolerance ?? recordedTolerance(card.outputs);
}

/** How far an output is from the one expected, at its worst value. */
export interface OutputErrors {
  /** The largest |actual − expected|. */
  readonly absolute: number;
  /**
   * The largest |actual − expected| over the largest |expected| (0 when every expected value is 0):
   * relative to the output's scale, so a value expected near zero does not make it explode.
   */
  readonly relative: number;
}

/**
 * The worst absolute and relative errors of `tensor` against `expected` of the same shape, over the
 * values that are finite numbers in both; null when there are none (not produced, another shape, not
 * numbers) — outputMismatch says whether it is within the tolerance.
 */
export function outputErrors(expected: ExpectedOutput, tensor: ort.Tensor | undefined): OutputErrors | null {
  if (tensor === undefined) return null;
  const actual = encodeTensor(expected.name, tensor);
  if (actual.shape.join(",") !== expected.shape.join(",")) return null;
  let wanted: readonly unknown[];
  try {
    wanted = flattenTensorData(expected.name, expected.data, expected.shape, "expected output");
  } catch {
    return null;
  }
  let absolute = 0;
  let scale = 0;
  let compared = 0;
  for (const [i, value] of actual.data.entries()) {
    const want = wanted[i];
    if (typeof value !== "number" || typeof want !== "number") continue;
    const error = Math.abs(value - want);
    if (!Number.isFinite(error)) continue;
    compared++;
    absolute = Math.max(absolute, error);
    scale = Math.max(scale, Math.abs(want));
  }
  if (compared === 0) return null;
  return { absolute, relative: scale === 0 ? 0 : absolute / scale };
}
