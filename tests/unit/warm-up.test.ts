import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type PushOptions, pushVersion } from "../../controller/publisher.js";
import { ArtifactLayout } from "../../core/artifact-layout.js";
import { ErrorCode } from "../../core/errors.js";
import { recordedTolerance, recordGolden } from "../../core/golden-recording.js";
import type { ModelCard, TensorSpec } from "../../core/model-card.js";
import { readOnnxSignature } from "../../core/onnx-signature.js";
import { ModelRegistry } from "../../core/registry.js";
import { FolderStore } from "../../core/store/index.js";
import { SyntheticInputError, syntheticFeeds } from "../../inference/synthetic-inputs.js";
import { warmUpSession } from "../../inference/warm-up.js";
import { testKeyPair } from "../support/signing.js";
import { tempDir } from "../support/temp-dir.js";

const MODELS = join(import.meta.dirname, "../../models");
const FRAMER = join(MODELS, "framer/v1/model.onnx");
const FRAMER_WRONG = join(MODELS, "framer/v2/model.onnx");
const SAMPLE = join(MODELS, "framer/sample.json");
const DEMO = join(MODELS, "demo-classifier/v1/model.onnx");

async function cardOf(path: string): Promise<ModelCard> {
  const { inputs, outputs } = await readOnnxSignature(path);
  return {
    schemaVersion: 1,
    model: "m",
    version: "v",
    created: new Date(0).toISOString(),
    source: {},
    inputs,
    outputs,
  };
}

const sessions: ort.InferenceSession[] = [];
async function session(path: string): Promise<ort.InferenceSession> {
  const created = await ort.InferenceSession.create(path, { logSeverityLevel: 4 });
  sessions.push(created);
  return created;
}
afterAll(async () => {
  await Promise.all(sessions.map((s) => s.release()));
});

