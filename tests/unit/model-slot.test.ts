import { describe, expect, it } from "vitest";
import type { LoadedVersion } from "../../inference/loaded-version.js";
import { ModelSlot } from "../../inference/model-slot.js";
import { AppliedSplit } from "../../inference/split-router.js";

/** Stand-ins for loaded versions: the slot only reads version, leases, retired and released. */
function version(name: string): LoadedVersion {
  return { version: name, leases: 0, retired: false, released: false } as unknown as LoadedVersion;
}

function slotWithLog(keepWarm = 1) {
  const released: string[] = [];
  const slot = new ModelSlot("demo", keepWarm, (loaded) => released.push(loaded.version));
  return { slot, released };
}

describe("the model slot", () => {
  it("a promotion is one swap: the old active goes warm, beyond keepWarm is released", () => {
    const { slot, released } = slotWithLog(1);
    const [v1, v2, v3] = [version("v1"), version("v2"), version("v3")];
    slot.stage(v1, "r1");
    expect(slot.promote("v1", 1)).toBe(true);
    slot.stage(v2, "r2");
    slot.promote("v2", 2);
    expect([slot.active?.version, slot.warm.map((l) => l.version), slot.staged]).toEqual(["v2", ["v1"], null]);
    slot.stage(v3, "r3");
    slot.promote("v3", 3);
    expect(slot.warm.map((l) => l.version)).toEqual(["v2"]);
    expect(released).toEqual(["v1"]);
    expect(slot.promote("v9", 4)).toBe(false);
    expect(slot.revision).toBe(3);
  });

  it("a rollback to the warm version swaps them without releasing either", () => {
    const { slot, released } = slotWithLog(1);
    slot.stage(version("v1"), null);
    slot.promote("v1", 1);
    slot.stage(version("v2"), null);
    slot.promote("v2", 2);
    const warm = slot.warm[0];
    slot.promote("v1", 3);
    expect(slot.active).toBe(warm);
    expect(slot.warm.map((l) => l.version)).toEqual(["v2"]);
    expect(released).toEqual([]);
  });

  it("a session with running requests is released only when its last lease ends", () => {
    const { slot, released } = slotWithLog(0);
    slot.stage(version("v1"), null);
    slot.promote("v1", 1);
    const first = slot.acquire();
    const second = slot.acquire();
    expect(first?.loaded.version).toBe("v1");
    slot.stage(version("v2"), null);
    slot.promote("v2", 2);
    expect(slot.acquire()?.loaded.version).toBe("v2");
    expect(released).toEqual([]);
    first?.end();
    first?.end();
    expect(released).toEqual([]);
    second?.end();
    expect(released).toEqual(["v1"]);
  });

  it("pinned leases reach any resident version; a dropped staged version is released after its last lease", () => {
    const { slot, released } = slotWithLog(1);
    slot.stage(version("v1"), null);
    slot.promote("v1", 1);
    slot.stage(version("v2"), "r2");
    const pinned = slot.acquire("v2");
    expect(pinned?.loaded.version).toBe("v2");
    expect(slot.acquire("v7")).toBeUndefined();
    slot.dropStaged();
    expect(released).toEqual([]);
    pinned?.end();
    expect(released).toEqual(["v2"]);
  });

  it("restaging replaces the staged version and releases the old one", () => {
    const { slot, released } = slotWithLog(1);
    slot.stage(version("v2"), "r1");
    slot.stage(version("v3"), "r2");
    expect([slot.staged?.version, slot.stagedFor, released]).toEqual(["v3", "r2", ["v2"]]);
    slot.dropStaged();
    expect(released).toEqual(["v2", "v3"]);
    slot.clear();
  });

  it("a split's candidate stays resident while the split is in force, and is released once it ends and is dropped", () => {
    const { slot, released } = slotWithLog(0);
    slot.stage(version("v1"), null);
    slot.promote("v1", 1);
    const candidate = version("v2");
    slot.stage(candidate, "r2");
    slot.applySplit(new AppliedSplit({ rolloutId: "r2", seq: 1, weight: 10, shadowPercent: 0 }, candidate, "v1"));
    slot.dropStaged();
    expect([slot.resident("v2"), released]).toEqual([candidate, []]);
    expect(slot.all().map((l) => l.version)).toEqual(["v1", "v2"]);
    const lease = slot.lease(candidate);
    expect(slot.clearSplit()?.seq).toBe(1);
    expect(released).toEqual([]);
    lease.end();
    expect(released).toEqual(["v2"]);
  });

  it("promoting the split's candidate ends the split in the same assignment", () => {
    const { slot, released } = slotWithLog(1);
    slot.stage(version("v1"), null);
    slot.promote("v1", 1);
    const candidate = version("v2");
    slot.stage(candidate, "r2");
    slot.applySplit(new AppliedSplit({ rolloutId: "r2", seq: 3, weight: 50, shadowPercent: 5 }, candidate, "v1"));
    slot.promote("v2", 2);
    expect([slot.active, slot.split, slot.staged, released]).toEqual([candidate, null, null, []]);
  });
});
