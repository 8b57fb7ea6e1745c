import { describe, expect, it } from "vitest";
import { historyLines, modelDetailLines, rolloutLines } from "../../controller/cli/rollout-view.js";
import type { RolloutResult } from "../../controller/rollout-result.js";
import type { HistoryEntry, NodeRecord } from "../../core/model-state.js";

const COLD = "vad/v5 was staged cold: the model rejected every synthetic warm-up input (…)";

function node(nodeId: string, models: NodeRecord["models"]): NodeRecord {
  return {
    nodeId,
    url: `http://${nodeId}`,
    executionProvider: "cpu",
    startedAt: "2026-11-27T00:00:00.000Z",
    updatedAt: "2026-11-27T00:00:01.000Z",
    serves: [],
    models,
  };
}

describe("what the ops commands print", () => {
  it("activate: a cold node is marked and its warning printed after the spread; an unconfirmed one says why", () => {
    const result: RolloutResult = {
      rolloutId: "r1",
      model: "vad",
      from: null,
      to: "v5",
      revision: 1,
      changed: true,
      nodes: [
        { nodeId: "n1", outcome: "promoted", loadMs: 104, warmupMs: 3, warmup: "cold", warning: COLD },
        { nodeId: "n2", outcome: "unconfirmed", loadMs: 90, warmupMs: 2, reason: "no confirmation within 3000 ms" },
        {
          nodeId: "n3",
          outcome: "promoted",
          loadMs: 95,
          warmupMs: 4,
          warmup: "replay",
          replay: { replayed: 32, compared: 30, divergent: 3, worstAbsolute: 0.02134, worstRelative: 0.0412 },
        },
      ],
      confirmed: 1,
      fullyConfirmed: false,
      unconfirmed: ["n2"],
      warnings: [`n1: ${COLD}`],
      switchSpreadMs: 0.2371,
      durationMs: 400,
      message: "vad → v5 at revision 1; 1/2 node(s) confirmed",
    };
    expect(rolloutLines(result)).toEqual([
      "vad → v5 at revision 1; 1/2 node(s) confirmed",
      "  n1  promoted  load 104 ms  warm-up 3 ms (cold)",
      "  n2  unconfirmed  load 90 ms  warm-up 2 ms  no confirmation within 3000 ms",
      "  n3  promoted  load 95 ms  warm-up 4 ms (on replayed requests)  replay: 32 replayed, 3 of 30 compared diverged (worst 0.021 absolute, 4.1 % relative)",
      "switch spread 0.2 ms",
      `warning: n1: ${COLD}`,
    ]);
  });

  it("status: the cold active version is marked (cold) with a warning; a cold warm one gets a note", () => {
    const status = (active: string, warm: string[]) => ({
      active,
      revision: 2,
      warm,
      staged: null,
      lastError: null,
      cold: { v5: COLD },
    });
    const lines = modelDetailLines({
      model: "vad",
      state: { active: "v5", previous: "v6", revision: 2, rollout: null, updatedAt: null, updatedBy: null },
      nodes: [node("n1", { vad: status("v5", ["v6"]) }), node("n2", { vad: status("v6", ["v5"]) })],
    });
    expect(lines[0]).toBe("vad: active v5, previous v6, revision 2");
    expect(lines[1]).toMatch(/^NODE +ACTIVE +REVISION/);
    expect(lines[2]).toMatch(/^n1 +v5 \(cold\) +2 +v6 /);
    expect(lines[3]).toMatch(/^n2 +v6 +2 +v5 /);
    expect(lines.slice(4)).toEqual([`warning: n1: ${COLD}`, `note: n2: ${COLD}`]);
  });

  it("history: the fleet's replays on the target as one report, beside the reason", () => {
    const replay = (divergent: number, worstAbsolute: number) => ({
      replayed: 32,
      compared: 32,
      divergent,
      worstAbsolute,
      worstRelative: worstAbsolute,
    });
    const entry: HistoryEntry = {
      rolloutId: "r2",
      action: "activate",
      by: "ops",
      startedAt: "2026-11-27T00:00:00.000Z",
      finishedAt: "2026-11-27T00:00:01.000Z",
      from: "v5",
      to: "v6",
      outcome: "promoted",
      revision: 2,
      nodes: [
        { nodeId: "n1", outcome: "promoted", replay: replay(0, 0.001) },
        { nodeId: "n2", outcome: "promoted", replay: replay(2, 0.5) },
        { nodeId: "n3", outcome: "promoted" },
      ],
    };
    const [, row] = historyLines([entry]);
    expect(row).toMatch(/replay: 64 replayed, 2 of 64 compared diverged \(worst 0\.5 absolute, 50 % relative\)$/);
    expect(historyLines([{ ...entry, nodes: [] }])[1]).not.toMatch(/replay/);
  });

  it("history: a reason and the warnings share the last column", () => {
    const entry: HistoryEntry = {
      rolloutId: "r1",
      action: "activate",
      by: "ops",
      startedAt: "2026-11-27T00:00:00.000Z",
      finishedAt: "2026-11-27T00:00:01.000Z",
      from: null,
      to: "v5",
      outcome: "promoted",
      revision: 1,
      reason: "n2 did not confirm",
      nodes: [],
      warnings: [`n1: ${COLD}`],
    };
    const [, row] = historyLines([entry]);
    expect(row).toMatch(/n2 did not confirm; warning: n1: vad\/v5 was staged cold/);
  });
});
