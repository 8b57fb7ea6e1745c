/**
 * Dynamic batching helpers: which requests may share a run, stacking their inputs along dimension 0
 * and splitting the outputs back. A model is batchable when the first dimension of every input and
 * output is symbolic; two requests share a run only when every input has the same datatype and the
 * same dimensions after the first, and they ask for the same outputs.
 */
import * as ort from "onnxruntime-node";
import type { TensorSpec } from "../../core/model-card.js";

/** True when dimension 0 of every input and output is symbolic (a string, or -1). */
export function isBatchable(inputs: readonly TensorSpec[], outputs: readonly TensorSpec[]): boolean {
  return [...inputs, ...outputs].every((spec) => {
    const first = spec.shape[0];
    return first !== undefined && (typeof first === "string" || first < 0);
  });
}

/** A request's batching key and its rows, or null when it cannot be batched (inputs disagree on rows). */
export function batchKey(
  feeds: Readonly<Record<string, ort.Tensor>>,
  outputs: readonly string[] | undefined,
): { key: string; rows: number } | null {
  let rows: number | undefined;
  const parts: string[] = [];
  for (const name of Object.keys(feeds).sort()) {
    const tensor = feeds[name];
    if (tensor === undefined || tensor.dims.length === 0) return null;
    const first = tensor.dims[0] ?? 0;
    if (rows !== undefined && rows !== first) return null;
    rows = first;
    parts.push(`${name}:${tensor.type}:${tensor.dims.slice(1).join("x")}`);
  }
  if (rows === undefined || rows === 0) return null;
  parts.push(`->${outputs === undefined ? "*" : [...outputs].sort().join(",")}`);
  return { key: parts.join("|"), rows };
}

/** Stacks the feeds of several requests (same key) along dimension 0. */
export function stackFeeds(requests: readonly Readonly<Record<string, ort.Tensor>>[]): Record<string, ort.Tensor> {
  const first = requests[0];
  if (first === undefined) throw new RangeError("stackFeeds: no requests");
  const stacked: Record<string, ort.Tensor> = {};
  for (const [name, head] of Object.entries(first)) {
    const parts = requests.map((feeds) => feeds[name] ?? head);
    const rows = parts.reduce((sum, tensor) => sum + (tensor.dims[0] ?? 0), 0);
    stacked[name] = new ort.Tensor(head.type, concatData(parts.map((tensor) => tensor.data)), [
      rows,
      ...head.dims.slice(1),
    ]);
  }
  return stacked;
}

function concatData(parts: readonly ort.Tensor.DataType[]): ort.Tensor.DataType {
  const head = parts[0];
  if (head === undefined) throw new RangeError("concatData: no parts");
  if (Array.isArray(head)) return parts.flatMap((part) => (Array.isArray(part) ? part : []));
  const total = parts.reduce((sum, part) => sum + part.length, 0);
  const out = new (head.constructor as new (length: number) => Exclude<ort.Tensor.DataType, string[]>)(total);
  let offset = 0;
  for (const part of parts) {
    if (Array.isArray(part)) throw new TypeError("concatData: mixed tensor data");
    setAt(out, part, offset);
    offset += part.length;
  }
  return out;
}

function setAt(
  target: Exclude<ort.Tensor.DataType, string[]>,
  source: Exclude<ort.Tensor.DataType, string[]>,
  offset: number,
): void {
  if (target instanceof BigInt64Array || target instanceof BigUint64Array) {
    if (!(source instanceof BigInt64Array || source instanceof BigUint64Array))
      throw new TypeError("concatData: mixed tensor data");
    (target as BigInt64Array).set(source as BigInt64Array, offset);
  } else {
    if (source instanceof BigInt64Array || source instanceof BigUint64Array)
      throw new TypeError("concatData: mixed tensor data");
    target.set(source, offset);
  }
}

/**
 * Splits a batched run's outputs back into one result per request (`rows` each), or returns null when
 * an output's dimension 0 is not the batch (then the requests must run one by one).
 */
export function splitOutputs(
  outputs: Readonly<Record<string, ort.Tensor>>,
  rows: readonly number[],
): Record<string, ort.Tensor>[] | null {
  const total = rows.reduce((sum, count) => sum + count, 0);
  const results = rows.map(() => ({}) as Record<string, ort.Tensor>);
  for (const [name, tensor] of Object.entries(outputs)) {
    if (tensor.dims[0] !== total) return null;
    const rowSize = tensor.dims.slice(1).reduce((product, dim) => product * dim, 1);
    let start = 0;
    rows.forEach((count, index) => {
      const data = tensor.data.slice(start * rowSize, (start + count) * rowSize) as ort.Tensor.DataType;
      const result = results[index];
      if (result !== undefined) result[name] = new ort.Tensor(tensor.type, data, [count, ...tensor.dims.slice(1)]);
      start += count;
    });
  }
  return results;
}

/**
 * The queue head and the later queued requests that may share its run (same key, at most `maxBatch`
 * rows in all): their indices in the queue, and the rows they hold. The head must have a key.
 */
export function pickBatch(
  queue: readonly { readonly batch: { readonly key: string; readonly rows: number } | null }[],
  maxBatch: number,
): { picked: number[]; rows: number } {
  const key = queue[0]?.batch?.key;
  const picked = [0];
  let rows = queue[0]?.batch?.rows ?? 0;
  for (let index = 1; index < queue.length && rows < maxBatch; index++) {
    const request = queue[index];
    if (request?.batch == null || request.batch.key !== key || rows + request.batch.rows > maxBatch) continue;
    picked.push(index);
    rows += request.batch.rows;
  }
  return { picked, rows };
}
