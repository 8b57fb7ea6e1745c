import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseGolden, parseModelCard, type TensorSpec } from "../../core/model-card.js";
import { readOnnxSignature } from "../../core/onnx-signature.js";

const DEMO = join(import.meta.dirname, "../../models/demo-classifier");
const inputs: TensorSpec[] = [{ name: "features", datatype: "FP32", shape: ["batch", 4] }];
const outputs: TensorSpec[] = [{ name: "probabilities", datatype: "FP32", shape: ["batch", 3] }];

function golden(input: Record<string, unknown>): string {
  return JSON.stringify({
    cases: [
      {
        request: { inputs: [{ name: "features", shape: [1, 4], datatype: "FP32", data: [1, 2, 3, 4], ...input }] },
        response: { outputs: [{ name: "probabilities", shape: [1, 3], datatype: "FP32", data: [0.1, 0.2, 0.7] }] },
      },
    ],
  });
}

describe("the ONNX signature", () => {
  it("is read from the model with symbolic dimensions kept", async () => {
    expect(await readOnnxSignature(join(DEMO, "v1/model.onnx"))).toEqual({ inputs, outputs });
    expect((await readOnnxSignature(join(DEMO, "v3/model.onnx"))).inputs[0]?.shape).toEqual(["batch", 8]);
  });
  it("a file that is not ONNX → MODEL_INVALID", async () => {
    await expect(readOnnxSignature(join(DEMO, "v1/labels.txt"))).rejects.toMatchObject({ code: "MODEL_INVALID" });
  });
});

describe("golden vectors", () => {
  it("the committed demo vectors fit their models, with the default tolerance filled in", async () => {
    const parsed = parseGolden(await readFile(join(DEMO, "v1/golden.json")), inputs, outputs);
    expect(parsed.cases[0]?.request.inputs[0]?.shape).toEqual([2, 4]);
    expect(parseGolden(golden({}), inputs, outputs).tolerance).toEqual({ absolute: 1e-5, relative: 1e-4 });
  });
  it.each([
    [{ name: "pixels" }, /pixels is not one of the model's tensors/],
    [{ datatype: "INT64" }, /is INT64, the model wants FP32/],
    [{ shape: [1, 5], data: [1, 2, 3, 4, 5] }, /has shape \[1,5\], the model wants \[batch,4\]/],
    [{ shape: [1, 4], data: [1, 2, 3] }, /features: shape \[1,4\] holds 4 values, got 3/],
    [{ shape: [1, 4], data: [[1], [2, 3, 4]] }, /features: data has length 2, dimension 0 of shape \[1,4\] is 1/],
    [{ shape: [1, 4], data: [1, [2], 3, 4] }, /features: value 1 is an array/],
    [{ datatype: "FP128" }, /golden vectors are invalid/],
  ])("%j is refused", (input, message) => {
    expect(() => parseGolden(golden(input), inputs, outputs)).toThrow(message);
  });
  it("data nested 10,000 deep is refused with MODEL_INVALID, not a stack overflow", () => {
    const deep = `${"[".repeat(10_000)}1${"]".repeat(10_000)}`;
    const text = golden({}).replace("[1,2,3,4]", deep);
    expect(() => parseGolden(text, inputs, outputs)).toThrow(
      expect.objectContaining({ code: "MODEL_INVALID", message: expect.stringMatching(/data\[0\] has length 1/) }),
    );
  });
  it("non-JSON is refused with MODEL_INVALID", () => {
    expect(() => parseGolden("{", inputs, outputs)).toThrow(expect.objectContaining({ code: "MODEL_INVALID" }));
  });
});

describe("cutover.json", () => {
  it("rejects a card missing its signature or with a bad date, naming the field", () => {
    const card = {
      schemaVersion: 1,
      model: "m",
      version: "v",
      created: "2026-01-01T00:00:00Z",
      source: {},
      inputs,
      outputs,
    };
    expect(parseModelCard(JSON.stringify(card)).inputs).toEqual(inputs);
    expect(() => parseModelCard(JSON.stringify({ ...card, inputs: undefined }))).toThrow(/inputs/);
    expect(() => parseModelCard(JSON.stringify({ ...card, created: "yesterday" }))).toThrow(/created/);
  });
});

describe("cutover.json execution settings", () => {
  const card = {
    schemaVersion: 1,
    model: "m",
    version: "v",
    created: "2026-01-01T00:00:00Z",
    source: {},
    inputs,
    outputs,
  };
  const withExecution = (execution: unknown) => JSON.stringify({ ...card, execution });

  it("are optional: a card written before them parses, with no execution (the node decides)", () => {
    expect(parseModelCard(JSON.stringify(card)).execution).toBeUndefined();
    expect(parseModelCard(withExecution({})).execution).toEqual({});
  });

  it.each([
    [{ instances: 0 }],
    [{ instances: "auto" }],
    [{ instances: 256, maxBatch: 0, batchDelayUs: 0 }],
    [{ maxBatch: 1024 }],
    [{ batchDelayUs: 1_000_000 }],
  ])("%j is kept as written", (execution) => {
    expect(parseModelCard(withExecution(execution)).execution).toEqual(execution);
  });

  it.each([
    [{ instance: 2 }, /execution: unknown key\(s\) instance: execution takes instances, maxBatch, batchDelayUs/],
    [{ instances: 2, max_batch: 4 }, /execution: unknown key\(s\) max_batch/],
    [{ instances: -1 }, /execution\.instances: .*>=0/],
    [{ instances: 1.5 }, /execution\.instances/],
    [{ instances: "many" }, /execution\.instances: expected "auto" or a count from 0 to 256/],
    [{ instances: 257 }, /execution\.instances: .*<=256/],
    [{ maxBatch: -1 }, /execution\.maxBatch/],
    [{ maxBatch: "8" }, /execution\.maxBatch/],
    [{ maxBatch: 1025 }, /execution\.maxBatch/],
    [{ batchDelayUs: 0.5 }, /execution\.batchDelayUs/],
    [{ batchDelayUs: 1_000_001 }, /execution\.batchDelayUs/],
    ["fast", /execution: .*expected object/],
  ])("%j is refused with MODEL_INVALID naming the field", (execution, message) => {
    expect(() => parseModelCard(withExecution(execution))).toThrow(
      expect.objectContaining({ code: "MODEL_INVALID", message: expect.stringMatching(message) }),
    );
  });
});
