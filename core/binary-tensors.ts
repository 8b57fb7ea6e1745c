/**
 * The binary tensor data extension of the Open Inference Protocol, as Triton's clients speak it: an
 * infer body is a JSON header (its length in the `Inference-Header-Content-Length` HTTP header)
 * followed by raw tensor bytes, little-endian, row-major, in the order the inputs (or outputs) are
 * listed, each tensor's length in its `parameters.binary_data_size`. BOOL is one byte per element (0 or
 * 1), FP16 two bytes, BYTES a 4-byte little-endian length before each element.
 *
 * Numeric inputs become typed-array views of the request's own bytes (a copy only when the offset is
 * not a multiple of the element size: a typed array cannot start there), and outputs are written from
 * their tensor's typed array as it is: no per-element work either way, except BYTES (each element has
 * its own length) and BOOL (each byte checked to be 0 or 1: onnxruntime reads it as a C++ bool).
 */
import { endianness } from "node:os";
import type * as ort from "onnxruntime-node";
import { InputError } from "./errors.js";
import type { OipDatatype } from "./model-card.js";
import { elementCount } from "./tensor-data.js";

/** The HTTP header that gives the JSON header's length in bytes. */
export const INFERENCE_HEADER_LENGTH = "inference-header-content-length";

/** The parameter that marks a tensor as binary and gives its size in bytes. */
export const BINARY_DATA_SIZE = "binary_data_size";

// Typed arrays use the host's byte order; every platform Node ships for is little-endian.
if (endianness() !== "LE") throw new Error("binary tensor data needs a little-endian host");

type FixedDatatype = Exclude<OipDatatype, "BYTES" | "BF16">;

const ELEMENT_BYTES: Readonly<Record<FixedDatatype, number>> = {
  BOOL: 1,
  UINT8: 1,
  INT8: 1,
  UINT16: 2,
  INT16: 2,
  FP16: 2,
  UINT32: 4,
  INT32: 4,
  FP32: 4,
  UINT64: 8,
  INT64: 8,
  FP64: 8,
};

const isFixed = (datatype: OipDatatype): datatype is FixedDatatype => datatype in ELEMENT_BYTES;

/** A JSON header and the bytes after it. */
export interface InferBody {
  readonly json: unknown;
  /** The bytes after the JSON header; empty without `Inference-Header-Content-Length`. */
  readonly binary: Uint8Array;
}

const EMPTY = new Uint8Array(0);

function parseJson(bytes: Uint8Array, what: string): unknown {
  try {
    const text = Buffer.isBuffer(bytes)
      ? bytes.toString("utf8")
      : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("utf8");
    return JSON.parse(text);
  } catch {
    throw new InputError(`${what} is not JSON`);
  }
}

/**
 * Splits an infer body at the length `Inference-Header-Content-Length` gives (the whole body is JSON
 * without it), and parses the header: a length that is not a whole number, is 0 (no header) or runs
 * past the body is an InputError, as is a header that is not JSON.
 */
export function splitInferBody(body: Uint8Array, headerLength: string | undefined): InferBody {
  if (headerLength === undefined) return { json: parseJson(body, "the request body"), binary: EMPTY };
  if (!/^\s*\d+\s*$/.test(headerLength))
    throw new InputError(`Inference-Header-Content-Length ${JSON.stringify(headerLength)} is not a number of bytes`);
  const length = Number(headerLength);
  if (length === 0) throw new InputError("Inference-Header-Content-Length is 0: the request has no JSON header");
  if (length > body.byteLength)
    throw new InputError(
      `Inference-Header-Content-Length ${length} runs past the end of the body (${body.byteLength} bytes)`,
    );
  return {
    json: parseJson(body.subarray(0, length), "the JSON header (Inference-Header-Content-Length bytes)"),
    binary: body.subarray(length),
  };
}

/** The binary section of a request, taken tensor by tensor in the order the inputs are listed. */
export class BinarySection {
  private offset = 0;

  constructor(private readonly bytes: Uint8Array) {}

  /** The next `size` bytes for input `name`, or an InputError if fewer are left. */
  take(name: string, size: unknown): Uint8Array {
    if (typeof size !== "number" || !Number.isSafeInteger(size) || size < 0)
      throw new InputError(`input ${name}: parameters.binary_data_size must be a whole number of bytes`);
    const left = this.bytes.byteLength - this.offset;
    if (size > left)
      throw new InputError(
        `input ${name}: binary_data_size ${size} runs past the end of the body (${left} bytes of binary data left)`,
      );
    const taken = this.bytes.subarray(this.offset, this.offset + size);
    this.offset += size;
    return taken;
  }

  /** An InputError if bytes are left that no input claimed. */
  finish(): void {
    const left = this.bytes.byteLength - this.offset;
    if (left > 0)
      throw new InputError(
        `${left} byte(s) of binary data follow the inputs' binary_data_size (${this.offset} bytes in all)`,
      );
  }
}

/** `bytes` itself when it starts at a multiple of `size`, else a copy in a buffer of its own (offset 0). */
function aligned(bytes: Uint8Array, size: number): Uint8Array {
  return bytes.byteOffset % size === 0 ? bytes : new Uint8Array(bytes);
}

function bytesMismatch(name: string, datatype: string, shape: readonly number[], size: number, want: number) {
  return new InputError(
    `input ${name}: binary_data_size ${size} does not match ${datatype} shape [${shape}] (${want} bytes)`,
  );
}

const UTF8 = new TextDecoder("utf-8", { fatal: true });

