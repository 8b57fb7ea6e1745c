/**
 * Reads a model's input/output signature from the ONNX file itself, with onnxruntime-node, in the
 * Open Inference Protocol's datatype names.
 */
import * as ort from "onnxruntime-node";
import { errorMessage, ModelError } from "./errors.js";
import type { OipDatatype, TensorSpec } from "./model-card.js";

const ORT_TO_OIP: Readonly<Record<string, OipDatatype>> = {
  bool: "BOOL",
  uint8: "UINT8",
  uint16: "UINT16",
  uint32: "UINT32",
  uint64: "UINT64",
  int8: "INT8",
  int16: "INT16",
  int32: "INT32",
  int64: "INT64",
  float16: "FP16",
  float32: "FP32",
  float64: "FP64",
  string: "BYTES",
  bfloat16: "BF16",
};

export interface OnnxSignature {
  readonly inputs: TensorSpec[];
  readonly outputs: TensorSpec[];
}

function toSpec(meta: ort.InferenceSession.ValueMetadata): TensorSpec {
  if (!meta.isTensor) throw new ModelError(`${meta.name}: non-tensor inputs and outputs are not supported`);
  const datatype = ORT_TO_OIP[meta.type];
  if (datatype === undefined)
    throw new ModelError(`${meta.name}: tensor type ${meta.type} has no Open Inference Protocol datatype`);
  return { name: meta.name, datatype, shape: meta.shape.map((dim) => dim) };
}

/** The signature of a loaded session. */
export function signatureOfSession(session: ort.InferenceSession): OnnxSignature {
  return { inputs: session.inputMetadata.map(toSpec), outputs: session.outputMetadata.map(toSpec) };
}

/** Loads the model on the CPU just long enough to read its metadata. */
export async function readOnnxSignature(modelPath: string): Promise<OnnxSignature> {
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(modelPath, {
      executionProviders: ["cpu"],
      graphOptimizationLevel: "disabled",
    });
  } catch (error) {
    throw new ModelError(`${modelPath} is not a loadable ONNX model: ${errorMessage(error)}`, { cause: error });
  }
  try {
    return signatureOfSession(session);
  } finally {
    await session.release();
  }
}
