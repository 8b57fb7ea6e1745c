/**
 * Open Inference Protocol v2 tensors ⇄ onnxruntime tensors. Requests are parsed from unknown: every
 * input must be one the model declares, with its datatype, a shape that fits (fixed dimensions
 * equal, same rank), data that matches the shape exactly (core/tensor-data.ts), and values the
 * datatype holds — finite after conversion (a JSON 1e39 is Infinity in FP32, 65520 in FP16),
 * integers in range, strings without NUL; anything else is an InputError (HTTP 400), never a crash
 * inside the runtime and never a value silently changed on its way in.
 */
import * as ort from "onnxruntime-node";
import { z } from "zod";
import { BINARY_DATA_SIZE, BinarySection, binaryTensorData } from "./binary-tensors.js";
import { InputError } from "./errors.js";
import { type OipDatatype, oipDatatypeSchema, type TensorSpec } from "./model-card.js";
import { describeValue, flattenTensorData } from "./tensor-data.js";

const tensorSchema = z.object({
  name: z.string().min(1),
  shape: z.array(z.number().int().nonnegative()).max(16),
  datatype: z.string(),
  parameters: z.record(z.string(), z.unknown()).optional(),
  /** Absent when the tensor's bytes follow the JSON header (`parameters.binary_data_size`). */
  data: z.array(z.unknown()).optional(),
});

export const inferRequestSchema = z.object({
  id: z.string().optional(),
  parameters: z.record(z.string(), z.unknown()).optional(),
  inputs: z.array(tensorSchema).min(1),
  outputs: z
    .array(z.object({ name: z.string(), parameters: z.record(z.string(), z.unknown()).optional() }))
    .min(1, "when given, name at least one output (leave it out for all)")
    .optional(),
});
export type InferRequest = z.infer<typeof inferRequestSchema>;

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

const isOptionalParameters = (value: unknown): boolean => value === undefined || isRecord(value);

/**
 * The common request, checked by hand: what the schema accepts, without its per-call cost (a
 * schema parse was a tenth of a small model's request time). Anything it does not recognise goes to
 * the schema, which accepts it or says exactly what is wrong; a property test holds this check to
 * "accepted here ⇒ accepted by the schema".
 */
export function isPlainInferRequest(body: unknown): body is InferRequest {
  if (!isRecord(body)) return false;
  const { id, parameters, inputs, outputs } = body;
  if ((id !== undefined && typeof id !== "string") || !isOptionalParameters(parameters)) return false;
  if (!Array.isArray(inputs) || inputs.length === 0) return false;
  for (const input of inputs) {
    if (!isRecord(input)) return false;
    const { name, shape, datatype, data } = input;
    if (typeof name !== "string" || name.length === 0 || typeof datatype !== "string") return false;
    if ((data !== undefined && !Array.isArray(data)) || !isOptionalParameters(input.parameters)) return false;
    if (!Array.isArray(shape) || shape.length > 16) return false;
    for (const dim of shape) if (!Number.isSafeInteger(dim) || dim < 0) return false;
  }
  if (outputs === undefined) return true;
  if (!Array.isArray(outputs) || outputs.length === 0) return false;
  return outputs.every(
    (output) => isRecord(output) && typeof output.name === "string" && isOptionalParameters(output.parameters),
  );
}

export interface OipTensor {
  name: string;
  shape: number[];
  datatype: OipDatatype;
  data: (number | boolean | string)[];
}

type OrtType = ort.Tensor.Type;

const OIP_TO_ORT: Readonly<Partial<Record<OipDatatype, OrtType>>> = {
  BOOL: "bool",
  UINT8: "uint8",
  INT8: "int8",
  UINT16: "uint16",
  INT16: "int16",
  UINT32: "uint32",
  INT32: "int32",
  UINT64: "uint64",
  INT64: "int64",
  FP16: "float16",
  FP32: "float32",
  FP64: "float64",
  BYTES: "string",
};

const INTEGER_RANGE: Readonly<Partial<Record<OipDatatype, [number, number]>>> = {
  UINT8: [0, 255],
  INT8: [-128, 127],
  UINT16: [0, 65_535],
  INT16: [-32_768, 32_767],
  UINT32: [0, 4_294_967_295],
  INT32: [-2_147_483_648, 2_147_483_647],
  UINT64: [0, Number.MAX_SAFE_INTEGER],
  INT64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
};

