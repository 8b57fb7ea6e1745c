/**
 * One model's reconciler against the in-memory state store and bus, with a stager that loads the demo
 * model from a local folder (or fails, for the versions a test says cannot be staged).
 */
import { copyFile, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ErrorCode, VerificationError } from "../../core/errors.js";
import { MemoryBus } from "../../core/memory/memory-bus.js";
import { MemoryFleetState } from "../../core/memory/memory-fleet-state.js";
import { parseReport, type ReportMessage } from "../../core/messages.js";
import { emptyModelState, type ModelState } from "../../core/model-state.js";
import { readOnnxSignature } from "../../core/onnx-signature.js";
import { DEFAULT_ANALYSIS } from "../../core/progressive.js";
import { AppliedStore } from "../../inference/applied-record.js";
import { DesiredVersions } from "../../inference/desired-versions.js";
import { LoadedVersion } from "../../inference/loaded-version.js";
import { ModelReconciler } from "../../inference/model-reconciler.js";
import { SessionOpener } from "../../inference/session-opener.js";
import type { Stager, StagingRequest } from "../../inference/version-stager.js";
import { DEMO } from "../support/registry-contract.js";
import { tempDir } from "../support/temp-dir.js";

const MODEL = "demo";
const work = await tempDir("cutover-reconciler-");
afterAll(() => work.cleanup());
const sessions = new SessionOpener({ executionProviders: ["cpu"] });

/** A version folder of the demo model (v1's weights) named `version`. */
async function versionFolder(version: string): Promise<string> {
  const dir = join(work.path, "versions", version);
  await mkdir(dir, { recursive: true });
  const onnx = join(DEMO, "v1/model.onnx");
  await copyFile(onnx, join(dir, "model.onnx"));
  const { inputs, outputs } = await readOnnxSignature(onnx);
  const card = { schemaVersion: 1, model: MODEL, version, created: "2026-11-27T00:00:00.000Z", source: {} };
  await writeFile(join(dir, "cutover.json"), JSON.stringify({ ...card, inputs, outputs }));
  return dir;
}

/** Loads versions from folders; the versions in `broken` fail as a corrupted download would. */
class FolderStager implements Stager {
  readonly staged: string[] = [];
  constructor(private readonly broken: ReadonlySet<string> = new Set()) {}

  async stage(request: StagingRequest): Promise<LoadedVersion> {
    request.onStep("fetching");
    if (this.broken.has(request.version)) {
      request.onStep("failed");
      throw new VerificationError(ErrorCode.DigestMismatch, `${request.version}: model.onnx does not match its digest`);
    }
    const loaded = await this.loadCached(request.model, request.version);
    this.staged.push(request.version);
    request.onStep("staged");
    return loaded;
  }

  async loadCached(model: string, version: string): Promise<LoadedVersion> {
    const loaded = await LoadedVersion.load(model, version, await versionFolder(version), sessions);
    await loaded.warmUp();
    return loaded;
  }
}

async function reconcilerWith(stager: Stager) {
  const fleet = new MemoryFleetState();
  const bus = new MemoryBus();
  const reports: ReportMessage[] = [];
  await bus.subscribe(fleet.keys.reportChannel(MODEL), (payload) => reports.push(parseReport(payload)));
  const lines: string[] = [];
  const reconciler = new ModelReconciler(MODEL, {
    nodeId: "n1",
    keepWarm: 1,
    fleet,
    bus,
    stager,
    applied: new AppliedStore(join(work.path, `cache-${Math.random()}`)),
    versions: new DesiredVersions(),
    served: () => undefined,
    residentChanged: () => undefined,
    statusChanged: () => undefined,
    splitChanged: () => undefined,
    pruneCache: () => undefined,
    log: (line) => lines.push(line),
  });
  const setState = (state: Partial<ModelState>) => fleet.states.set(MODEL, { ...emptyModelState(), ...state });
  return { reconciler, reports, setState, lines };
}

const rollout = (id: string, target: string, phase: "preparing" | "promoting") => ({
  id,
  target,
  phase,
  startedAt: "2026-11-27T00:00:00.000Z",
  by: "test",
});

