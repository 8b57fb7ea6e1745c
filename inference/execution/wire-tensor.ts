/**
 * Tensors as they cross between the main thread and a session worker: type, dims and the typed
 * array, whose ArrayBuffer is transferred (moved, not copied) where it is whole and not shared.
 * Messages are parsed on arrival like anything else that crosses a boundary.
 */
import * as ort from "onnxruntime-node";
import { z } from "zod";

export interface WireTensor {
  readonly type: ort.Tensor.Type;
  readonly dims: number[];
  readonly data: ort.Tensor.DataType;
}

const TYPED_ARRAYS = [
  Float32Array,
  Float64Array,
  Int8Array,
  Int16Array,
  Int32Array,
  BigInt64Array,
  Uint8Array,
  Uint16Array,
  Uint32Array,
  BigUint64Array,
] as const;

function isTensorData(value: unknown): value is ort.Tensor.DataType {
  if (Array.isArray(value)) return value.every((item) => typeof item === "string");
  return TYPED_ARRAYS.some((kind) => value instanceof kind);
}

const TENSOR_TYPES: ReadonlySet<string> = new Set<ort.Tensor.Type>([
  "string",
  "float32",
  "float64",
  "float16",
  "bool",
  "int8",
  "int16",
  "int32",
  "int64",
  "uint8",
  "uint16",
  "uint32",
  "uint64",
  "int4",
  "uint4",
]);

function isTensorType(value: unknown): value is ort.Tensor.Type {
  return typeof value === "string" && TENSOR_TYPES.has(value);
}

export const wireTensorSchema = z.object({
  type: z.custom<ort.Tensor.Type>(isTensorType, "unknown tensor type"),
  dims: z.array(z.number().int().nonnegative()),
  data: z.custom<ort.Tensor.DataType>(isTensorData, "tensor data must be a typed array or strings"),
});

export const wireTensorsSchema = z.record(z.string(), wireTensorSchema);

/** A tensor's wire form; its buffer is added to `transfer` (copied first when a view or shared). */
export function toWire(tensor: ort.Tensor, transfer: ArrayBuffer[]): WireTensor {
  const data = tensor.data;
  if (Array.isArray(data)) return { type: tensor.type, dims: [...tensor.dims], data };
  const whole =
    data.buffer instanceof ArrayBuffer && data.byteOffset === 0 && data.byteLength === data.buffer.byteLength;
  const owned = whole && !transfer.includes(data.buffer) ? data : data.slice();
  transfer.push(owned.buffer as ArrayBuffer);
  return { type: tensor.type, dims: [...tensor.dims], data: owned };
}

export function tensorsToWire(tensors: Readonly<Record<string, ort.Tensor>>, transfer: ArrayBuffer[]) {
  const wire: Record<string, WireTensor> = {};
  for (const [name, tensor] of Object.entries(tensors)) wire[name] = toWire(tensor, transfer);
  return wire;
}

export function fromWire(wire: WireTensor): ort.Tensor {
  return new ort.Tensor(wire.type, wire.data, [...wire.dims]);
}

export function tensorsFromWire(wire: Readonly<Record<string, WireTensor>>): Record<string, ort.Tensor> {
  const tensors: Record<string, ort.Tensor> = {};
  for (const [name, tensor] of Object.entries(wire)) tensors[name] = fromWire(tensor);
  return tensors;
}
