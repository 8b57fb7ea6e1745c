import { existsSync } from "node:fs";
import { copyFile, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { afterAll, describe, expect, it } from "vitest";
import { CutoverError, ErrorCode } from "../../core/errors.js";
import { parseGolden } from "../../core/model-card.js";
import { readOnnxSignature } from "../../core/onnx-signature.js";
import { LoadedVersion } from "../../inference/loaded-version.js";
import { probeModelBytes } from "../../inference/probe-model.js";
import { type CreateSession, SessionOpener } from "../../inference/session-opener.js";
import { DEMO } from "../support/registry-contract.js";
import { tempDir } from "../support/temp-dir.js";

/** The project installs onnxruntime-node without its CUDA provider files (.npmrc), so CUDA cannot start. */
const CUDA_INSTALLED = existsSync(
  join(
    import.meta.dirname,
    "../../node_modules/onnxruntime-node/bin/napi-v6",
    process.platform,
    process.arch,
    "libonnxruntime_providers_cuda.so",
  ),
);

const work = await tempDir("cutover-session-opener-");
afterAll(() => work.cleanup());

/** A version folder as a node has it after fetch and verify: model.onnx and its cutover.json (with golden vectors). */
async function versionFolder(name: string, model: Buffer | string = join(DEMO, "v1/model.onnx")): Promise<string> {
  const dir = join(work.path, name);
  await mkdir(dir, { recursive: true });
  const demo = join(DEMO, "v1/model.onnx");
  const { inputs, outputs } = await readOnnxSignature(demo);
  if (typeof model === "string") await copyFile(model, join(dir, "model.onnx"));
  else await writeFile(join(dir, "model.onnx"), model);
  const golden = parseGolden(await readFile(join(DEMO, "v1/golden.json")), inputs, outputs);
  const card = {
    schemaVersion: 1,
    model: "demo",
    version: name,
    created: "2026-11-27T00:00:00.000Z",
    source: {},
    inputs,
    outputs,
    golden,
  };
  await writeFile(join(dir, "cutover.json"), JSON.stringify(card));
  return dir;
}

async function loadFailure(promise: Promise<unknown>): Promise<CutoverError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  if (!(error instanceof CutoverError)) throw new Error(`expected a CutoverError, got ${String(error)}`);
  return error;
}

describe("the probe model", () => {
  it("is a valid one-node ONNX model: Identity on a [1] float tensor", async () => {
    const session = await ort.InferenceSession.create(probeModelBytes(), { executionProviders: ["cpu"] });
    try {
      expect([session.inputNames, session.outputNames]).toEqual([["x"], ["y"]]);
      const { y } = await session.run({ x: new ort.Tensor("float32", Float32Array.from([2.5]), [1]) });
      expect(Array.from((y?.data ?? []) as Float32Array)).toEqual([2.5]);
    } finally {
      await session.release();
    }
  });
});

