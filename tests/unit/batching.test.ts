import * as ort from "onnxruntime-node";
import { describe, expect, it } from "vitest";
import { batchKey, isBatchable, splitOutputs, stackFeeds } from "../../inference/execution/batching.js";

const f32 = (values: number[], dims: number[]) => new ort.Tensor("float32", Float32Array.from(values), dims);

describe("dynamic batching helpers", () => {
  it("a model is batchable only when dimension 0 is symbolic on every input and output", () => {
    const spec = (shape: (number | string)[]) => ({ name: "t", datatype: "FP32" as const, shape });
    expect(isBatchable([spec(["batch", 4])], [spec(["batch", 3])])).toBe(true);
    expect(isBatchable([spec([-1, 4])], [spec(["", 3])])).toBe(true);
    expect(isBatchable([spec([1, 4])], [spec(["batch", 3])])).toBe(false);
    expect(isBatchable([spec(["batch", 4])], [spec([3])])).toBe(false);
    expect(isBatchable([spec([])], [spec(["batch"])])).toBe(false);
  });

  it("requests share a key only with the same datatypes, dimensions after the first, and requested outputs", () => {
    const key = (feeds: Record<string, ort.Tensor>, outputs?: string[]) => batchKey(feeds, outputs)?.key;
    const base = key({ x: f32([1, 2], [1, 2]) });
    expect(key({ x: f32([1, 2, 3, 4], [2, 2]) })).toBe(base);
    expect(key({ x: f32([1, 2, 3], [1, 3]) })).not.toBe(base);
    expect(key({ x: new ort.Tensor("float64", Float64Array.from([1, 2]), [1, 2]) })).not.toBe(base);
    expect(key({ x: f32([1, 2], [1, 2]) }, ["y"])).not.toBe(base);
    expect(batchKey({ x: f32([1, 2], [1, 2]), z: f32([1, 2], [2, 1]) }, undefined)).toBeNull();
    expect(batchKey({ x: f32([1, 2, 3, 4], [2, 2]) }, undefined)?.rows).toBe(2);
  });

  it("stacks along dimension 0 and splits the outputs back by each request's rows", () => {
    const stacked = stackFeeds([{ x: f32([1, 2], [1, 2]) }, { x: f32([3, 4, 5, 6], [2, 2]) }]);
    expect(stacked.x?.dims).toEqual([3, 2]);
    expect(Array.from(stacked.x?.data as Float32Array)).toEqual([1, 2, 3, 4, 5, 6]);
    const split = splitOutputs({ y: f32([10, 20, 30], [3, 1]) }, [1, 2]);
    expect(split?.map((result) => [result.y?.dims, Array.from(result.y?.data as Float32Array)])).toEqual([
      [[1, 1], [10]],
      [
        [2, 1],
        [20, 30],
      ],
    ]);
    expect(splitOutputs({ y: f32([1], [1]) }, [1, 2])).toBeNull();
  });
});
