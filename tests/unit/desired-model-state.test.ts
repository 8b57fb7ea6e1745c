import { describe, expect, it } from "vitest";
import type { ModelState } from "../../core/model-state.js";
import { DesiredModelState } from "../../inference/desired-model-state.js";

const MODEL = "demo";

function state(overrides: Partial<ModelState> = {}): ModelState {
  return { active: null, previous: null, revision: 0, rollout: null, updatedAt: null, updatedBy: null, ...overrides };
}

function rollout(id: string, target: string, phase: "preparing" | "promoting") {
  return { id, target, phase, startedAt: "2026-01-01T00:00:00Z", by: "ci" };
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
});
