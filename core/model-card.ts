/**
 * The model card, `cutover.json`, written by `push` into every version: when and from where it was
 * built, the ONNX input/output signature (read from the model itself), and optional golden vectors
 * (Open Inference Protocol v2 requests with the responses expected, within a tolerance) that nodes
 * run as the warm-up before a version may serve, and optional execution settings (instances,
 * dynamic batching) that win over the node's own.
 */
import { z } from "zod";
import { ErrorCode, errorMessage, ModelError, VerificationError } from "./errors.js";
import { executionSettingsSchema } from "./execution-settings.js";
import { flattenTensorData } from "./tensor-data.js";

/** Open Inference Protocol v2 tensor datatypes. */
export const OIP_DATATYPES = [
  "BOOL",
  "UINT8",
  "UINT16",
  "UINT32",
  "UINT64",
  "INT8",
  "INT16",
  "INT32",
  "INT64",
  "FP16",
  "FP32",
  "FP64",
  "BYTES",
  "BF16",
] as const;

export const oipDatatypeSchema = z.enum(OIP_DATATYPES);
export type OipDatatype = z.infer<typeof oipDatatypeSchema>;

/** One input or output of the model; a symbolic dimension is a string (possibly ""). */
export const tensorSpecSchema = z.object({
  name: z.string().min(1),
  datatype: oipDatatypeSchema,
  shape: z.array(z.union([z.number().int().min(-1), z.string()])),
});
export type TensorSpec = z.infer<typeof tensorSpecSchema>;

const tensorDataSchema = z.array(z.union([z.number(), z.boolean(), z.string(), z.null()]));

const oipTensorSchema = z.object({
  name: z.string().min(1),
  shape: z.array(z.number().int().nonnegative()),
  datatype: oipDatatypeSchema,
  data: z.union([tensorDataSchema, z.array(z.unknown())]),
});

export const goldenSchema = z.object({
  tolerance: z
    .object({ absolute: z.number().nonnegative().default(1e-5), relative: z.number().nonnegative().default(1e-4) })
    .default({ absolute: 1e-5, relative: 1e-4 }),
  cases: z
    .array(
      z.object({
        request: z.object({
          inputs: z.array(oipTensorSchema).min(1),
          outputs: z.array(z.object({ name: z.string() })).optional(),
        }),
        response: z.object({ outputs: z.array(oipTensorSchema).min(1) }),
      }),
    )
    .min(1, "at least one case"),
});
export type Golden = z.infer<typeof goldenSchema>;

export const modelCardSchema = z.object({
  schemaVersion: z.literal(1),
  model: z.string(),
  version: z.string(),
  created: z.iso.datetime(),
  source: z.object({
    commit: z.string().optional(),
    pipeline: z.string().optional(),
    repository: z.string().optional(),
  }),
  inputs: z.array(tensorSpecSchema),
  outputs: z.array(tensorSpecSchema),
  golden: goldenSchema.optional(),
  /**
   * How nodes run this version; each field set wins over the node's CUTOVER_* setting (docs/NODE.md,
   * Instances). Optional: cards written before it existed still parse, and mean "the node decides".
   */
  execution: executionSettingsSchema.optional(),
});
export type ModelCard = z.infer<typeof modelCardSchema>;

function describe(error: z.ZodError): string {
  return error.issues.map((issue) => `${issue.path.join(".") || "(root)"}: ${issue.message}`).join("; ");
}

/** Parses cutover.json bytes; any problem is a {@link ModelError} naming the field. */
export function parseModelCard(bytes: string | Uint8Array): ModelCard {
  let json: unknown;
  try {
    json = JSON.parse(typeof bytes === "string" ? bytes : Buffer.from(bytes).toString("utf8"));
  } catch (error) {
    throw new ModelError(`cutover.json is not JSON: ${(error as Error).message}`, { cause: error });
  }
  const parsed = modelCardSchema.safeParse(json);
  if (!parsed.success) throw new ModelError(`cutover.json is invalid: ${describe(parsed.error)}`);
  return parsed.data;
}

/**
 * The signed card must name the model and version it was fetched as: signatures cover the files, not
 * the folder they were copied to, so a version signed as demo/v2 and copied to types/v9 verifies —
 * this check is what refuses it (IDENTITY_MISMATCH).
 */
export function assertCardIdentity(card: Pick<ModelCard, "model" | "version">, model: string, version: string): void {
  if (card.model === model && card.version === version) return;
  throw new VerificationError(
    ErrorCode.IdentityMismatch,
    `${model}/${version}: its signed cutover.json says it is ${card.model}/${card.version}; a signed version copied under another name is refused`,
  );
}

/** Parses a golden-vectors file (`push --golden FILE`) and checks it against the model's signature. */
export function parseGolden(
  bytes: string | Uint8Array,
  inputs: readonly TensorSpec[],
  outputs: readonly TensorSpec[],
): Golden {
  let json: unknown;
  try {
    json = JSON.parse(typeof bytes === "string" ? bytes : Buffer.from(bytes).toString("utf8"));
  } catch (error) {
    throw new ModelError(`golden vectors are not JSON: ${(error as Error).message}`, { cause: error });
  }
  const parsed = goldenSchema.safeParse(json);
  if (!parsed.success) throw new ModelError(`golden vectors are invalid: ${describe(parsed.error)}`);
  parsed.data.cases.forEach((goldenCase, index) => {
    checkTensors(`case ${index} request`, goldenCase.request.inputs, inputs);
    checkTensors(`case ${index} response`, goldenCase.response.outputs, outputs);
  });
  return parsed.data;
}

function checkTensors(
  where: string,
  tensors: readonly z.infer<typeof oipTensorSchema>[],
  specs: readonly TensorSpec[],
): void {
  for (const tensor of tensors) {
    const spec = specs.find((candidate) => candidate.name === tensor.name);
    if (spec === undefined) {
      throw new ModelError(
        `golden ${where}: ${tensor.name} is not one of the model's tensors (${specs.map((s) => s.name).join(", ")})`,
      );
    }
    if (spec.datatype !== tensor.datatype) {
      throw new ModelError(`golden ${where}: ${tensor.name} is ${tensor.datatype}, the model wants ${spec.datatype}`);
    }
    const fixedMismatch = spec.shape.some((dim, i) => typeof dim === "number" && dim > 0 && tensor.shape[i] !== dim);
    if (spec.shape.length !== tensor.shape.length || fixedMismatch) {
      throw new ModelError(
        `golden ${where}: ${tensor.name} has shape [${tensor.shape}], the model wants [${spec.shape}]`,
      );
    }
    let values: readonly unknown[];
    try {
      values = flattenTensorData(tensor.name, tensor.data, tensor.shape, `golden ${where}:`);
    } catch (error) {
      throw new ModelError(errorMessage(error), { cause: error });
    }
    const nested = values.findIndex(Array.isArray);
    if (nested >= 0) throw new ModelError(`golden ${where}: ${tensor.name}: value ${nested} is an array`);
  }
}
