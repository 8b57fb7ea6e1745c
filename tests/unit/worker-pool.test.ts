/**
 * The worker pool's queue (docs/NODE.md, Dynamic batching), on the demo classifier in a real worker:
 * a request that finds an idle instance runs at once, whatever the batch delay; queued requests run
 * together once a batch is full, without waiting for the delay.
 */
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { afterAll, describe, expect, it } from "vitest";
import { WorkerPool } from "../../inference/execution/worker-pool.js";
import { DEMO } from "../support/registry-contract.js";

const runs: number[] = [];
const pool = await WorkerPool.start({
  label: "demo/v1",
  setup: { modelPath: join(DEMO, "v1/model.onnx"), executionProviders: ["cpu"], intraOpThreads: 1 },
  instances: 1,
  batchable: true,
  maxBatch: 2,
  // Far beyond the test timeout: a request that waited for it would fail the test.
  batchDelayUs: 600_000_000,
  observer: { run: (requests) => runs.push(requests) },
});
afterAll(() => pool.release());

const features = (row: number[]) => ({ features: new ort.Tensor("float32", Float32Array.from(row), [1, 4]) });

describe("the worker pool's queue", () => {
  it("an idle instance runs a request at once; two queued requests fill a batch of 2 and run together", async () => {
    runs.length = 0;
    const rows = [
      [0.5, -1.2, 3.3, 0.1],
      [-2, 0.25, 1, 1.5],
      [1, 1, 1, 1],
    ];
    const answers = await Promise.all(rows.map((row) => pool.run(features(row))));
    expect(runs).toEqual([1, 2]);
    const alone: ort.Tensor.DataType[] = [];
    for (const row of rows) alone.push((await pool.run(features(row))).probabilities?.data ?? []);
    expect(runs).toEqual([1, 2, 1, 1, 1]);
    answers.forEach((answer, i) => {
      const expected = Array.from(alone[i] as Float32Array);
      Array.from(answer.probabilities?.data as Float32Array).forEach((value, k) => {
        expect(value).toBeCloseTo(expected[k] ?? Number.NaN, 6);
      });
    });
  });
});