describe("synthetic warm-up (no golden vectors): best effort", () => {
  it("a model that takes zeros is warmed up on synthetic inputs", async () => {
    const demo = await session(DEMO);
    const runs: number[][] = [];
    const result = await warmUpSession("demo/v1", await cardOf(DEMO), (feeds) => {
      runs.push([...(feeds.features?.dims ?? [])]);
      return demo.run(feeds);
    });
    expect(result).toEqual({ mode: "synthetic" });
    // The first guess (batch 1) worked and ran three times.
    expect(runs).toEqual([
      [1, 4],
      [1, 4],
      [1, 4],
    ]);
  });

  it("guesses symbolic dimensions by name across inputs (a leading name is a batch), unnamed ones by place", () => {
    const inputs: TensorSpec[] = [
      { name: "input", datatype: "FP32", shape: ["batch", "samples"] },
      { name: "state", datatype: "FP32", shape: [2, "batch", 128] },
      { name: "sr", datatype: "INT64", shape: [] },
      { name: "tokens", datatype: "INT64", shape: ["", ""] },
      { name: "flags", datatype: "BOOL", shape: [3] },
      { name: "text", datatype: "BYTES", shape: ["n"] }, // leading in its own input: a batch
    ];
    const feeds = syntheticFeeds(inputs, { label: "test", length: (leading) => (leading ? 1 : 32) });
    expect(
      Object.fromEntries(Object.entries(feeds).map(([name, tensor]) => [name, [tensor.type, tensor.dims]])),
    ).toEqual({
      input: ["float32", [1, 32]],
      state: ["float32", [2, 1, 128]],
      sr: ["int64", []],
      tokens: ["int64", [1, 32]],
      flags: ["bool", [3]],
      text: ["string", [1]],
    });
    expect(feeds.sr?.data).toEqual(new BigInt64Array(1));
  });

  it("a guess too large to allocate, or a type onnxruntime-node cannot build, is skipped, not fatal", async () => {
    const huge: TensorSpec[] = [{ name: "x", datatype: "FP32", shape: ["a", "b", "c", "d", "e", "f"] }];
    expect(() => syntheticFeeds(huge, { label: "test", length: () => 32 })).toThrow(SyntheticInputError);
    const runs: number[][] = [];
    const card = { ...(await cardOf(DEMO)), inputs: huge };
    const result = await warmUpSession("huge/v1", card, async (feeds) => {
      runs.push([...(feeds.x?.dims ?? [])]);
      return {};
    });
    // The first guess is 1×32⁵ = 33.5 M values: over the cap; the second too; the third (all 1) runs.
    expect(result).toEqual({ mode: "synthetic" });
    expect(runs).toEqual([
      [1, 1, 1, 1, 1, 1],
      [1, 1, 1, 1, 1, 1],
      [1, 1, 1, 1, 1, 1],
    ]);
    const bf16 = { ...card, inputs: [{ name: "x", datatype: "BF16" as const, shape: [1] }] };
    const cold = await warmUpSession("bf16/v1", bf16, async () => ({}));
    expect(cold.mode).toBe("cold");
    expect(cold.warning).toMatch(/no tensor type for BF16/);
  });

  it("a run that fails after a guess worked makes the version cold, never an unexpected error", async () => {
    let calls = 0;
    const result = await warmUpSession("flaky/v1", await cardOf(DEMO), async () => {
      calls++;
      if (calls === 2) throw new Error("out of memory\n  at somewhere");
      return {};
    });
    // Guess 1 fails on its second run; guesses 2 and 3 each run three times.
    expect(result).toEqual({ mode: "synthetic" });
    expect(calls).toBe(5);
  });

  it("a model that rejects every guess is staged cold, with the model's words in the warning", async () => {
    const framer = await session(FRAMER);
    let calls = 0;
    const result = await warmUpSession(
      "framer/v1",
      await cardOf(FRAMER),
      (feeds) => {
        calls++;
        return framer.run(feeds);
      },
      { symbolicDim: 64 },
    );
    expect(result.mode).toBe("cold");
    expect(calls).toBe(3);
    expect(result.warning).toMatch(/^framer\/v1 was staged cold: the model rejected every synthetic warm-up input/);
    expect(result.warning).toMatch(/Reshape/);
    expect(result.warning).toMatch(/--sample FILE/);
  });
});

