import * as ort from "onnxruntime-node";
import { describe, expect, it } from "vitest";
import { binaryOutputs, binaryTensorData, splitInferBody, tensorBytes } from "../../core/binary-tensors.js";
import type { OipDatatype, TensorSpec } from "../../core/model-card.js";
import { decodeInferRequest } from "../../core/tensor-codec.js";

const bytesOf = (view: ArrayBufferView) => new Uint8Array(view.buffer, view.byteOffset, view.byteLength);

/** BYTES elements in binary form, written by hand: a u32 LE length before each. */
function bytesElements(...items: (string | Uint8Array)[]): Uint8Array {
  const parts = items.map((item) => (typeof item === "string" ? Buffer.from(item) : Buffer.from(item)));
  const out = Buffer.alloc(parts.reduce((sum, part) => sum + 4 + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.writeUInt32LE(part.length, offset);
    part.copy(out, offset + 4);
    offset += 4 + part.length;
  }
  return out;
}

type Values = ArrayBufferView & ArrayLike<unknown> & { readonly BYTES_PER_ELEMENT: number };

const FIXED: [OipDatatype, Values][] = [
  ["BOOL", Uint8Array.of(1, 0, 1)],
  ["UINT8", Uint8Array.of(0, 255, 7)],
  ["INT8", Int8Array.of(-128, 127, 0)],
  ["UINT16", Uint16Array.of(0, 65535, 9)],
  ["INT16", Int16Array.of(-32768, 32767, 1)],
  ["FP16", Uint16Array.of(0x3e00, 0xc000, 0x7c00)],
  ["UINT32", Uint32Array.of(0, 4294967295, 3)],
  ["INT32", Int32Array.of(-5, 7, 2147483647)],
  ["FP32", Float32Array.of(0.25, Number.NaN, Number.NEGATIVE_INFINITY)],
  ["UINT64", BigUint64Array.of(0n, 2n ** 64n - 1n, 5n)],
  ["INT64", BigInt64Array.of(-(2n ** 63n), 2n ** 63n - 1n, 3n)],
  ["FP64", Float64Array.of(0.1, 1e300, Number.POSITIVE_INFINITY)],
];

describe("binary tensor data in", () => {
  it.each(FIXED)("%s is a view of the request's bytes (no copy), values exact", (datatype, values) => {
    const body = new Uint8Array(64 + values.byteLength);
    body.set(bytesOf(values), 64);
    const data = binaryTensorData("x", datatype, [3], body.subarray(64)) as ArrayBufferView & ArrayLike<unknown>;
    expect(Array.from(data)).toEqual(Array.from(values));
    expect(data.buffer).toBe(body.buffer);
  });

  it.each(FIXED.filter(([, values]) => values.BYTES_PER_ELEMENT > 1))(
    "%s at an offset that is not a multiple of its size is copied into an aligned buffer",
    (datatype, values) => {
      const body = new Uint8Array(1 + values.byteLength);
      body.set(bytesOf(values), 1);
      const data = binaryTensorData("x", datatype, [3], body.subarray(1)) as ArrayBufferView & ArrayLike<unknown>;
      expect(Array.from(data)).toEqual(Array.from(values));
      expect(data.buffer).not.toBe(body.buffer);
      expect(data.byteOffset % values.BYTES_PER_ELEMENT).toBe(0);
    },
  );

  it("BYTES: 4-byte little-endian lengths, UTF-8 strings, empty elements", () => {
    expect(binaryTensorData("s", "BYTES", [2, 2], bytesElements("a", "", "héllo", "🙂"))).toEqual([
      "a",
      "",
      "héllo",
      "🙂",
    ]);
    expect(binaryTensorData("s", "BYTES", [0], new Uint8Array(0))).toEqual([]);
  });

  it.each([
    [
      "FP32 one byte short",
      "FP32",
      [2],
      new Uint8Array(7),
      /binary_data_size 7 does not match FP32 shape \[2\] \(8 bytes\)/,
    ],
    [
      "INT64 too long",
      "INT64",
      [1],
      new Uint8Array(9),
      /binary_data_size 9 does not match INT64 shape \[1\] \(8 bytes\)/,
    ],
    ["BOOL other than 0 or 1", "BOOL", [2], Uint8Array.of(1, 2), /BOOL element 1 is 2, not 0 or 1/],
    [
      "BYTES with fewer elements",
      "BYTES",
      [3],
      bytesElements("a", "b"),
      /holds 2 BYTES element\(s\), shape \[3\] wants 3/,
    ],
    ["BYTES with more", "BYTES", [1], bytesElements("a", "b"), /holds more than the 1 BYTES element/],
    ["a BYTES length past the end", "BYTES", [1], Uint8Array.of(9, 0, 0, 0, 65), /element 0 \(9 bytes\) runs past/],
    ["BYTES that are not UTF-8", "BYTES", [1], bytesElements(Uint8Array.of(0xff, 0xfe)), /element 0 is not UTF-8/],
    ["BYTES with a NUL", "BYTES", [1], bytesElements("a\0b"), /element 0 contains a NUL byte/],
  ] as const)("refused: %s", (_, datatype, shape, bytes, message) => {
    expect(() => binaryTensorData("x", datatype, shape, bytes)).toThrow(message);
  });
});

describe("the body: JSON header + binary", () => {
  const header = JSON.stringify({ inputs: [] });
  const body = Buffer.concat([Buffer.from(header), Buffer.from([1, 2, 3])]);

  it("splits at Inference-Header-Content-Length; without it the whole body is JSON", () => {
    const split = splitInferBody(body, String(header.length));
    expect(split.json).toEqual({ inputs: [] });
    expect(Array.from(split.binary)).toEqual([1, 2, 3]);
    expect(splitInferBody(Buffer.from(header), undefined).binary.byteLength).toBe(0);
    expect(() => splitInferBody(body, undefined)).toThrow("the request body is not JSON");
  });

  it.each([
    ["not a number", "12abc", /"12abc" is not a number of bytes/],
    ["negative", "-1", /is not a number of bytes/],
    ["empty", "", /is not a number of bytes/],
    ["0: no header", "0", /has no JSON header/],
    ["past the body", "1000", /1000 runs past the end of the body \(16 bytes\)/],
    ["cutting the JSON", "5", /the JSON header .* is not JSON/],
  ])("a header length %s is refused", (_, length, message) => {
    expect(() => splitInferBody(body, length)).toThrow(message);
  });
});

describe("decodeInferRequest with binary inputs", () => {
  const inputs: TensorSpec[] = [
    { name: "a", datatype: "FP32", shape: ["batch", 2] },
    { name: "b", datatype: "INT64", shape: [1] },
    { name: "c", datatype: "BYTES", shape: [1] },
  ];
  const a = Float32Array.of(1.5, -2);
  const b = BigInt64Array.of(-(2n ** 60n));
  const c = bytesElements("hi");
  const binary = Buffer.concat([bytesOf(a), bytesOf(b), c]);
  const request = (overrides: Record<string, unknown> = {}) => ({
    inputs: [
      { name: "a", shape: [1, 2], datatype: "FP32", parameters: { binary_data_size: 8 } },
      { name: "b", shape: [1], datatype: "INT64", parameters: { binary_data_size: 8 } },
      { name: "c", shape: [1], datatype: "BYTES", parameters: { binary_data_size: c.length } },
    ],
    ...overrides,
  });

  it("takes each input's bytes in order; JSON and binary inputs mix", () => {
    const { feeds } = decodeInferRequest(request(), inputs, binary);
    expect(Array.from(feeds.a?.data as Float32Array)).toEqual([1.5, -2]);
    expect(feeds.b?.data).toEqual(BigInt64Array.of(-(2n ** 60n)));
    expect(feeds.c?.data).toEqual(["hi"]);
    const mixed = request();
    mixed.inputs[1] = { name: "b", shape: [1], datatype: "INT64", data: [3] } as never;
    const withoutB = Buffer.concat([bytesOf(a), c]);
    expect(decodeInferRequest(mixed, inputs, withoutB).feeds.b?.data).toEqual(BigInt64Array.of(3n));
  });

  it("refuses bytes no input claims, sizes past the end, data and a size both, neither", () => {
    expect(() => decodeInferRequest(request(), inputs, Buffer.concat([binary, Buffer.of(0)]))).toThrow(
      /1 byte\(s\) of binary data follow the inputs' binary_data_size/,
    );
    expect(() => decodeInferRequest(request(), inputs, binary.subarray(0, 12))).toThrow(
      /input b: binary_data_size 8 runs past the end of the body \(4 bytes of binary data left\)/,
    );
    const both = request();
    Object.assign(both.inputs[0] ?? {}, { data: [1, 2] });
    expect(() => decodeInferRequest(both, inputs, binary)).toThrow(
      /input a: both data and parameters.binary_data_size/,
    );
    const neither = request();
    Object.assign(neither.inputs[0] ?? {}, { parameters: {} });
    expect(() => decodeInferRequest(neither, inputs, binary)).toThrow(/input a: no data/);
    const fraction = request();
    Object.assign(fraction.inputs[0] ?? {}, { parameters: { binary_data_size: "8" } });
    expect(() => decodeInferRequest(fraction, inputs, binary)).toThrow(/must be a whole number of bytes/);
  });
});

describe("binary tensor data out", () => {
  it("numeric outputs are their typed array's bytes; BYTES are length-prefixed", () => {
    const floats = Float32Array.of(1, Number.NaN);
    const bytes = tensorBytes(new ort.Tensor("float32", floats, [2]));
    expect(bytes.buffer).toBe(floats.buffer);
    expect(Array.from(bytes)).toEqual(Array.from(bytesOf(floats)));
    expect(Array.from(tensorBytes(new ort.Tensor("string", ["a", "é"], [2])))).toEqual(
      Array.from(bytesElements("a", "é")),
    );
  });

  it("an output's own binary_data wins over the request's binary_data_output", () => {
    const choose = binaryOutputs({
      parameters: { binary_data_output: true },
      outputs: [{ name: "y", parameters: { binary_data: false } }, { name: "z" }],
    });
    expect([choose("y"), choose("z"), choose("w")]).toEqual([false, true, true]);
    const some = binaryOutputs({ outputs: [{ name: "y", parameters: { binary_data: true } }] });
    expect([some("y"), some("z")]).toEqual([true, false]);
    expect(() => binaryOutputs({ outputs: [{ name: "y", parameters: { binary_data: "yes" } }] })).toThrow(
      /outputs\[0\].parameters.binary_data must be true or false/,
    );
  });
});