/** Rounds to the nearest integer, ties to even (IEEE 754's default rounding). */
function roundHalfEven(x: number): number {
  const floor = Math.floor(x);
  const rest = x - floor;
  if (rest > 0.5) return floor + 1;
  if (rest < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

/** Halfway between the largest half (65504) and 2^16: from here on a value rounds to infinity. */
const HALF_OVERFLOW = 65520;

/**
 * IEEE 754 half-precision bits of a number, rounded once from the double, to nearest with ties to
 * even (as numpy and onnxruntime convert); overflow → infinity, which the caller refuses.
 */
function toHalfBits(value: number): number {
  if (Number.isNaN(value)) return 0x7e00;
  const sign = value < 0 || Object.is(value, -0) ? 0x8000 : 0;
  const magnitude = Math.abs(value);
  if (magnitude >= HALF_OVERFLOW) return sign | 0x7c00;
  if (magnitude < 2 ** -14) return sign | roundHalfEven(magnitude * 2 ** 24); // subnormal (1024 = the smallest normal)
  let exponent = Math.floor(Math.log2(magnitude));
  if (2 ** exponent > magnitude) exponent--;
  else if (2 ** (exponent + 1) <= magnitude) exponent++;
  let mantissa = roundHalfEven((magnitude / 2 ** exponent - 1) * 1024);
  if (mantissa === 1024) {
    mantissa = 0;
    exponent++;
  }
  if (exponent + 15 >= 0x1f) return sign | 0x7c00;
  return sign | ((exponent + 15) << 10) | mantissa;
}

function fromHalfBits(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >>> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (mantissa / 1024);
  if (exponent === 0x1f) return mantissa ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * 2 ** (exponent - 15) * (1 + mantissa / 1024);
}

function checkShape(name: string, shape: readonly number[], spec: TensorSpec): void {
  const fits =
    shape.length === spec.shape.length &&
    spec.shape.every((dim, i) => typeof dim !== "number" || dim <= 0 || shape[i] === dim);
  if (!fits)
    throw new InputError(
      `input ${name}: shape [${shape}] does not fit the model's [${spec.shape.map((d) => (d === "" ? "?" : d))}]`,
    );
}

/** The largest finite value of each floating-point datatype (what a JSON number may be at most). */
const FLOAT_MAX: Readonly<Record<"FP16" | "FP32" | "FP64", number>> = {
  FP16: 65_504,
  FP32: 3.4028234663852886e38,
  FP64: Number.MAX_VALUE,
};

const HALF_EXPONENT = 0x7c00;

function notA(name: string, values: readonly unknown[], i: number, expected: string): InputError {
  return new InputError(`input ${name}: value ${i} (${describeValue(values[i])}) is not ${expected}`);
}

function outOfRange(name: string, values: readonly unknown[], i: number, kind: keyof typeof FLOAT_MAX): InputError {
  return new InputError(
    `input ${name}: value ${i} (${describeValue(values[i])}) is out of ${kind}'s range (±${FLOAT_MAX[kind]})`,
  );
}

/**
 * The values as the typed array onnxruntime takes, each checked while it is copied: the JSON type,
 * then the range. A float that rounds to ±Infinity in its datatype is refused, not passed on (the
 * model would answer with non-finite outputs for a request that only looked valid).
 */
function typedData(name: string, datatype: OipDatatype, values: readonly unknown[]): ort.Tensor.DataType {
  switch (datatype) {
    case "BYTES":
      return values.map((v, i) => {
        if (typeof v !== "string") throw notA(name, values, i, "a string");
        // onnxruntime copies strings as C strings: everything after a NUL would be dropped silently.
        if (v.includes("\0")) throw new InputError(`input ${name}: value ${i} contains a NUL character (\\u0000)`);
        return v;
      });
    case "BOOL":
      return Uint8Array.from(values, (v, i) => {
        if (typeof v !== "boolean") throw notA(name, values, i, "a boolean");
        return v ? 1 : 0;
      });
    case "FP16":
      return halfData(name, values);
    case "FP32":
    case "FP64":
      return floatData(name, datatype, values);
    default:
      return integerData(name, datatype, values);
  }
}

function halfData(name: string, values: readonly unknown[]): Uint16Array {
  const halves = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (typeof v !== "number") throw notA(name, values, i, "a number");
    const bits = toHalfBits(v);
    if ((bits & HALF_EXPONENT) === HALF_EXPONENT) throw outOfRange(name, values, i, "FP16");
    halves[i] = bits;
  }
  return halves;
}

/** Read back after the store: the conversion to float32 is what overflows (1e39 is a finite double). */
function floatData(name: string, datatype: "FP32" | "FP64", values: readonly unknown[]): Float32Array | Float64Array {
  const numbers = datatype === "FP32" ? new Float32Array(values.length) : new Float64Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (typeof v !== "number") throw notA(name, values, i, "a number");
    numbers[i] = v;
    if (!Number.isFinite(numbers[i])) throw outOfRange(name, values, i, datatype);
  }
  return numbers;
}