describe.skipIf(CUDA_INSTALLED)("execution providers fall back in order (no CUDA provider library here)", () => {
  it("cuda,cpu: every version loads on cpu, passes its golden vectors; cuda is probed and logged once", async () => {
    const lines: string[] = [];
    const sessions = new SessionOpener({ executionProviders: ["cuda", "cpu"], log: (line) => lines.push(line) });
    const [v1, v2] = await Promise.all([versionFolder("fb-v1"), versionFolder("fb-v2")]);
    const loaded = await Promise.all([
      LoadedVersion.load("demo", "fb-v1", v1, sessions),
      LoadedVersion.load("demo", "fb-v2", v2, sessions),
    ]);
    const again = await LoadedVersion.load("demo", "fb-v1", v1, sessions);
    for (const version of [...loaded, again]) {
      expect(version.provider).toBe("cpu");
      await version.warmUp();
      await version.session.release();
    }
    expect([...sessions.unavailable().keys()]).toEqual(["cuda"]);
    expect(sessions.unavailable().get("cuda")).toMatch(/Failed to load shared library/);
    const probed = lines.filter((line) => line.startsWith("execution provider cuda is unavailable in this process"));
    expect(probed).toHaveLength(1);
    expect(probed[0]).toMatch(/Failed to load shared library; skipped until restart$/);
    expect(lines.filter((line) => line.startsWith("demo/fb-v1 runs on cpu"))).toHaveLength(2);
    expect(lines).toContainEqual(
      expect.stringMatching(/^demo\/fb-v2 runs on cpu; skipped cuda: unavailable in this process \(.*Failed to load/),
    );
  });

  it("cuda alone: LOAD_FAILED naming cuda and its error", async () => {
    const sessions = new SessionOpener({ executionProviders: ["cuda"] });
    const error = await loadFailure(
      LoadedVersion.load("demo", "only-cuda", await versionFolder("only-cuda"), sessions),
    );
    expect(error.code).toBe(ErrorCode.LoadFailed);
    expect(error.message).toMatch(
      /^demo\/only-cuda: no execution provider can load model\.onnx: cuda: unavailable in this process \(.*Failed to load shared library\)$/,
    );
  });

  it("a bad model on cuda,cpu names both providers, each with its own reason", async () => {
    const sessions = new SessionOpener({ executionProviders: ["cuda", "cpu"] });
    const dir = await versionFolder("both-bad", Buffer.from("this is not an ONNX model"));
    const error = await loadFailure(LoadedVersion.load("demo", "both-bad", dir, sessions));
    expect(error.code).toBe(ErrorCode.LoadFailed);
    expect(error.message).toMatch(
      /^demo\/both-bad: no execution provider can load model\.onnx: cuda: unavailable in this process \(.*\); cpu: .*Protobuf parsing failed/,
    );
  });
});

describe("a model that fails does not poison its provider", () => {
  it("cpu: a bad model is LOAD_FAILED naming cpu; the next good model loads on cpu", async () => {
    const sessions = new SessionOpener({ executionProviders: ["cpu"] });
    const bad = await versionFolder("bad", Buffer.from("this is not an ONNX model"));
    const error = await loadFailure(LoadedVersion.load("demo", "bad", bad, sessions));
    expect(error.code).toBe(ErrorCode.LoadFailed);
    expect(error.message).toMatch(
      /^demo\/bad: no execution provider can load model\.onnx: cpu: .*Protobuf parsing failed/,
    );
    expect(sessions.unavailable().size).toBe(0);
    const good = await LoadedVersion.load("demo", "good", await versionFolder("good"), sessions);
    expect(good.provider).toBe("cpu");
    await good.session.release();
  });

  it("a provider that starts but fails on one model falls back for that model only, and is tried again for the next", async () => {
    // A stand-in "cuda" that starts (it opens the probe model) but runs out of memory on one model;
    // its sessions are real CPU sessions.
    const calls: { model: string; providers: string[] }[] = [];
    const createSession: CreateSession = async (model, options) => {
      const providers = (options.executionProviders ?? []).map(String);
      calls.push({ model: typeof model === "string" ? model : "probe", providers });
      if (providers[0] === "cuda" && typeof model === "string" && model.includes("too-big")) {
        throw new Error("CUDA failure 2: out of memory");
      }
      return typeof model === "string"
        ? ort.InferenceSession.create(model, { executionProviders: ["cpu"] })
        : ort.InferenceSession.create(model, { executionProviders: ["cpu"] });
    };
    const lines: string[] = [];
    // The stand-in provider exists only in this thread: the sessions serve here (instances 0), not in workers.
    const sessions = new SessionOpener({
      executionProviders: ["cuda", "cpu"],
      createSession,
      instances: 0,
      log: (line) => lines.push(line),
    });
    const big = await LoadedVersion.load("demo", "too-big", await versionFolder("too-big"), sessions);
    const next = await LoadedVersion.load("demo", "next", await versionFolder("next"), sessions);
    expect([big.provider, next.provider]).toEqual(["cpu", "cuda"]);
    expect(sessions.unavailable().size).toBe(0);
    expect(calls.map(({ model, providers }) => `${model.split("/").at(-2) ?? model} ${providers.join(",")}`)).toEqual([
      "probe cuda",
      "probe cpu",
      "too-big cuda,cpu",
      "too-big cpu",
      "next cuda,cpu",
    ]);
    expect(lines).toContain("demo/too-big: cuda cannot load model.onnx: CUDA failure 2: out of memory");
    expect(lines).toContain("demo/too-big runs on cpu; skipped cuda: CUDA failure 2: out of memory");
    await Promise.all([big.session.release(), next.session.release()]);
  });
});

describe("the session opener's options", () => {
  it.each([
    [[], "executionProviders: name at least one provider, e.g. cpu"],
    [["cuda", "cpu", "cuda"], "executionProviders: cuda is listed twice"],
  ])("%j is refused: %s", (executionProviders, message) => {
    expect(() => new SessionOpener({ executionProviders })).toThrow(message);
  });

  it("intraOpThreads must be a positive integer", () => {
    expect(() => new SessionOpener({ executionProviders: ["cpu"], intraOpThreads: 0 })).toThrow(
      "intraOpThreads: 0 is not a positive integer",
    );
  });
});
