/**
 * The node's health and metrics routes through `app.request` (no port). Health answers from memory:
 * here the state store never answers, the agent is still joining, and both health routes answer.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ArtifactLayout } from "../../core/artifact-layout.js";
import { MemoryBus } from "../../core/memory/memory-bus.js";
import { MemoryFleetState } from "../../core/memory/memory-fleet-state.js";
import type { ModelState } from "../../core/model-state.js";
import { ModelRegistry } from "../../core/registry.js";
import { FolderStore } from "../../core/store/folder-store.js";
import { VersionFetcher } from "../../core/version-fetcher.js";
import { createNodeApp } from "../../inference/http/app.js";
import { InferEndpoint } from "../../inference/http/infer.js";
import { NodeMetrics } from "../../inference/metrics.js";
import { NodeAgent } from "../../inference/node-agent.js";
import { testKeyPair } from "../support/signing.js";
import { tempDir } from "../support/temp-dir.js";

/** A state store that accepts every call and answers none of the reads. */
class SilentFleetState extends MemoryFleetState {
  override getModelState(): Promise<ModelState> {
    return new Promise(() => undefined);
  }
  override listModelNames(): Promise<string[]> {
    return new Promise(() => undefined);
  }
}

let folder: Awaited<ReturnType<typeof tempDir>>;
let agent: NodeAgent;
let metrics: NodeMetrics;
let app: ReturnType<typeof createNodeApp>;

beforeAll(async () => {
  folder = await tempDir("cutover-node-app-");
  const { trusted } = testKeyPair();
  metrics = new NodeMetrics();
  agent = new NodeAgent({
    nodeId: "n1",
    url: "http://127.0.0.1/n1",
    models: ["demo"],
    fleet: new SilentFleetState(),
    bus: new MemoryBus(),
    fetcher: new VersionFetcher({
      registry: new ModelRegistry(new FolderStore(`${folder.path}/store`), new ArtifactLayout()),
      cacheDir: `${folder.path}/cache`,
      trustedKeys: [trusted],
    }),
    trustedKeys: [trusted],
    runtime: { executionProviders: ["cpu"] },
    cacheDir: `${folder.path}/cache`,
    keepWarm: 1,
    resyncMs: 60_000,
    heartbeatTtlMs: 15_000,
    metrics,
  });
  await agent.start();
  app = createNodeApp({
    agent,
    metrics,
    endpoint: new InferEndpoint(agent, metrics),
    maxRequestBytes: 1024,
    serverVersion: "test",
  });
});
afterAll(async () => {
  await agent.stop(0);
  await folder.cleanup();
});

describe("health answers from memory, at once", () => {
  it("live is 200 and ready is 503 (nothing served) while the state store has not answered", async () => {
    let joined = false;
    void agent.joined.then(() => {
      joined = true;
    });
    const live = await app.request("/v2/health/live");
    expect([live.status, await live.json()]).toEqual([200, { live: true }]);
    const ready = await app.request("/v2/health/ready");
    expect([ready.status, await ready.json()]).toEqual([503, { ready: false }]);
    expect(joined).toBe(false);
  });
});

describe("/metrics", () => {
  it("has the process's own metrics: event-loop lag, CPU, memory, heap", async () => {
    const text = await (await app.request("/metrics")).text();
    for (const name of [
      "nodejs_eventloop_lag_seconds",
      "nodejs_eventloop_lag_p99_seconds",
      "nodejs_eventloop_lag_max_seconds",
      "process_cpu_seconds_total",
      "process_resident_memory_bytes",
      "nodejs_heap_size_used_bytes",
    ]) {
      expect(text).toMatch(new RegExp(`^${name} [0-9.e+-]+$`, "m"));
    }
  });

  it("times infer requests per version: one histogram series each", async () => {
    metrics.inferred("demo", "v1", "ok", 200, 0.0004);
    metrics.inferred("demo", "v2", "ok", 200, 0.002);
    metrics.inferred("demo", "v2", "client_error", 400, 0.0001);
    metrics.inferred("demo", "", "not_serving", 503);
    const text = await (await app.request("/metrics")).text();
    expect(text).toMatch(
      /^cutover_infer_requests_total\{model="demo",version="v2",outcome="client_error",code="400"\} 1$/m,
    );
    expect(text).toMatch(
      /^cutover_infer_requests_total\{model="demo",version="",outcome="not_serving",code="503"\} 1$/m,
    );
    expect(text).toMatch(/^cutover_infer_duration_seconds_count\{model="demo",version="v1"\} 1$/m);
    expect(text).toMatch(/^cutover_infer_duration_seconds_count\{model="demo",version="v2"\} 2$/m);
    expect(text).toMatch(/^cutover_infer_duration_seconds_bucket\{le="0.0005",model="demo",version="v1"\} 1$/m);
    expect(text).not.toMatch(/cutover_infer_duration_seconds_count\{model="demo",version=""\}/);
  });
});
