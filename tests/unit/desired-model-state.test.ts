import { describe, expect, it } from "vitest";
import type { ModelState, Rollout } from "../../core/model-state.js";
import { DEFAULT_ANALYSIS } from "../../core/progressive.js";
import { DesiredModelState } from "../../inference/desired-model-state.js";

const MODEL = "demo";

function state(overrides: Partial<ModelState> = {}): ModelState {
  return { active: null, previous: null, revision: 0, rollout: null, updatedAt: null, updatedBy: null, ...overrides };
}

function rollout(id: string, target: string, phase: "preparing" | "promoting") {
  return { id, target, phase, startedAt: "2026-01-01T00:00:00Z", by: "ci" };
}

/** A progressive rollout of `target` in `phase` at `weight`, seq `seq`. */
function progressing(id: string, target: string, weight: number, seq: number, phase: Rollout["phase"] = "progressing") {
  return {
    ...rollout(id, target, "preparing"),
    phase,
    progressive: {
      strategy: "canary" as const,
      steps: [10, 50],
      step: 0,
      weight,
      seq,
      bakeMs: 0,
      bakeUntil: null,
      manual: false,
      holding: null,
      shadowPercent: 5,
      baseline: "v1",
      analysis: DEFAULT_ANALYSIS,
      lastAnalysis: null,
    },
  };
}

function splitMessage(rolloutId: string, seq: number, weight: number) {
  return { type: "split" as const, model: MODEL, version: "v2", rolloutId, seq, weight, shadowPercent: 0 };
}

