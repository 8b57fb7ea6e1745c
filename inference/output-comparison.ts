/**
 * Whether an output is the one expected within a golden tolerance: the one comparison the node makes,
 * at warm-up (a version's output against its golden vector) and on a shadow run (the candidate's
 * output against the answer the baseline gave), so that "equal" means the same in both.
 */
import type * as ort from "onnxruntime-node";
import { errorMessage } from "../core/errors.js";
import type { Tolerance } from "../core/golden-recording.js";
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