/** BYTES elements: each a 4-byte little-endian length and that many bytes, as UTF-8 strings. */
function bytesElements(name: string, shape: readonly number[], bytes: Uint8Array): string[] {
  const count = elementCount(shape);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const strings = new Array<string>(count);
  let offset = 0;
  for (let i = 0; i < count; i++) {
    if (offset + 4 > bytes.byteLength)
      throw new InputError(
        `input ${name}: binary_data_size ${bytes.byteLength} holds ${i} BYTES element(s), shape [${shape}] wants ${count}`,
      );
    const length = view.getUint32(offset, true);
    offset += 4;
    if (offset + length > bytes.byteLength)
      throw new InputError(`input ${name}: BYTES element ${i} (${length} bytes) runs past its binary_data_size`);
    let text: string;
    try {
      text = UTF8.decode(bytes.subarray(offset, offset + length));
    } catch {
      throw new InputError(`input ${name}: BYTES element ${i} is not UTF-8 (onnxruntime-node takes strings)`);
    }
    // onnxruntime copies strings as C strings: everything after a NUL would be dropped silently.
    if (text.includes("\0")) throw new InputError(`input ${name}: BYTES element ${i} contains a NUL byte`);
    strings[i] = text;
    offset += length;
  }
  if (offset !== bytes.byteLength)
    throw new InputError(
      `input ${name}: binary_data_size ${bytes.byteLength} holds more than the ${count} BYTES element(s) of shape [${shape}]`,
    );
  return strings;
}

/**
 * A binary input's bytes as the data onnxruntime takes for `datatype`: a typed-array view for the
 * fixed-size datatypes, whose size must be exactly the shape's element count × the element size.
 */
export function binaryTensorData(
  name: string,
  datatype: OipDatatype,
  shape: readonly number[],
  bytes: Uint8Array,
): ort.Tensor.DataType {
  if (datatype === "BYTES") return bytesElements(name, shape, bytes);
  if (!isFixed(datatype)) throw new InputError(`input ${name}: datatype ${datatype} is not supported`);
  const size = ELEMENT_BYTES[datatype];
  const want = elementCount(shape) * size;
  if (bytes.byteLength !== want) throw bytesMismatch(name, datatype, shape, bytes.byteLength, want);
  const data = aligned(bytes, size);
  const { buffer, byteOffset } = data;
  const length = want / size;
  switch (datatype) {
    case "BOOL": {
      const invalid = data.findIndex((byte) => byte > 1);
      if (invalid >= 0) throw new InputError(`input ${name}: BOOL element ${invalid} is ${data[invalid]}, not 0 or 1`);
      return data;
    }
    case "UINT8":
      return data;
    case "INT8":
      return new Int8Array(buffer, byteOffset, length);
    case "UINT16":
    case "FP16":
      return new Uint16Array(buffer, byteOffset, length);
    case "INT16":
      return new Int16Array(buffer, byteOffset, length);
    case "UINT32":
      return new Uint32Array(buffer, byteOffset, length);
    case "INT32":
      return new Int32Array(buffer, byteOffset, length);
    case "FP32":
      return new Float32Array(buffer, byteOffset, length);
    case "UINT64":
      return new BigUint64Array(buffer, byteOffset, length);
    case "INT64":
      return new BigInt64Array(buffer, byteOffset, length);
    case "FP64":
      return new Float64Array(buffer, byteOffset, length);
  }
}

/** BYTES elements in binary form: a 4-byte little-endian length before each element's UTF-8 bytes. */
function encodeBytesElements(strings: readonly string[]): Uint8Array {
  let total = 0;
  for (const text of strings) total += 4 + Buffer.byteLength(text);
  const out = Buffer.allocUnsafe(total);
  let offset = 0;
  for (const text of strings) {
    const length = out.write(text, offset + 4);
    out.writeUInt32LE(length, offset);
    offset += 4 + length;
  }
  return out;
}

/** An output tensor's data in binary form: its typed array's own bytes (no copy), or BYTES elements. */
export function tensorBytes(tensor: ort.Tensor): Uint8Array {
  const data = tensor.data;
  if (Array.isArray(data)) return encodeBytesElements(data.map(String));
  const view = data as ArrayBufferView;
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

interface OutputChoices {
  readonly parameters?: Record<string, unknown> | undefined;
  readonly outputs?: readonly { name: string; parameters?: Record<string, unknown> | undefined }[] | undefined;
}

function flag(value: unknown, where: string): boolean | undefined {
  if (value === undefined || typeof value === "boolean") return value;
  throw new InputError(`${where} must be true or false`);
}

/**
 * Whether each output is answered in binary: its own `parameters.binary_data` when given, else the
 * request's `parameters.binary_data_output`, else JSON.
 */
export function binaryOutputs(request: OutputChoices): (name: string) => boolean {
  const all = flag(request.parameters?.binary_data_output, "parameters.binary_data_output") ?? false;
  let chosen: Map<string, boolean> | undefined;
  request.outputs?.forEach((output, i) => {
    const own = flag(output.parameters?.binary_data, `outputs[${i}].parameters.binary_data`);
    if (own === undefined) return;
    chosen ??= new Map();
    chosen.set(output.name, own);
  });
  // The common JSON request allocates nothing here.
  if (chosen === undefined) return all ? ALWAYS : NEVER;
  const choices = chosen;
  return (name) => choices.get(name) ?? all;
}

const ALWAYS = () => true;
const NEVER = () => false;
