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

  it("refuses an empty outputs list (onnxruntime cannot run with no fetches): 400, not 500", () => {
    expect(() => decodeInferRequest({ ...request("FP32", [1, 2]), outputs: [] }, spec("FP32"))).toThrow(
      /outputs: when given, name at least one output/,
    );
  });

  it("refuses a missing input, a duplicate one, and a fixed dimension that differs", () => {
    const two: TensorSpec[] = [...spec("FP32"), { name: "y", datatype: "FP32", shape: [3] }];
    expect(() => decodeInferRequest(request("FP32", [1, 2]), two)).toThrow(/missing input\(s\): "y"/);
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

describe("data must match the shape exactly", () => {
  const fp32 = (shape: TensorSpec["shape"]) => spec("FP32", shape);

  it("nested row-major data of the right shape is read in row-major order", () => {
    const { feeds } = decodeInferRequest(request("FP32", [[[1, 2, 3]], [[4, 5, 6]]], [2, 1, 3]), fp32([2, 1, 3]));
    expect(Array.from(feeds.x?.data as Float32Array)).toEqual([1, 2, 3, 4, 5, 6]);
    const empty = decodeInferRequest(request("FP32", [[], []], [2, 0]), fp32([2, "n"]));
    expect(feeds.x?.dims).toEqual([2, 1, 3]);
    expect(empty.feeds.x?.dims).toEqual([2, 0]);
  });

  it.each([
    [
      "ragged rows with the right count in all",
      [[0.5], [-1.2, 3.3, 0.1]],
      [1, 4],
      /data has length 2, dimension 0 of shape \[1,4\] is 1/,
    ],
    ["a short row", [[1], [2, 3]], [2, 2], /data\[0\] has length 1, dimension 1 of shape \[2,2\] is 2/],
    ["a row flattened into its parent", [[1, 2, 3, 4]], [1, 2, 2], /data\[0\] has length 4, dimension 1/],
    ["a value where a row belongs", [[1, 2], 3], [2, 2], /data\[1\] is 3, shape \[2,2\] wants an array of 2/],
    [
      "nesting deeper than the rank",
      [[[1]], [[2]]],
      [2, 1],
      /data\[0\]\[0\] is nested deeper than shape \[2,1\] \(rank 2\)/,
    ],
    ["an array among flat values", [1, [2], 3, 4], [2, 2], /value 1 \(an array\) is not a number/],
  ])("refuses %s", (_name, data, shape, message) => {
    expect(() =>
      decodeInferRequest(
        request("FP32", data, shape),
        fp32(["batch", shape[1] ?? 1, shape[2] ?? 1].slice(0, shape.length)),
      ),
    ).toThrow(message);
  });

  it("10,000 levels of brackets (20 KB) → an InputError at once, not a stack overflow", () => {
    const depth = 10_000;
    const brackets = (inner: string) => `${"[".repeat(depth)}${inner}${"]".repeat(depth)}`;
    const body = JSON.parse(`{"inputs":[{"name":"x","shape":[1,1],"datatype":"FP32","data":${brackets("1")}}]}`);
    const started = performance.now();
    expect(() => decodeInferRequest(body, spec("FP32", ["batch", "n"]))).toThrow(
      expect.objectContaining({
        code: "INVALID_INPUT",
        message: "input x: data[0][0] is nested deeper than shape [1,1] (rank 2)",
      }),
    );
    const flat = JSON.parse(`{"inputs":[{"name":"x","shape":[1,2],"datatype":"FP32","data":[1,${brackets("2")}]}]}`);
    expect(() => decodeInferRequest(flat, spec("FP32"))).toThrow(/value 1 \(an array\) is not a number/);
    const nested = JSON.parse(
      `{"inputs":[{"name":"x","shape":[1,2],"datatype":"FP32","data":[[1,${brackets("2")}]]}]}`,
    );
    expect(() => decodeInferRequest(nested, spec("FP32"))).toThrow(
      /data\[0\]\[1\] is nested deeper than shape \[1,2\]/,
    );
    expect(performance.now() - started).toBeLessThan(1_000);
  });
});

describe("values the datatype cannot hold are refused, not changed", () => {
  it.each([
    [
      "FP32 1e400 (Infinity once parsed)",
      "FP32",
      "[0.5, 1e400]",
      /input x: value 1 \(Infinity\) is out of FP32's range/,
    ],
    ["FP32 -1e400", "FP32", "[-1e400, 0]", /value 0 \(-Infinity\) is out of FP32's range/],
    ["FP32 1e39 (finite in JS, Infinity in float32)", "FP32", "[1e39, 0]", /value 0 \(1e\+39\) is out of FP32's range/],
    ["FP32 -3.5e38", "FP32", "[0, -3.5e38]", /value 1 \(-3\.5e\+38\) is out of FP32's range/],
    ["FP16 65520 (Infinity in half)", "FP16", "[1, 65520]", /value 1 \(65520\) is out of FP16's range \(±65504\)/],
    ["FP16 -1e5", "FP16", "[-1e5, 1]", /value 0 \(-100000\) is out of FP16's range/],
    ["FP64 1e400", "FP64", "[1e400, 1]", /value 0 \(Infinity\) is out of FP64's range/],
    ["INT8 128", "INT8", "[0, 128]", /value 1 \(128\) is not an integer in INT8's range \[-128, 127\]/],
    ["INT8 -129", "INT8", "[-129, 0]", /value 0 \(-129\)/],
    ["UINT16 65536", "UINT16", "[65536, 0]", /value 0 \(65536\)/],
    ["INT16 -32769", "INT16", "[0, -32769]", /value 1 \(-32769\)/],
    ["UINT32 -1", "UINT32", "[-1, 0]", /value 0 \(-1\)/],
    ["INT32 2^31", "INT32", "[2147483648, 0]", /value 0 \(2147483648\)/],
    ["UINT64 -1", "UINT64", "[0, -1]", /value 1 \(-1\)/],
    ["UINT64 2^53 (not exact in JSON)", "UINT64", "[9007199254740992, 0]", /value 0 \(9007199254740992\)/],
    ["INT64 2^63-1 (read as 2^63)", "INT64", "[9223372036854775807, 0]", /value 0 \(9223372036854776000\)/],
    ["INT64 1e400", "INT64", "[1e400, 0]", /value 0 \(Infinity\)/],
    ["BYTES with a NUL", "BYTES", '["ok", "a\\u0000b"]', /input x: value 1 contains a NUL character/],
  ] as const)("%s", (_name, datatype, data, message) => {
    const body = JSON.parse(`{"inputs":[{"name":"x","shape":[1,2],"datatype":"${datatype}","data":${data}}]}`);
    expect(() => decodeInferRequest(body, spec(datatype))).toThrow(
      expect.objectContaining({ code: "INVALID_INPUT", message: expect.stringMatching(message) }),
    );
  });

  it("the largest finite values are accepted: FP32 rounding to its maximum, FP16 65504 and 65519", () => {
    const fp32 = decodeInferRequest(request("FP32", [3.4028235e38, -3.4028234663852886e38]), spec("FP32"));
    expect(Array.from(fp32.feeds.x?.data as Float32Array)).toEqual([3.4028234663852886e38, -3.4028234663852886e38]);
    const fp16 = decodeInferRequest(request("FP16", [65504, -65519]), spec("FP16"));
    expect(Array.from(fp16.feeds.x?.data as Uint16Array)).toEqual([0x7bff, 0xfbff]);
    const int64 = decodeInferRequest(request("INT64", [-(2 ** 53 - 1), 2 ** 53 - 1]), spec("INT64"));
    expect(Array.from(int64.feeds.x?.data as BigInt64Array)).toEqual([-(2n ** 53n - 1n), 2n ** 53n - 1n]);
  });
});

describe("FP16 inputs round once, to nearest with ties to even (as numpy does)", () => {
  it.each([
    [2049, 0x6800], // halfway between 2048 and 2050: the even 2048
    [2051, 0x6802], // halfway between 2050 and 2052: the even 2052
    [1.00048828125, 0x3c00], // halfway between 1 and 1 + 2^-10: 1
    [2 ** -25, 0x0000], // halfway between 0 and the smallest subnormal: 0
    [3 * 2 ** -25, 0x0002], // halfway between 1 and 2 subnormal units: 2
    [2 ** -14, 0x0400], // the smallest normal
    [65519.999, 0x7bff], // rounds to 65504
    [0.1, 0x2e66],
    [-0, 0x8000],
  ])("%d → %i", (value, bits) => {
    const { feeds } = decodeInferRequest(request("FP16", [value, 0]), spec("FP16"));
    const data = feeds.x?.data;
    expect(data).toBeInstanceOf(Uint16Array);
    expect(data instanceof Uint16Array ? data[0] : undefined).toBe(bits);
  });

  it("65520 and beyond round to infinity: refused", () => {
    expect(() => decodeInferRequest(request("FP16", [65520, 0]), spec("FP16"))).toThrow(/out of FP16's range/);
  });
});

describe("non-finite outputs", () => {
  it("are answered as the strings NaN, Infinity and -Infinity (JSON has no number for them), never null", () => {
    const fp32 = encodeTensor("p", new ort.Tensor("float32", Float32Array.from([Number.NaN, 1 / 0, -1 / 0, 0.5]), [4]));
    expect(JSON.parse(JSON.stringify(fp32)).data).toEqual(["NaN", "Infinity", "-Infinity", 0.5]);
    const fp16 = encodeTensor("h", new ort.Tensor("float16", Uint16Array.from([0x7e00, 0x7c00, 0xfc00, 0x3e00]), [4]));
    expect(fp16.data).toEqual(["NaN", "Infinity", "-Infinity", 1.5]);
    const fp64 = encodeTensor("d", new ort.Tensor("float64", Float64Array.from([-1 / 0, 2]), [2]));
    expect(fp64.data).toEqual(["-Infinity", 2]);
  });
});