describe("DesiredModelState: what messages and state reads say the model should be", () => {
  it("prepare, then promote: the rollout's phase follows, the promote asks for one confirmation", () => {
    const desired = new DesiredModelState();
    expect(desired.rollout).toBeUndefined();
    desired.preparing({ type: "prepare", model: MODEL, version: "v2", rolloutId: "r1", allowIncompatible: true });
    expect(desired.rollout).toEqual({ id: "r1", target: "v2", phase: "preparing", allowIncompatible: true });
    desired.promoted({ type: "promote", model: MODEL, version: "v2", revision: 3, rolloutId: "r1" });
    expect(desired.active).toEqual({ version: "v2", revision: 3 });
    expect(desired.rollout).toEqual({ id: "r1", target: "v2", phase: "promoting", allowIncompatible: true });
    expect(desired.takeConfirmation()).toBe("r1");
    expect(desired.takeConfirmation()).toBeNull();
  });

  it("an abort ends the rollout it names, not a newer one", () => {
    const desired = new DesiredModelState();
    desired.preparing({ type: "prepare", model: MODEL, version: "v2", rolloutId: "r2" });
    desired.aborted({ type: "abort", model: MODEL, rolloutId: "r1", reason: "late" });
    expect(desired.rollout?.id).toBe("r2");
    desired.aborted({ type: "abort", model: MODEL, rolloutId: "r2", reason: "a node failed" });
    expect(desired.rollout).toBeNull();
  });

  it("a read replaces what was learnt at a lower revision, never a message at a higher one", () => {
    const desired = new DesiredModelState();
    desired.promoted({ type: "promote", model: MODEL, version: "v3", revision: 5, rolloutId: "r5" });
    desired.read(state({ active: "v2", revision: 4 }), false, desired.readStarted());
    expect(desired.active).toEqual({ version: "v3", revision: 5 });
    desired.read(state({ active: "v4", revision: 6 }), false, desired.readStarted());
    expect(desired.active).toEqual({ version: "v4", revision: 6 });
    // No active version in the state (just flushed): what was learnt stays.
    desired.read(state(), false, desired.readStarted());
    expect(desired.active).toEqual({ version: "v4", revision: 6 });
    desired.forget();
    desired.read(state({ active: "v1", revision: 1 }), false, desired.readStarted());
    expect(desired.active).toEqual({ version: "v1", revision: 1 });
  });

  it("a read mid-promotion asks to confirm (when told to), and one while preparing asks to say the answer again", () => {
    const desired = new DesiredModelState();
    desired.read(
      state({ active: "v2", revision: 2, rollout: rollout("r2", "v2", "promoting") }),
      true,
      desired.readStarted(),
    );
    expect(desired.takeConfirmation()).toBe("r2");
    desired.read(
      state({ active: "v2", revision: 2, rollout: rollout("r2", "v2", "promoting") }),
      false,
      desired.readStarted(),
    );
    expect(desired.takeConfirmation()).toBeNull();
    desired.read(
      state({ active: "v2", revision: 2, rollout: rollout("r3", "v3", "preparing") }),
      false,
      desired.readStarted(),
    );
    expect(desired.rollout).toEqual({ id: "r3", target: "v3", phase: "preparing", allowIncompatible: false });
    expect(desired.takeResend()).toBe(true);
    expect(desired.takeResend()).toBe(false);
    desired.read(state({ active: "v2", revision: 2 }), false, desired.readStarted());
    expect(desired.rollout).toBeNull();
  });

  it("a read begun before a message does not undo what the message said of the rollout", () => {
    const desired = new DesiredModelState();
    const started = desired.readStarted();
    desired.preparing({ type: "prepare", model: MODEL, version: "v2", rolloutId: "r2" });
    desired.read(state({ active: "v1", revision: 1 }), false, started);
    expect(desired.rollout?.id).toBe("r2");
    expect(desired.active).toEqual({ version: "v1", revision: 1 });
    desired.read(state({ active: "v1", revision: 1 }), false, desired.readStarted());
    expect(desired.rollout).toBeNull();
  });

  it("a split message and a read of a progressing rollout say the split; the higher seq wins either way", () => {
    const desired = new DesiredModelState();
    desired.preparing({ type: "prepare", model: MODEL, version: "v2", rolloutId: "r1" });
    desired.splitting(splitMessage("r1", 2, 10));
    expect(desired.rollout).toEqual({ id: "r1", target: "v2", phase: "progressing", allowIncompatible: false });
    expect(desired.split).toEqual({ rolloutId: "r1", candidate: "v2", seq: 2, weight: 10, shadowPercent: 0 });
    expect(desired.readDue).toBe(false);
    desired.splitting(splitMessage("r1", 1, 50));
    expect(desired.split?.seq).toBe(2);
    desired.read(
      state({ active: "v1", revision: 1, rollout: progressing("r1", "v2", 5, 1) }),
      false,
      desired.readStarted(),
    );
    expect(desired.split?.seq).toBe(2);
    desired.read(
      state({ active: "v1", revision: 1, rollout: progressing("r1", "v2", 50, 3) }),
      false,
      desired.readStarted(),
    );
    expect(desired.split).toEqual({ rolloutId: "r1", candidate: "v2", seq: 3, weight: 50, shadowPercent: 5 });
    expect(desired.rollout?.phase).toBe("progressing");
    // Preparing again (for nodes that joined) or promoting: the split stays until the swap.
    desired.read(
      state({ active: "v1", revision: 1, rollout: progressing("r1", "v2", 50, 3, "preparing") }),
      false,
      desired.readStarted(),
    );
    expect(desired.split?.seq).toBe(3);
    desired.promoted({ type: "promote", model: MODEL, version: "v2", revision: 2, rolloutId: "r1" });
    expect(desired.split?.seq).toBe(3);
    desired.splitting(splitMessage("r1", 4, 90));
    expect(desired.split?.seq).toBe(3);
    desired.splitEnded();
    expect(desired.split).toBeNull();
  });

  it("a split of a rollout the node has not heard of asks for a read; an abort, another rollout or none ends the split", () => {
    const desired = new DesiredModelState();
    desired.splitting(splitMessage("r1", 1, 10));
    expect([desired.readDue, desired.split?.seq]).toEqual([true, 1]);
    desired.aborted({ type: "abort", model: MODEL, rolloutId: "r1", reason: "rolled back" });
    expect([desired.rollout, desired.split]).toEqual([null, null]);
    desired.splitting(splitMessage("r2", 1, 10));
    desired.preparing({ type: "prepare", model: MODEL, version: "v3", rolloutId: "r3" });
    expect(desired.split).toBeNull();
    desired.read(
      state({ active: "v1", revision: 1, rollout: progressing("r4", "v2", 10, 1) }),
      false,
      desired.readStarted(),
    );
    expect(desired.split?.rolloutId).toBe("r4");
    desired.read(state({ active: "v1", revision: 1 }), false, desired.readStarted());
    expect(desired.split).toBeNull();
  });

  it("a read begun before a split message does not undo it", () => {
    const desired = new DesiredModelState();
    desired.read(
      state({ active: "v1", revision: 1, rollout: progressing("r1", "v2", 10, 1) }),
      false,
      desired.readStarted(),
    );
    const started = desired.readStarted();
    desired.aborted({ type: "abort", model: MODEL, rolloutId: "r1", reason: "rolled back" });
    desired.read(state({ active: "v1", revision: 1, rollout: progressing("r1", "v2", 10, 1) }), false, started);
    expect(desired.split).toBeNull();
  });
});
