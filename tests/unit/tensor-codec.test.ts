import * as ort from "onnxruntime-node";
import { describe, expect, it } from "vitest";
import type { OipDatatype, TensorSpec } from "../../core/model-card.js";
import { decodeInferRequest, encodeTensor } from "../../core/tensor-codec.js";

function spec(datatype: OipDatatype, shape: TensorSpec["shape"] = ["batch", 2]): TensorSpec[] {
  return [{ name: "x", datatype, shape }];
}

function request(datatype: string, data: unknown[], shape = [1, 2]) {
  return { inputs: [{ name: "x", shape, datatype, data }] };
}

describe("OIP tensors into onnxruntime", () => {
  it.each([
    ["BOOL", [true, false], "bool", [1, 0]],
    ["UINT8", [0, 255], "uint8", [0, 255]],
    ["INT8", [-128, 127], "int8", [-128, 127]],
    ["UINT16", [0, 65535], "uint16", [0, 65535]],
    ["INT16", [-32768, 32767], "int16", [-32768, 32767]],
    ["UINT32", [0, 4294967295], "uint32", [0, 4294967295]],
    ["INT32", [-5, 7], "int32", [-5, 7]],
    ["UINT64", [0, 2 ** 40], "uint64", [0n, 2n ** 40n]],
    ["INT64", [-(2 ** 40), 3], "int64", [-(2n ** 40n), 3n]],
    ["FP16", [1.5, -2], "float16", [0x3e00, 0xc000]],
    ["FP32", [0.25, -1], "float32", [0.25, -1]],
    ["FP64", [0.1, 1e300], "float64", [0.1, 1e300]],
    ["BYTES", ["a", "bc"], "string", ["a", "bc"]],
  ] as const)("%s", (datatype, data, ortType, stored) => {
    const { feeds } = decodeInferRequest(request(datatype, [...data]), spec(datatype));
    expect(feeds.x?.type).toBe(ortType);
    expect(Array.from(feeds.x?.data as ArrayLike<unknown>)).toEqual(stored);
    expect(feeds.x?.dims).toEqual([1, 2]);
  });

  it.each([
    ["an integer out of range", "UINT8", [0, 256], /value 1 \(256\) is not an integer in UINT8's range/],
    ["a fraction for an integer type", "INT32", [1, 1.5], /value 1/],
    ["a number for BOOL", "BOOL", [1, 0], /is not a boolean/],
    ["a number for BYTES", "BYTES", ["a", 1], /is not a string/],
    ["BF16, which onnxruntime-node cannot hold", "BF16", [1, 2], /not supported by onnxruntime-node/],
  ] as const)("refuses %s", (_name, datatype, data, message) => {
    expect(() => decodeInferRequest(request(datatype, [...data]), spec(datatype))).toThrow(message);
  });

  it("refuses a missing input, a duplicate one, and a fixed dimension that differs", () => {
    const two: TensorSpec[] = [...spec("FP32"), { name: "y", datatype: "FP32", shape: [3] }];
    expect(() => decodeInferRequest(request("FP32", [1, 2]), two)).toThrow(/missing input\(s\): y/);
    const dup = { inputs: [request("FP32", [1, 2]).inputs[0], request("FP32", [1, 2]).inputs[0]] };
    expect(() => decodeInferRequest(dup, spec("FP32"))).toThrow(/given twice/);
    expect(() => decodeInferRequest(request("FP32", [1, 2, 3], [1, 3]), spec("FP32"))).toThrow(/does not fit/);
  });
});

describe("onnxruntime tensors into OIP", () => {
  it("keeps shape and values; FP16 and BOOL and INT64 read back as JSON values", () => {
    expect(encodeTensor("p", new ort.Tensor("float32", Float32Array.from([0.5, 0.25]), [1, 2]))).toEqual({
      name: "p",
      shape: [1, 2],
      datatype: "FP32",
      data: [0.5, 0.25],
    });
    expect(encodeTensor("h", new ort.Tensor("float16", Uint16Array.from([0x3e00, 0xc000]), [2])).data).toEqual([
      1.5, -2,
    ]);
    expect(encodeTensor("b", new ort.Tensor("bool", Uint8Array.from([1, 0]), [2])).data).toEqual([true, false]);
    expect(encodeTensor("i", new ort.Tensor("int64", BigInt64Array.from([-3n, 4n]), [2]))).toMatchObject({
      datatype: "INT64",
      data: [-3, 4],
    });
  });
});
