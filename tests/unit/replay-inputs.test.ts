/**
 * What a staged candidate is replayed on (inference/replay-inputs.ts): each kept request decoded as the
 * infer endpoint decodes it; stale ones (the active version no longer takes them) are skipped.
 */
import * as ort from "onnxruntime-node";
import { describe, expect, it } from "vitest";
import type { TensorSpec } from "../../core/model-card.js";
import type { ReplaySample } from "../../inference/replay-buffer.js";
import { replayInputs } from "../../inference/replay-inputs.js";

const spec = (name: string, shape: TensorSpec["shape"]): TensorSpec => ({ name, datatype: "FP32", shape });
const sample = (body: unknown, version = "v1", outputs?: ReplaySample["outputs"]): ReplaySample => ({
  bytes: new TextEncoder().encode(JSON.stringify(body)),
  headerLength: undefined,
  version,
  ...(outputs !== undefined ? { outputs } : {}),
});
const request = (width: number, outputs?: string[]) => ({
  inputs: [{ name: "x", shape: [1, width], datatype: "FP32", data: new Array<number>(width).fill(0.5) }],
  ...(outputs ? { outputs: outputs.map((name) => ({ name })) } : {}),
});

const four = { inputs: [spec("x", ["batch", 4])], outputs: [spec("y", ["batch", 3])] };
const active = (card: typeof four, version = "v1") => ({ version, card });

describe("replay inputs", () => {
  it("decodes each request both versions take, for the candidate", () => {
    const { cases, refusals } = replayInputs([sample(request(4)), sample(request(4, ["y"]))], active(four), four);
    expect(refusals).toEqual([]);
    expect(cases.map(({ feeds }) => feeds.x?.dims)).toEqual([
      [1, 4],
      [1, 4],
    ]);
  });

  it("a request the candidate refuses is a refusal with the endpoint's words; one asking for an output it lacks too", () => {
    const fixed = { inputs: [spec("x", [1, 4])], outputs: [spec("z", [1, 3])] };
    const twoRows = { inputs: [{ name: "x", shape: [2, 4], datatype: "FP32", data: new Array<number>(8).fill(1) }] };
    const { cases, refusals } = replayInputs(
      [sample(twoRows), sample(request(4, ["y"])), sample(request(4))],
      active(four),
      fixed,
    );
    expect(refusals).toEqual(["input x: shape [2,4] does not fit the model's [1,4]", 'unknown output(s): "y"']);
    expect(cases).toHaveLength(1);
  });

  it("skips a request the active version itself no longer takes (kept before a forced swap)", () => {
    const eight = { inputs: [spec("x", ["batch", 8])], outputs: [spec("y", ["batch", 3])] };
    const { cases, refusals } = replayInputs([sample(request(4)), sample(request(8))], active(eight), eight);
    expect(refusals).toEqual([]);
    expect(cases.map(({ feeds }) => feeds.x?.dims)).toEqual([[1, 8]]);
  });

  it("carries the outputs a request was answered with only when the version still active answered it", () => {
    const answer = { y: new ort.Tensor("float32", new Float32Array([0.1, 0.2, 0.7]), [1, 3]) };
    const { cases } = replayInputs(
      [sample(request(4), "v1", answer), sample(request(4), "v0", answer), sample(request(4))],
      active(four),
      four,
    );
    expect(cases.map((one) => one.expected?.y?.data)).toEqual([answer.y.data, undefined, undefined]);
  });
});
