/**
 * What a staged candidate is replayed on (inference/replay-inputs.ts): each kept request decoded as the
 * infer endpoint decodes it; stale ones (the active version no longer takes them) are skipped.
 */
import { describe, expect, it } from "vitest";
import type { TensorSpec } from "../../core/model-card.js";
import type { ReplaySample } from "../../inference/replay-buffer.js";
import { replayInputs } from "../../inference/replay-inputs.js";

const spec = (name: string, shape: TensorSpec["shape"]): TensorSpec => ({ name, datatype: "FP32", shape });
const sample = (body: unknown): ReplaySample => ({
  bytes: new TextEncoder().encode(JSON.stringify(body)),
  headerLength: undefined,
  version: "v1",
});
const request = (width: number, outputs?: string[]) => ({
  inputs: [{ name: "x", shape: [1, width], datatype: "FP32", data: new Array<number>(width).fill(0.5) }],
  ...(outputs ? { outputs: outputs.map((name) => ({ name })) } : {}),
});

const four = { inputs: [spec("x", ["batch", 4])], outputs: [spec("y", ["batch", 3])] };

describe("replay inputs", () => {
  it("decodes each request both versions take, for the candidate", () => {
    const { feeds, refusals } = replayInputs([sample(request(4)), sample(request(4, ["y"]))], four, four);
    expect(refusals).toEqual([]);
    expect(feeds.map((feed) => feed.x?.dims)).toEqual([
      [1, 4],
      [1, 4],
    ]);
  });

  it("a request the candidate refuses is a refusal with the endpoint's words; one asking for an output it lacks too", () => {
    const fixed = { inputs: [spec("x", [1, 4])], outputs: [spec("z", [1, 3])] };
    const twoRows = { inputs: [{ name: "x", shape: [2, 4], datatype: "FP32", data: new Array<number>(8).fill(1) }] };
    const { feeds, refusals } = replayInputs(
      [sample(twoRows), sample(request(4, ["y"])), sample(request(4))],
      four,
      fixed,
    );
    expect(refusals).toEqual(["input x: shape [2,4] does not fit the model's [1,4]", "unknown output(s): y"]);
    expect(feeds).toHaveLength(1);
  });

  it("skips a request the active version itself no longer takes (kept before a forced swap)", () => {
    const eight = { inputs: [spec("x", ["batch", 8])], outputs: [spec("y", ["batch", 3])] };
    const { feeds, refusals } = replayInputs([sample(request(4)), sample(request(8))], eight, eight);
    expect(refusals).toEqual([]);
    expect(feeds.map((feed) => feed.x?.dims)).toEqual([[1, 8]]);
  });
});
