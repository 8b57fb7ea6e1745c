import { mkdtempSync } from "node:fs";
import { readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { MemoryRolloutStore } from "../../controller/state/memory-rollout-store.js";
import { MemoryDownloadSlots } from "../../core/memory/memory-download-slots.js";
import { MemoryFleetState } from "../../core/memory/memory-fleet-state.js";
import { StateFile } from "../../core/memory/state-file.js";
import type { HistoryEntry } from "../../core/model-state.js";
import { stateContract } from "../support/state-contract.js";
import { tempDir } from "../support/temp-dir.js";

stateContract("in-memory state (the embedded default)", () => {
  const fleet = new MemoryFleetState();
  return { fleet, store: new MemoryRolloutStore(fleet), slots: new MemoryDownloadSlots() };
});

const contractDir = mkdtempSync(join(tmpdir(), "cutover-state-file-"));
let contractFiles = 0;
afterAll(() => rm(contractDir, { recursive: true, force: true }));
stateContract("in-memory state saved to a file (cutover dev)", () => {
  const fleet = new MemoryFleetState(new StateFile(join(contractDir, `state-${++contractFiles}.json`)));
  return { fleet, store: new MemoryRolloutStore(fleet), slots: new MemoryDownloadSlots() };
});

describe("the state file of cutover dev", () => {
  const dirs: Awaited<ReturnType<typeof tempDir>>[] = [];
  afterAll(async () => {
    await Promise.all(dirs.map((dir) => dir.cleanup()));
  });
  async function file(): Promise<StateFile> {
    const dir = await tempDir();
    dirs.push(dir);
    return new StateFile(join(dir.path, "state.json"));
  }
  const begin = { target: "v1", by: "ops", lockTtlMs: 30_000 };

  it("is written on every change and read back, history included; a rollout left in it is dropped", async () => {
    const stateFile = await file();
    const fleet = await MemoryFleetState.open(stateFile);
    const store = new MemoryRolloutStore(fleet);
    const lease = await store.begin("demo", begin);
    expect((await stateFile.read())?.states.get("demo")?.rollout?.id).toBe(lease.rollout.id);
    const promoted = await store.promote(lease);
    const entry: HistoryEntry = {
      rolloutId: lease.rollout.id,
      action: "activate",
      by: "ops",
      startedAt: lease.rollout.startedAt,
      finishedAt: new Date().toISOString(),
      from: null,
      to: "v1",
      outcome: "promoted",
      revision: promoted.revision,
      nodes: [],
    };
    await store.finish(lease, entry);
    await store.begin("demo", { ...begin, target: "v2" });

    const reopened = await MemoryFleetState.open(stateFile);
    expect(await reopened.getModelState("demo")).toMatchObject({ active: "v1", revision: 1, rollout: null });
    expect(await reopened.history("demo")).toEqual([entry]);
    // Its lock was not saved: a new rollout can begin at once.
    await expect(new MemoryRolloutStore(reopened).begin("demo", { ...begin, target: "v2" })).resolves.toMatchObject({
      model: "demo",
    });
  });

  it("no file is a fresh start; a corrupt one is STATE_CORRUPT naming the file, never a silent reset", async () => {
    const stateFile = await file();
    expect(await (await MemoryFleetState.open(stateFile)).listModelNames()).toEqual([]);
    await writeFile(stateFile.path, JSON.stringify({ format: 1, models: { demo: { state: { active: 3 } } } }));
    await expect(MemoryFleetState.open(stateFile)).rejects.toMatchObject({
      code: "STATE_CORRUPT",
      message: expect.stringContaining(stateFile.path),
    });
    await writeFile(stateFile.path, "{ half a fi");
    await expect(MemoryFleetState.open(stateFile)).rejects.toMatchObject({ code: "STATE_CORRUPT" });
  });

  it("is replaced in one step: no temp file is left beside it", async () => {
    const stateFile = await file();
    const fleet = await MemoryFleetState.open(stateFile);
    await new MemoryRolloutStore(fleet).begin("demo", begin);
    expect(await readdir(join(stateFile.path, ".."))).toEqual(["state.json"]);
    expect(JSON.parse(await readFile(stateFile.path, "utf8"))).toMatchObject({ format: 1 });
  });
});