/** Integers for the integer datatypes, range-checked while copied (64-bit ones up to 2^53, JSON's exact limit). */
function integerData(name: string, datatype: OipDatatype, values: readonly unknown[]): ort.Tensor.DataType {
  const range = INTEGER_RANGE[datatype];
  if (range === undefined) throw new InputError(`input ${name}: datatype ${datatype} is not supported`);
  const [min, max] = range;
  const integerAt = (i: number): number => {
    const v = values[i];
    if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max)
      throw notA(name, values, i, `an integer in ${datatype}'s range [${min}, ${max}]`);
    return v;
  };
  const length = values.length;
  if (datatype === "UINT64" || datatype === "INT64") {
    const big = datatype === "UINT64" ? new BigUint64Array(length) : new BigInt64Array(length);
    for (let i = 0; i < length; i++) big[i] = BigInt(integerAt(i));
    return big;
  }
  const integers =
    datatype === "UINT8"
      ? new Uint8Array(length)
      : datatype === "INT8"
        ? new Int8Array(length)
        : datatype === "UINT16"
          ? new Uint16Array(length)
          : datatype === "INT16"
            ? new Int16Array(length)
            : datatype === "UINT32"
              ? new Uint32Array(length)
              : new Int32Array(length);
  for (let i = 0; i < length; i++) integers[i] = integerAt(i);
  return integers;
}

/**
 * The data of one input: from the binary section when it has `parameters.binary_data_size`, else
 * from its JSON `data`.
 */
function inputData(tensor: InferRequest["inputs"][number], datatype: OipDatatype, binary: BinarySection) {
  const size = tensor.parameters?.[BINARY_DATA_SIZE];
  if (size !== undefined) {
    if (tensor.data !== undefined)
      throw new InputError(`input ${tensor.name}: both data and parameters.binary_data_size are given`);
    return binaryTensorData(tensor.name, datatype, tensor.shape, binary.take(tensor.name, size));
  }
  if (tensor.data === undefined)
    throw new InputError(`input ${tensor.name}: no data (nor parameters.binary_data_size for binary data)`);
  return typedData(tensor.name, datatype, flattenTensorData(tensor.name, tensor.data, tensor.shape));
}

/**
 * Parses an infer request body against the model's inputs into onnxruntime feeds. `binary` is what
 * followed the JSON header (the binary tensor data extension): inputs with `binary_data_size` take
 * their bytes from it in order, and every byte must be taken.
 */
