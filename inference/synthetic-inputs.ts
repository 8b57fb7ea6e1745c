/**
 * Warm-up inputs generated from a model's metadata when it has no golden vectors: zeros of each input's
 * type, fixed dimensions as declared, symbolic ones from a guess. Symbolic dimensions are matched by
 * name across inputs (`batch` in `input [batch, samples]` and `state [2, batch, 128]` is one length);
 * unnamed ones ("") are guessed by position.
 */
import * as ort from "onnxruntime-node";
import type { TensorSpec } from "../core/model-card.js";

/** No guess may allocate more than this many elements for one input (zeros of an FP64 input: 128 MiB). */
export const MAX_SYNTHETIC_ELEMENTS = 2 ** 24;

/** One guess: the length of every symbolic dimension, from its name and place. */
export interface ShapeGuess {
  readonly label: string;
  /** `leading` is true for a dimension that is the first of some input (a batch, by convention). */
  readonly length: (leading: boolean) => number;
}

type Zeros = (count: number) => ort.Tensor.DataType;

const ZEROS: Readonly<Record<string, { type: ort.Tensor.Type; zeros: Zeros }>> = {
  BOOL: { type: "bool", zeros: (n) => new Uint8Array(n) },
  UINT8: { type: "uint8", zeros: (n) => new Uint8Array(n) },
  UINT16: { type: "uint16", zeros: (n) => new Uint16Array(n) },
  UINT32: { type: "uint32", zeros: (n) => new Uint32Array(n) },
  UINT64: { type: "uint64", zeros: (n) => new BigUint64Array(n) },
  INT8: { type: "int8", zeros: (n) => new Int8Array(n) },
  INT16: { type: "int16", zeros: (n) => new Int16Array(n) },
  INT32: { type: "int32", zeros: (n) => new Int32Array(n) },
  INT64: { type: "int64", zeros: (n) => new BigInt64Array(n) },
  FP16: { type: "float16", zeros: (n) => new Uint16Array(n) },
  FP32: { type: "float32", zeros: (n) => new Float32Array(n) },
  FP64: { type: "float64", zeros: (n) => new Float64Array(n) },
  BYTES: { type: "string", zeros: (n) => Array<string>(n).fill("") },
};

/** Why no feeds could be made for a guess (a datatype onnxruntime-node cannot build, or too large). */
export class SyntheticInputError extends Error {
  override readonly name = "SyntheticInputError";
}

/** The feeds for one guess; throws SyntheticInputError when one cannot be built. */
export function syntheticFeeds(inputs: readonly TensorSpec[], guess: ShapeGuess): Record<string, ort.Tensor> {
  const leadingNames = new Set(
    inputs.flatMap((spec) => (typeof spec.shape[0] === "string" && spec.shape[0] !== "" ? [spec.shape[0]] : [])),
  );
  const feeds: Record<string, ort.Tensor> = {};
  for (const spec of inputs) {
    const shape = spec.shape.map((dim, axis) => {
      if (typeof dim === "number" && dim > 0) return dim;
      const named = typeof dim === "string" && dim !== "";
      return guess.length(named ? leadingNames.has(dim) : axis === 0);
    });
    const count = shape.reduce((product, dim) => product * dim, 1);
    if (count > MAX_SYNTHETIC_ELEMENTS)
      throw new SyntheticInputError(`input ${spec.name} [${shape}] would hold ${count} values`);
    const kind = ZEROS[spec.datatype];
    if (kind === undefined)
      throw new SyntheticInputError(`input ${spec.name}: onnxruntime-node has no tensor type for ${spec.datatype}`);
    feeds[spec.name] = new ort.Tensor(kind.type, kind.zeros(count), shape);
  }
  return feeds;
}