describe("ModelReconciler", () => {
  it("converges on the state's active version, and a version that cannot be staged does not keep it from answering the rollout that replaces it", async () => {
    const { reconciler, reports, setState } = await reconcilerWith(new FolderStager(new Set(["v2"])));
    setState({ active: "v1", revision: 1 });
    await reconciler.resync();
    expect(reconciler.slot.active?.version).toBe("v1");

    setState({ active: "v2", revision: 2 });
    await reconciler.resync();
    expect(reconciler.status()).toMatchObject({ active: "v1", revision: 1, lastError: expect.stringMatching(/v2/) });

    setState({ active: "v2", revision: 2, rollout: rollout("r3", "v3", "preparing") });
    reconciler.command({ type: "prepare", model: MODEL, version: "v3", rolloutId: "r3" });
    await reconciler.resync();
    await expect.poll(() => reports.map((report) => report.type)).toEqual(["staged"]);
    expect(reports[0]).toMatchObject({ version: "v3", rolloutId: "r3" });
    expect(reconciler.slot.staged?.version).toBe("v3");
  });

  it("a promote naming a resident version swaps in the message handler itself, and is confirmed with a sub-millisecond stamp", async () => {
    const { reconciler, reports, setState } = await reconcilerWith(new FolderStager());
    setState({ active: "v1", revision: 1 });
    await reconciler.resync();
    reconciler.command({ type: "prepare", model: MODEL, version: "v2", rolloutId: "r2" });
    await expect.poll(() => reconciler.slot.staged?.version).toBe("v2");

    reconciler.command({ type: "promote", model: MODEL, version: "v2", revision: 2, rolloutId: "r2" });
    // No await between the message and the swap.
    expect([reconciler.slot.active?.version, reconciler.slot.revision]).toEqual(["v2", 2]);
    await expect.poll(() => reports.map((report) => report.type)).toEqual(["staged", "promoted"]);
    const promoted = reports[1];
    expect(promoted?.type === "promoted" && Math.abs(promoted.at - Date.now()) < 10_000).toBe(true);
  });

  it("an abort drops the staged version of its rollout; a resync without the rollout drops it too", async () => {
    const { reconciler, setState } = await reconcilerWith(new FolderStager());
    setState({ active: "v1", revision: 1 });
    await reconciler.resync();
    reconciler.command({ type: "prepare", model: MODEL, version: "v2", rolloutId: "r2" });
    await expect.poll(() => reconciler.slot.staged?.version).toBe("v2");
    const staged = reconciler.slot.staged;
    reconciler.command({ type: "abort", model: MODEL, rolloutId: "r2", reason: "another node failed" });
    await expect.poll(() => reconciler.slot.staged).toBeNull();
    expect(staged?.released).toBe(true);
    expect(reconciler.status().staged).toBeNull();

    reconciler.command({ type: "prepare", model: MODEL, version: "v3", rolloutId: "ghost" });
    await expect.poll(() => reconciler.slot.staged?.version).toBe("v3");
    await reconciler.resync();
    expect(reconciler.slot.staged).toBeNull();
  });

  it("requests made before a cycle starts share it; a prepare heard twice is answered once", async () => {
    const stager = new FolderStager();
    const { reconciler, reports, setState } = await reconcilerWith(stager);
    setState({ active: "v1", revision: 1, rollout: rollout("r2", "v2", "preparing") });
    const first = reconciler.resync();
    reconciler.command({ type: "prepare", model: MODEL, version: "v2", rolloutId: "r2" });
    reconciler.command({ type: "prepare", model: MODEL, version: "v2", rolloutId: "r2" });
    await Promise.all([first, reconciler.resync()]);
    expect(stager.staged).toEqual(["v1", "v2"]);
    await expect.poll(() => reports.filter((report) => report.type === "staged")).toHaveLength(1);
  });

  it("a split whose candidate is staged applies in the message handler and is answered once a seq; an abort ends it there too", async () => {
    const { reconciler, reports, setState } = await reconcilerWith(new FolderStager());
    setState({ active: "v1", revision: 1 });
    await reconciler.resync();
    reconciler.command({ type: "prepare", model: MODEL, version: "v2", rolloutId: "r2" });
    await expect.poll(() => reconciler.slot.staged?.version).toBe("v2");
    const split = { type: "split", model: MODEL, version: "v2", rolloutId: "r2", shadowPercent: 0 } as const;
    reconciler.command({ ...split, seq: 1, weight: 10 });
    // No await between the message and the split.
    expect([reconciler.slot.split?.seq, reconciler.slot.split?.candidate.version]).toEqual([1, "v2"]);
    reconciler.command({ ...split, seq: 1, weight: 10 });
    reconciler.command({ ...split, seq: 2, weight: 0 });
    expect(reconciler.slot.split?.weight).toBe(0);
    await expect
      .poll(() => reports.filter((r) => r.type === "weighted").map((r) => [r.seq, r.weight]))
      .toEqual([
        [1, 10],
        [2, 0],
      ]);
    expect(reconciler.status().split).toMatchObject({ rolloutId: "r2", seq: 2, candidate: "v2", weight: 0 });
    const candidate = reconciler.slot.staged;
    reconciler.command({ type: "abort", model: MODEL, rolloutId: "r2", reason: "rolled back" });
    expect(reconciler.slot.split).toBeNull();
    await expect.poll(() => candidate?.released).toBe(true);
    expect(reconciler.status().split).toBeUndefined();
  });

  it("a rollout read progressing stages its target, answers staged then weighted, and keeps it staged on later reads", async () => {
    const { reconciler, reports, setState } = await reconcilerWith(new FolderStager());
    const progressive = {
      strategy: "canary" as const,
      steps: [50],
      step: 0,
      weight: 50,
      seq: 4,
      bakeMs: 0,
      bakeUntil: null,
      manual: true,
      holding: null,
      shadowPercent: 0,
      baseline: "v1",
      analysis: DEFAULT_ANALYSIS,
      lastAnalysis: null,
    };
    setState({
      active: "v1",
      revision: 1,
      rollout: { ...rollout("r5", "v2", "preparing"), phase: "progressing", progressive },
    });
    await reconciler.resync();
    expect([reconciler.slot.active?.version, reconciler.slot.split?.candidate.version]).toEqual(["v1", "v2"]);
    await reconciler.resync();
    expect(reconciler.slot.staged?.version).toBe("v2");
    await expect.poll(() => reports.map((r) => `${r.type} ${r.rolloutId}`)).toEqual(["staged r5", "weighted r5"]);
    // The rollout ends in a promote: the split ends with the swap.
    setState({ active: "v2", revision: 2, rollout: null });
    await reconciler.resync();
    expect([reconciler.slot.active?.version, reconciler.slot.split]).toEqual(["v2", null]);
  });
});