describe("push --sample: golden vectors recorded from infer requests", () => {
  let card: ModelCard;
  beforeAll(async () => {
    card = await cardOf(FRAMER);
  });

  it("records the request and the model's outputs, then those outputs gate the warm-up", async () => {
    const golden = await recordGolden({
      modelPath: FRAMER,
      samplePaths: [SAMPLE],
      inputs: card.inputs,
      tolerance: recordedTolerance(card.outputs),
    });
    expect(golden.tolerance).toEqual({ absolute: 1e-4, relative: 1e-3 });
    expect(golden.cases).toHaveLength(1);
    const [recorded] = golden.cases;
    const sample = JSON.parse(await readFile(SAMPLE, "utf8")) as { inputs: unknown[] };
    expect(recorded?.request.inputs).toEqual(sample.inputs);
    // 640 samples, frames of sr/100 = 160 samples: 4 frames.
    expect(recorded?.response.outputs).toMatchObject([{ name: "energy", datatype: "FP32", shape: [1, 4] }]);
    const energies = recorded?.response.outputs[0]?.data as number[];
    // A louder first half: mean squares of a 0.5-amplitude tone ≈ 0.125, of a 0.1 one ≈ 0.005.
    expect(energies[0]).toBeCloseTo(0.125, 2);
    expect(energies[3]).toBeCloseTo(0.005, 3);

    const withGolden = { ...card, golden };
    const same = await session(FRAMER);
    expect(await warmUpSession("framer/v1", withGolden, (feeds) => same.run(feeds))).toEqual({ mode: "golden" });
    const wrong = await session(FRAMER_WRONG);
    await expect(warmUpSession("framer/v2", withGolden, (feeds) => wrong.run(feeds))).rejects.toMatchObject({
      code: ErrorCode.GoldenMismatch,
      message: expect.stringMatching(/^framer\/v2: golden case 0, output energy: value 0 is /),
    });
  });

  it("a sample the model rejects fails with the model's message; a malformed one says what is wrong", async () => {
    const dir = await tempDir();
    try {
      const short = join(dir.path, "short.json");
      const body = {
        inputs: [
          { name: "audio", shape: [1, 100], datatype: "FP32", data: Array(100).fill(0.1) },
          { name: "sr", shape: [], datatype: "INT64", data: [16000] },
        ],
      };
      await writeFile(short, JSON.stringify(body));
      const record = (path: string) =>
        recordGolden({ modelPath: FRAMER, samplePaths: [path], inputs: card.inputs, tolerance: recordedTolerance([]) });
      await expect(record(short)).rejects.toMatchObject({
        code: ErrorCode.ModelInvalid,
        message: expect.stringMatching(/^push: the model rejected sample .*short\.json: .*cannot be reshaped/),
      });
      const wrongType = join(dir.path, "wrong-type.json");
      await writeFile(
        wrongType,
        JSON.stringify({ inputs: [body.inputs[0], { name: "sr", shape: [], datatype: "FP32", data: [16000] }] }),
      );
      await expect(record(wrongType)).rejects.toMatchObject({
        code: ErrorCode.InvalidInput,
        message: expect.stringMatching(
          /is not a valid request for this model: input sr: datatype FP32, the model wants INT64/,
        ),
      });
      await expect(record(join(dir.path, "missing.json"))).rejects.toMatchObject({ code: ErrorCode.InvalidInput });
    } finally {
      await dir.cleanup();
    }
  });

  it("push: one tolerance for all cases — the looser of file and samples in each part, flags override a part", async () => {
    const dir = await tempDir();
    try {
      const registry = new ModelRegistry(new FolderStore(join(dir.path, "store")), new ArtifactLayout());
      const signingKey = testKeyPair().signer;
      const push = (version: string, extra: Partial<PushOptions>) =>
        pushVersion(registry, { path: join(MODELS, "framer/v1"), model: "framer", version, signingKey, ...extra });
      const handMade = join(dir.path, "golden.json");
      const recorded = await recordGolden({
        modelPath: FRAMER,
        samplePaths: [SAMPLE],
        inputs: card.inputs,
        tolerance: { absolute: 1e-6, relative: 0.5 },
      });
      await writeFile(handMade, JSON.stringify(recorded));
      const tolerance = async (version: string) => (await registry.readModelCard("framer", version)).golden?.tolerance;

      await push("both", { goldenPath: handMade, samplePaths: [SAMPLE] });
      expect(await tolerance("both")).toEqual({ absolute: 1e-4, relative: 0.5 });
      expect((await registry.readModelCard("framer", "both")).golden?.cases).toHaveLength(2);
      await push("file", { goldenPath: handMade, tolerance: { absolute: 0.01 } });
      expect(await tolerance("file")).toEqual({ absolute: 0.01, relative: 0.5 });
      await push("sampled", { samplePaths: [SAMPLE], tolerance: { relative: 0.02 } });
      expect(await tolerance("sampled")).toEqual({ absolute: 1e-4, relative: 0.02 });
      await expect(push("none", { tolerance: { absolute: 1 } })).rejects.toMatchObject({
        code: ErrorCode.InvalidInput,
        message: expect.stringMatching(/no golden vectors/),
      });
      expect(await registry.isPublished("framer", "none")).toBe(false);
    } finally {
      await dir.cleanup();
    }
  });

  it("half-precision outputs get half-precision room by default", () => {
    expect(recordedTolerance([{ name: "y", datatype: "FP16", shape: [1] }])).toEqual({
      absolute: 1e-2,
      relative: 1e-2,
    });
    expect(recordedTolerance([{ name: "y", datatype: "FP64", shape: [1] }])).toEqual({
      absolute: 1e-4,
      relative: 1e-3,
    });
  });
});
