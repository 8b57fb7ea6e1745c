import { describe, expect, it } from "vitest";
import { nodeRecordSchema } from "../../core/model-state.js";
import { emptyTraffic, LATENCY_BUCKETS_MS, latencyBucket } from "../../core/progressive.js";
import type { LoadedVersion } from "../../inference/loaded-version.js";
import { ModelSlot } from "../../inference/model-slot.js";
import { modelStatus } from "../../inference/model-status.js";
import { ServedTraffic } from "../../inference/served-traffic.js";

/** Stand-ins for loaded versions: the slot and the status read only these fields. */
function version(name: string): LoadedVersion {
  return { version: name, leases: 0, retired: false, released: false, provider: "cpu" } as unknown as LoadedVersion;
}

describe("the served traffic of a model on a node", () => {
  it("counts every answer per version: requests, 5xx failures, 4xx rejections and the 2xx answers' latency bucket", () => {
    const served = new ServedTraffic();
    expect(served.snapshot()).toEqual({});
    served.answered("v1", "ok", 3);
    served.answered("v1", "server_error", 3);
    served.answered("v1", "client_error", 0.1);
    served.answered("v1", "ok", 60_000);
    served.answered("v2", "ok", 0.4);
    const snapshot = served.snapshot();
    const v1 = emptyTraffic();
    v1.requests = 4;
    v1.failures = 1;
    v1.clientErrors = 1;
    v1.buckets[latencyBucket(3)] = 1;
    v1.buckets[LATENCY_BUCKETS_MS.length] = 1;
    const v2 = emptyTraffic();
    v2.requests = 1;
    v2.buckets[0] = 1;
    expect(snapshot).toEqual({ v1, v2 });
    // A copy: later answers do not change a snapshot already taken.
    served.answered("v1", "ok", 3);
    expect(snapshot.v1?.requests).toBe(4);
    expect(served.snapshot().v1?.requests).toBe(5);
  });

  it("forgets versions no longer resident: one that comes back starts from zero", () => {
    const served = new ServedTraffic();
    served.answered("v1", "ok", 1);
    served.answered("v2", "ok", 1);
    served.retain(new Set(["v2"]));
    expect(Object.keys(served.snapshot())).toEqual(["v2"]);
    served.answered("v1", "ok", 1);
    expect(served.snapshot().v1?.requests).toBe(1);
  });

  it("the model status carries the resident versions' counts, and omits `served` before any answer", () => {
    const slot = new ModelSlot("demo", 0, () => undefined);
    slot.stage(version("v1"), null);
    slot.promote("v1", 1);
    expect(modelStatus(slot, null, null)).not.toHaveProperty("served");
    slot.served.answered("v1", "ok", 4);
    slot.served.answered("v1", "server_error", 4);
    slot.served.answered("v0", "ok", 4); // a request that held a version since retired
    const status = modelStatus(slot, null, null);
    expect(Object.keys(status.served ?? {})).toEqual(["v1"]);
    expect(status.served?.v1).toMatchObject({ requests: 2, failures: 1 });
    const record = { nodeId: "n", url: "u", executionProvider: "cpu", startedAt: "s", updatedAt: "u", serves: [] };
    expect(nodeRecordSchema.parse({ ...record, models: { demo: status } }).models.demo?.served).toEqual(status.served);
    // Once v1 is replaced (keepWarm 0), its counts go with it.
    slot.stage(version("v2"), null);
    slot.promote("v2", 2);
    expect(modelStatus(slot, null, null)).not.toHaveProperty("served");
  });
});
