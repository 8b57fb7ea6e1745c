/**
 * Where a loaded version runs (docs/NODE.md, Instances): `auto` keeps a model whose warm runs take
 * under a millisecond on the main thread and puts a slower one in workers; a number always means
 * workers, 0 the main thread. Every instance is warmed up on the version's golden vectors. A version
 * whose card sets `execution` runs with its card's settings, the node's filling in the rest.
 */
import { copyFile, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { afterAll, describe, expect, it } from "vitest";
import type { ExecutionSettings } from "../../core/execution-settings.js";
import { parseGolden } from "../../core/model-card.js";
import { readOnnxSignature } from "../../core/onnx-signature.js";
import { autoInstances, LoadedVersion } from "../../inference/loaded-version.js";
import { type RuntimeOptions, SessionOpener, versionPlan } from "../../inference/session-opener.js";
import { tempDir } from "../support/temp-dir.js";

const MODELS = join(import.meta.dirname, "../../models");
const work = await tempDir("cutover-placement-");
afterAll(() => work.cleanup());

/** A version folder (model.onnx, cutover.json with the committed golden vectors) of a built model. */
async function versionFolder(model: string, from: string, execution?: ExecutionSettings): Promise<string> {
  const dir = join(work.path, `${model}-${Math.random().toString(36).slice(2)}`);
  await mkdir(dir, { recursive: true });
  const source = join(MODELS, from);
  await copyFile(join(source, "model.onnx"), join(dir, "model.onnx"));
  const { inputs, outputs } = await readOnnxSignature(join(source, "model.onnx"));
  const golden = parseGolden(await readFile(join(source, "golden.json")), inputs, outputs);
  const card = {
    schemaVersion: 1,
    model,
    version: "v1",
    created: "2026-11-28T00:00:00.000Z",
    source: {},
    inputs,
    outputs,
    golden,
    ...(execution !== undefined ? { execution } : {}),
  };
  await writeFile(join(dir, "cutover.json"), JSON.stringify(card));
  return dir;
}

async function placed(model: string, from: string, instances: number | "auto") {
  // Workers at the test's priority: a niced worker beside a CPU-heavy process is preempted inside its
  // µs runs, and "auto" then sees a slow model (what it should do on such a box, but not what this tests).
  const sessions = new SessionOpener({ executionProviders: ["cpu"], intraOpThreads: 1, instances, workerNice: 0 });
  const loaded = await LoadedVersion.load(model, "v1", await versionFolder(model, from), sessions);
  try {
    expect(await loaded.warmUp()).toEqual({ mode: "golden" });
    return loaded.execution;
  } finally {
    await loaded.session.release();
  }
}

/** Loads and warms up a version whose card sets `execution`, on a node with `node`'s settings. */
async function loadedWith(node: Partial<RuntimeOptions>, execution: ExecutionSettings) {
  const sessions = new SessionOpener({ executionProviders: ["cpu"], intraOpThreads: 1, ...node });
  const loaded = await LoadedVersion.load(
    "demo",
    "v1",
    await versionFolder("demo", "demo-classifier/v1", execution),
    sessions,
  );
  try {
    expect(await loaded.warmUp()).toEqual({ mode: "golden" });
    return { execution: loaded.execution, settings: loaded.settings };
  } finally {
    await loaded.session.release();
  }
}

describe("where a version runs", () => {
  it("auto: the demo classifier (µs runs) on the main thread, the mixer (~35 ms runs) in workers", async () => {
    expect(await placed("demo", "demo-classifier/v1", "auto")).toEqual({ mode: "inline", instances: 1 });
    expect(await placed("mixer", "mixer/v1", "auto")).toEqual({ mode: "workers", instances: autoInstances(1) });
  });

  it("a number is workers whatever the model, 0 the main thread", async () => {
    expect(await placed("demo", "demo-classifier/v1", 2)).toEqual({ mode: "workers", instances: 2 });
    expect(await placed("demo", "demo-classifier/v1", 0)).toEqual({ mode: "inline", instances: 1 });
  });

  it("no session is created on the main thread for a version in workers: auto opens one only for a model it runs there", async () => {
    // Every session this thread creates goes through the opener's createSession: count them by model.
    const created: string[] = [];
    const sessions = (instances: number | "auto") =>
      new SessionOpener({
        executionProviders: ["cpu"],
        intraOpThreads: 1,
        instances,
        workerNice: 0,
        createSession: (model, options) => {
          created.push(typeof model === "string" ? model : "probe");
          return typeof model === "string"
            ? ort.InferenceSession.create(model, options)
            : ort.InferenceSession.create(model, options);
        },
      });
    const load = async (from: string, instances: number | "auto") => {
      const loaded = await LoadedVersion.load("m", "v1", await versionFolder("m", from), sessions(instances));
      await loaded.warmUp();
      await loaded.session.release();
      return loaded.execution.mode;
    };
    expect(await load("mixer/v1", "auto")).toBe("workers");
    expect(await load("demo-classifier/v1", 2)).toBe("workers");
    expect(created.filter((model) => model !== "probe")).toEqual([]);
    expect(await load("demo-classifier/v1", "auto")).toBe("inline");
    expect(await load("demo-classifier/v1", 0)).toBe("inline");
    expect(created.filter((model) => model !== "probe")).toHaveLength(2);
  });

  it("auto instances: the cores over the intra-op threads, at least one", () => {
    expect(autoInstances(1, 8)).toBe(8);
    expect(autoInstances(3, 8)).toBe(2);
    expect(autoInstances(undefined, 8)).toBe(1);
    expect(autoInstances(16, 8)).toBe(1);
  });
});

describe("a version's card sets its own execution (cutover.json `execution`)", () => {
  it("its instances win over the node's: 0 runs on the main thread of a node set to 2, 2 in workers on a node set to 0", async () => {
    expect(await loadedWith({ instances: 2 }, { instances: 0 })).toEqual({
      execution: { mode: "inline", instances: 1 },
      settings: { instances: 0, maxBatch: 8, batchDelayUs: 0 },
    });
    expect(await loadedWith({ instances: 0 }, { instances: 2, maxBatch: 4 })).toEqual({
      execution: { mode: "workers", instances: 2 },
      settings: { instances: 2, maxBatch: 4, batchDelayUs: 0 },
    });
  });

  it("field by field: what the card leaves out is the node's setting", async () => {
    expect(await loadedWith({ instances: 1, maxBatch: 16, batchDelayUs: 50 }, { maxBatch: 2 })).toEqual({
      execution: { mode: "workers", instances: 1 },
      settings: { instances: 1, maxBatch: 2, batchDelayUs: 50 },
    });
  });

  it("versionPlan: the card's fields over the node's plan; no card, the node's plan", () => {
    const node = new SessionOpener({ executionProviders: ["cpu"], instances: 3, maxBatch: 0, batchDelayUs: 10 })
      .execution;
    expect(versionPlan(node, undefined)).toEqual(node);
    expect(versionPlan(node, {})).toEqual(node);
    expect(versionPlan(node, { instances: "auto", batchDelayUs: 0 })).toEqual({
      ...node,
      instances: "auto",
      batchDelayUs: 0,
    });
  });
});