export function decodeInferRequest(
  body: unknown,
  inputs: readonly TensorSpec[],
  binary: Uint8Array = new Uint8Array(0),
): { request: InferRequest; feeds: Record<string, ort.Tensor> } {
  let request: InferRequest;
  if (isPlainInferRequest(body)) request = body;
  else {
    const parsed = inferRequestSchema.safeParse(body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new InputError(`invalid inference request: ${issue?.path.join(".") || "(root)"}: ${issue?.message}`);
    }
    request = parsed.data;
  }
  const feeds: Record<string, ort.Tensor> = {};
  const section = new BinarySection(binary);
  for (const tensor of request.inputs) {
    const spec = inputs.find((candidate) => candidate.name === tensor.name);
    if (spec === undefined)
      throw new InputError(
        `unknown input ${quoted([tensor.name])}; the model takes ${quoted(inputs.map((i) => i.name))}`,
      );
    if (feeds[tensor.name] !== undefined) throw new InputError(`input ${tensor.name} is given twice`);
    if (tensor.datatype !== spec.datatype) {
      if (!oipDatatypeSchema.safeParse(tensor.datatype).success)
        throw new InputError(`input ${tensor.name}: unknown datatype ${tensor.datatype}`);
      throw new InputError(`input ${tensor.name}: datatype ${tensor.datatype}, the model wants ${spec.datatype}`);
    }
    const datatype = spec.datatype;
    const ortType = OIP_TO_ORT[datatype];
    if (ortType === undefined)
      throw new InputError(`input ${tensor.name}: datatype ${datatype} is not supported by onnxruntime-node`);
    checkShape(tensor.name, tensor.shape, spec);
    feeds[tensor.name] = new ort.Tensor(ortType, inputData(tensor, datatype, section), tensor.shape);
  }
  section.finish();
  const missing = inputs.filter((spec) => feeds[spec.name] === undefined).map((spec) => spec.name);
  if (missing.length > 0) throw new InputError(`missing input(s): ${quoted(missing)}`);
  return { request, feeds };
}

/** Tensor names as a message quotes them: `"input", "state"` (a name is not prose). */
function quoted(names: readonly string[]): string {
  return names.map((name) => JSON.stringify(name)).join(", ");
}

/**
 * The outputs a request asks for by name (undefined: all of them); a name the model does not have is
 * refused (InputError), as the infer endpoint answers it.
 */
export function requestedOutputs(request: InferRequest, outputs: readonly TensorSpec[]): string[] | undefined {
  const wanted = request.outputs?.map((output) => output.name);
  const unknown = wanted?.filter((name) => !outputs.some((spec) => spec.name === name)) ?? [];
  if (unknown.length > 0) throw new InputError(`unknown output(s): ${quoted(unknown)}`);
  return wanted;
}

const ORT_TO_OIP: ReadonlyMap<string, OipDatatype> = new Map(
  (Object.entries(OIP_TO_ORT) as [OipDatatype, OrtType][]).map(([oip, ortType]) => [ortType, oip]),
);

/** The OIP datatype of an onnxruntime tensor type. */
export function oipType(type: string): OipDatatype {
  return ORT_TO_OIP.get(type) ?? "BYTES";
}

/**
 * NaN and ±Infinity, which JSON has no number for, as the strings the protobuf JSON mapping uses for
 * float and double ("NaN", "Infinity", "-Infinity"): `JSON.stringify` would write `null`, which a
 * client cannot tell from a missing value, and a model may answer -Infinity on purpose (a masked
 * log-probability). Python's `float()` and JavaScript's `Number()` read these strings back.
 */
function encodeNonFinite(data: (number | boolean | string)[]): void {
  for (let i = 0; i < data.length; i++) {
    const value = data[i];
    if (typeof value === "number" && !Number.isFinite(value))
      data[i] = Number.isNaN(value) ? "NaN" : value > 0 ? "Infinity" : "-Infinity";
  }
}

/**
 * An onnxruntime output tensor as an OIP response tensor (int64 as JSON numbers; non-finite floats as
 * strings, see encodeNonFinite).
 */
export function encodeTensor(name: string, tensor: ort.Tensor): OipTensor {
  const datatype = oipType(tensor.type);
  const raw = tensor.data;
  let data: (number | boolean | string)[];
  if (datatype === "FP16") data = Array.from(raw as Uint16Array, fromHalfBits);
  else if (datatype === "BOOL") data = Array.from(raw as Uint8Array, (v) => v !== 0);
  else if (raw instanceof BigInt64Array || raw instanceof BigUint64Array) data = Array.from(raw, (v) => Number(v));
  else if (Array.isArray(raw)) data = raw.map(String);
  else data = Array.from(raw as ArrayLike<number>);
  if (datatype === "FP16" || datatype === "FP32" || datatype === "FP64") encodeNonFinite(data);
  return { name, shape: tensor.dims.map(Number), datatype, data };
}
