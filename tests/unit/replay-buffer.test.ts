/**
 * The replay sample a node keeps per model (inference/replay-buffer.ts): bounded in requests and bytes
 * however large the requests and their outputs, copies rather than the socket's buffers, at most one
 * every 100 ms.
 */
import * as ort from "onnxruntime-node";
import { describe, expect, it } from "vitest";
import { MIN_INTERVAL_MS, ReplayBuffer } from "../../inference/replay-buffer.js";

function clock() {
  let now = 0;
  return { now: () => now, tick: (ms = MIN_INTERVAL_MS) => (now += ms) };
}

const body = (size: number, fill = 1) => new Uint8Array(size).fill(fill);

describe("the replay buffer", () => {
  it("keeps the most recent requests, at most maxRequests", () => {
    const time = clock();
    const buffer = new ReplayBuffer({ maxRequests: 3, maxBytes: 1_000 }, time.now);
    for (let i = 0; i < 5; i++) {
      buffer.record({ bytes: body(10, i), headerLength: undefined, version: "v1" });
      time.tick();
    }
    expect(buffer.snapshot().map((sample) => sample.bytes[0])).toEqual([2, 3, 4]);
    expect(buffer.heldBytes).toBe(30);
  });

  it("stays within maxBytes under large requests, and never keeps one larger than the bound alone", () => {
    const time = clock();
    const buffer = new ReplayBuffer({ maxRequests: 32, maxBytes: 1_024 }, time.now);
    for (const size of [600, 600, 2_000, 100, 900, 1_024]) {
      buffer.record({ bytes: body(size), headerLength: undefined, version: "v1" });
      expect(buffer.heldBytes).toBeLessThanOrEqual(1_024);
      time.tick();
    }
    expect(buffer.snapshot().map((sample) => sample.bytes.byteLength)).toEqual([1_024]);
  });

  it("keeps a copy (a socket's buffer may be reused), and at most one request per interval", () => {
    const time = clock();
    const buffer = new ReplayBuffer({ maxRequests: 8, maxBytes: 1_000 }, time.now);
    const bytes = body(4, 7);
    buffer.record({ bytes, headerLength: "2", version: "v1" });
    bytes.fill(0);
    buffer.record({ bytes: body(4, 9), headerLength: undefined, version: "v1" });
    expect(buffer.snapshot()).toEqual([{ bytes: body(4, 7), headerLength: "2", version: "v1" }]);
    time.tick();
    buffer.record({ bytes: body(4, 9), headerLength: undefined, version: "v1" });
    expect(buffer.snapshot()).toHaveLength(2);
  });

  it("keeps the outputs with their request, counted in the bound; a request whose outputs do not fit keeps none", () => {
    const time = clock();
    const buffer = new ReplayBuffer({ maxRequests: 32, maxBytes: 1_024 }, time.now);
    const outputs = (floats: number) => ({
      y: new ort.Tensor("float32", new Float32Array(floats).fill(0.5), [floats]),
    });
    const answered = outputs(100);
    buffer.record({ bytes: body(100), headerLength: undefined, version: "v1", outputs: answered });
    answered.y.data.fill(0);
    expect(buffer.heldBytes).toBe(500);
    expect(buffer.snapshot()[0]?.outputs?.y?.data).toEqual(new Float32Array(100).fill(0.5));
    time.tick();
    buffer.record({ bytes: body(400), headerLength: undefined, version: "v1", outputs: outputs(200) });
    expect(buffer.snapshot().map((sample) => sample.outputs === undefined)).toEqual([false, true]);
    expect(buffer.heldBytes).toBe(900);
    time.tick();
    buffer.record({ bytes: body(100), headerLength: undefined, version: "v1", outputs: outputs(100) });
    expect(buffer.heldBytes).toBeLessThanOrEqual(1_024);
    expect(buffer.snapshot().map((sample) => sample.bytes.byteLength)).toEqual([400, 100]);
    const strings = { label: new ort.Tensor("string", ["abc", "de"], [2]) };
    time.tick();
    buffer.record({ bytes: body(10), headerLength: undefined, version: "v1", outputs: strings });
    expect(buffer.heldBytes).toBe(920);
  });

  it("keeps nothing when off (maxRequests 0)", () => {
    const buffer = new ReplayBuffer({ maxRequests: 0, maxBytes: 1_000 });
    buffer.record({ bytes: body(4), headerLength: undefined, version: "v1" });
    expect(buffer.snapshot()).toEqual([]);
  });
});
