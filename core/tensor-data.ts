/**
 * The `data` of an Open Inference Protocol tensor, flat or nested row-major, checked against its shape.
 * Nested data must match the shape exactly: the outer array as long as the first dimension, each array
 * at level d as long as dimension d, values only at the last level. So nesting is never deeper than the
 * rank (at most 16): ten thousand brackets are refused at level rank + 1 instead of overflowing the stack
 * (`Array.prototype.flat(Infinity)` recurses once per level), and ragged rows that happen to hold the
 * right number of values in all are refused instead of being read as some other tensor.
 */
import { InputError } from "./errors.js";

/** The number of values a shape holds. */
export function elementCount(shape: readonly number[]): number {
  let count = 1;
  for (let i = 0; i < shape.length; i++) count *= shape[i] ?? 0;
  return count;
}

/**
 * A value as an error message may quote it: arrays and objects by kind only (one may be nested ten
 * thousand deep, which `JSON.stringify` cannot write), long strings cut.
 */
export function describeValue(value: unknown): string {
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object" && value !== null) return "an object";
  if (typeof value === "string") return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  return String(value);
}

function indexPath(indices: readonly number[], depth: number): string {
  return indices
    .slice(0, depth)
    .map((i) => `[${i}]`)
    .join("");
}

/**
 * The values of `data` in row-major order, or an InputError that names the tensor (`${kind} ${name}`,
 * put together only for an error: this runs on every infer call) and says where the data leaves the
 * shape. Flat data (its first element is not an array) is returned
 * as it is when its length is the shape's element count; whether each element is a value of the right
 * type is the caller's check. Nested data is walked with an explicit stack, one level per dimension.
 */
export function flattenTensorData(
  name: string,
  data: readonly unknown[],
  shape: readonly number[],
  kind = "input",
): readonly unknown[] {
  if (!Array.isArray(data[0])) {
    const expected = elementCount(shape);
    if (data.length !== expected)
      throw new InputError(`${kind} ${name}: shape [${shape}] holds ${expected} values, got ${data.length}`);
    return data;
  }
  const label = `${kind} ${name}`;
  const rank = shape.length;
  const deeper = (depth: number, indices: readonly number[]) =>
    new InputError(`${label}: data${indexPath(indices, depth)} is nested deeper than shape [${shape}] (rank ${rank})`);
  const ragged = (depth: number, indices: readonly number[], length: number) =>
    new InputError(
      `${label}: data${indexPath(indices, depth)} has length ${length}, dimension ${depth} of shape [${shape}] is ${shape[depth]}`,
    );
  const indices: number[] = new Array<number>(rank).fill(0);
  if (rank === 0) throw deeper(0, indices);
  if (data.length !== shape[0]) throw ragged(0, indices, data.length);
  const levels: (readonly unknown[])[] = [data];
  const values: unknown[] = [];
  let depth = 0;
  // indices[d] is the element of level d being read; a finished level moves its parent to the next.
  while (depth >= 0) {
    const level = levels[depth] ?? [];
    const at = indices[depth] ?? 0;
    if (depth < rank - 1 && at < level.length) {
      const child = level[at];
      if (!Array.isArray(child))
        throw new InputError(
          `${label}: data${indexPath(indices, depth + 1)} is ${describeValue(child)}, shape [${shape}] wants an array of ${shape[depth + 1]} there`,
        );
      if (child.length !== shape[depth + 1]) throw ragged(depth + 1, indices, child.length);
      depth++;
      levels[depth] = child;
      indices[depth] = 0;
      continue;
    }
    if (depth === rank - 1) {
      for (let i = 0; i < level.length; i++) {
        const value = level[i];
        if (Array.isArray(value)) {
          indices[depth] = i;
          throw deeper(rank, indices);
        }
        values.push(value);
      }
    }
    depth--;
    if (depth >= 0) indices[depth] = (indices[depth] ?? 0) + 1;
  }
  return values;
}
