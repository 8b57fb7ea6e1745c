/**
 * Golden vectors recorded from samples (`push --sample FILE`): each sample is an Open Inference
 * Protocol infer request body — what a team already sends its model — run here with onnxruntime on
 * the CPU; the request and the outputs it gave become a golden case that every node checks at warm-up.
 */
import { readFile } from "node:fs/promises";
import * as ort from "onnxruntime-node";
import { errorMessage, InputError, ModelError } from "./errors.js";
import type { Golden, TensorSpec } from "./model-card.js";
import { decodeInferRequest, encodeTensor } from "./tensor-codec.js";

/** A golden tolerance: |actual − expected| ≤ absolute + relative × |expected|. */
export interface Tolerance {
  readonly absolute: number;
  readonly relative: number;
}

/**
 * Defaults for recorded outputs. Nodes may run another execution provider than the CPU that recorded
 * them (CUDA kernels sum in another order, may use TF32), so the FP32 default is looser than the
 * hand-written golden default (1e-5 / 1e-4); half-precision outputs get half-precision room.
 */
export const RECORDED_TOLERANCE: Readonly<Record<"full" | "half", Tolerance>> = {
  full: { absolute: 1e-4, relative: 1e-3 },
  half: { absolute: 1e-2, relative: 1e-2 },
};

/** The default tolerance for a model's outputs: half-precision room if any output is FP16 or BF16. */
export function recordedTolerance(outputs: readonly TensorSpec[]): Tolerance {
  const half = outputs.some((spec) => spec.datatype === "FP16" || spec.datatype === "BF16");
  return RECORDED_TOLERANCE[half ? "half" : "full"];
}

export interface RecordOptions {
  readonly modelPath: string;
  readonly samplePaths: readonly string[];
  readonly inputs: readonly TensorSpec[];
  readonly tolerance: Tolerance;
}

async function readSample(path: string): Promise<unknown> {
  const bytes = await readFile(path).catch((error: unknown) => {
    throw new InputError(`push: sample ${path} cannot be read: ${errorMessage(error)}`, { cause: error });
  });
  try {
    return JSON.parse(bytes.toString("utf8"));
  } catch (error) {
    throw new InputError(`push: sample ${path} is not JSON: ${errorMessage(error)}`, { cause: error });
  }
}

/**
 * Runs every sample through the model and returns them as golden cases. A sample that is not a valid
 * request for the model, or that the model fails on, is a ModelError naming the file and carrying
 * onnxruntime's message.
 */
export async function recordGolden(options: RecordOptions): Promise<Golden> {
  const samples = await Promise.all(options.samplePaths.map(async (path) => ({ path, body: await readSample(path) })));
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(options.modelPath, {
      executionProviders: ["cpu"],
      logSeverityLevel: 4,
    });
  } catch (error) {
    throw new ModelError(`${options.modelPath} is not a loadable ONNX model: ${errorMessage(error)}`, { cause: error });
  }
  try {
    const cases: Golden["cases"] = [];
    for (const { path, body } of samples) {
      let decoded: ReturnType<typeof decodeInferRequest>;
      try {
        decoded = decodeInferRequest(body, options.inputs);
      } catch (error) {
        throw new InputError(`push: sample ${path} is not a valid request for this model: ${errorMessage(error)}`, {
          cause: error,
        });
      }
      let results: ort.InferenceSession.ReturnType;
      try {
        results = await session.run(decoded.feeds);
      } catch (error) {
        throw new ModelError(`push: the model rejected sample ${path}: ${errorMessage(error)}`, { cause: error });
      }
      const requested = decoded.request.outputs?.map((output) => output.name);
      const outputs = (requested ?? Object.keys(results)).map((name) => {
        const tensor = results[name];
        if (tensor === undefined)
          throw new InputError(`push: sample ${path} asks for output ${name}, which the model does not produce`);
        return encodeTensor(name, tensor);
      });
      cases.push({
        request: {
          // Decoding checked each input against the model's own spec: its datatype is that spec's.
          inputs: options.inputs.flatMap((spec) => {
            const given = decoded.request.inputs.find((input) => input.name === spec.name);
            return given === undefined
              ? []
              : // A sample has no binary section: an input without data can only be an empty binary one.
                [{ name: spec.name, shape: given.shape, datatype: spec.datatype, data: given.data ?? [] }];
          }),
          ...(requested ? { outputs: requested.map((name) => ({ name })) } : {}),
        },
        response: { outputs },
      });
    }
    return { tolerance: { ...options.tolerance }, cases };
  } finally {
    await session.release();
  }
}
