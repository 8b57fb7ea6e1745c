import { readdir } from "node:fs/promises";
import { request as httpRequest } from "node:http";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Controller } from "../../controller/controller.js";
import { startControllerServer } from "../../controller/server.js";
import { encodeMessage, parseReport, type ReportMessage } from "../../core/messages.js";
import type { NodeRecord } from "../../core/model-state.js";
import { createRedis } from "../../core/redis/connection.js";
import { RedisBus } from "../../core/redis/redis-bus.js";
import { StateKeys } from "../../core/state-keys.js";
import { createNodeApp } from "../../inference/http/app.js";
import { InferEndpoint } from "../../inference/http/infer.js";
import { NodeMetrics } from "../../inference/metrics.js";
import { runCli } from "../support/cli.js";
import { type ControllerHarness, MODEL, startControllerHarness, TOKEN } from "../support/controller-harness.js";
import { freePort } from "../support/free-port.js";
import { FEATURES, infer, loadGenerator, startTestNode, type TestNode } from "../support/node-harness.js";

let harness: ControllerHarness;
let prefixNumber = 0;
const nodes: TestNode[] = [];

beforeAll(async () => {
  harness = await startControllerHarness();
});
afterAll(async () => {
  await Promise.all(nodes.map((node) => node.close().catch(() => undefined)));
  await harness.stop();
});

async function activate(controller: Controller, version: string, extra: Record<string, unknown> = {}) {
  const response = await controller.app.request(
    `/v1/models/${MODEL}/${version === "rollback" ? "rollback" : "activate"}`,
    {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify(version === "rollback" ? extra : { version, timeoutMs: 20_000, ...extra }),
    },
  );
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function fleet(...ids: string[]) {
  const prefix = `node${prefixNumber++}:`;
  const controller = await harness.controller(prefix);
  const started = await Promise.all(ids.map((id) => startTestNode(harness, prefix, id)));
  nodes.push(...started);
  return { prefix, controller, nodes: started };
}

describe("a node follows the fleet state", () => {
  it("converges to the active version and serves it, with model_version in every answer", async () => {
    const {
      controller,
      nodes: [node],
    } = await fleet("a1");
    expect((await infer(node?.url ?? "")).status).toBe(503);
    const activated = await activate(controller, "v1");
    expect(activated.body).toMatchObject({ to: "v1", confirmed: 1 });
    // The node stamps its swap on a sub-millisecond wall clock (a float of ms since the epoch).
    const switchedAt = (activated.body.nodes as { switchedAt: number }[])[0]?.switchedAt ?? 0;
    expect(Number.isInteger(switchedAt)).toBe(false);
    expect(Math.abs(switchedAt - Date.now())).toBeLessThan(30_000);
    const answer = await infer(node?.url ?? "");
    expect(answer.status).toBe(200);
    expect(answer.version).toBe("v1");
    expect(answer.body.outputs?.[0]?.name).toBe("probabilities");
    expect(answer.body.outputs?.[0]?.data.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    const ready = await fetch(`${node?.url}/v2/health/ready`);
    expect(ready.status).toBe(200);
    const metadata = (await (await fetch(`${node?.url}/v2/models/${MODEL}`)).json()) as Record<string, unknown>;
    expect(metadata).toMatchObject({
      name: MODEL,
      model_version: "v1",
      inputs: [{ name: "features", datatype: "FP32", shape: [-1, 4] }],
    });
  });

  it("activate v2 under continuous load (concurrency 16): no failed request, v1 or v2, then only v2; rollback to the warm v1 loads nothing", async () => {
    const { controller, nodes: started } = await fleet("b1", "b2");
    await activate(controller, "v1");
    const load = loadGenerator(
      started.map((node) => node.url),
      16,
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    const result = await activate(controller, "v2");
    const promotedAt = Date.now();
    expect(result.body).toMatchObject({ to: "v2", confirmed: 2 });
    await new Promise((resolve) => setTimeout(resolve, 300));

    const slot = started[0]?.node.agent.slots.get(MODEL);
    const warmV1 = slot?.warm[0];
    expect(warmV1?.version).toBe("v1");
    const rollbackSentAt = Date.now();
    const rollback = await activate(controller, "rollback");
    expect(rollback.body).toMatchObject({ to: "v1", confirmed: 2 });
    expect((rollback.body.nodes as { loadMs: number }[]).map((n) => n.loadMs)).toEqual([0, 0]);
    expect(slot?.active).toBe(warmV1);
    const rolledBackAt = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 300));
    const answers = await load.stop();

    expect(answers.length).toBeGreaterThan(100);
    expect(answers.filter((a) => a.status !== 200)).toEqual([]);
    expect(new Set(answers.map((a) => a.version))).toEqual(new Set(["v1", "v2"]));
    expect(answers.filter((a) => a.at > promotedAt + 50 && a.at < rollbackSentAt && a.version !== "v2")).toEqual([]);
    expect(answers.filter((a) => a.at > rolledBackAt + 50 && a.version !== "v1")).toEqual([]);
    const metrics = await (await fetch(`${started[0]?.url}/metrics`)).text();
    expect(metrics).toMatch(/cutover_staging_duration_seconds_count\{model="demo",outcome="staged"\} 2\n/);
    // Latency per version served, and the event loop's lag beside it.
    expect(metrics).toMatch(/\ncutover_infer_duration_seconds_count\{model="demo",version="v1"\} [1-9]/);
    expect(metrics).toMatch(/\ncutover_infer_duration_seconds_count\{model="demo",version="v2"\} [1-9]/);
    expect(metrics).toMatch(/\nnodejs_eventloop_lag_p99_seconds [0-9.e+-]+\n/);
  }, 60_000); // on a loaded 2-core CI box the two rollouts under 16-way load can take tens of seconds

  it("a pinned version answers while it is resident, and 404s once it is released", async () => {
    const {
      controller,
      nodes: [node],
    } = await fleet("c1");
    const url = node?.url ?? "";
    await activate(controller, "v1");
    await activate(controller, "v2");
    const pinned = await infer(url, { version: "v1" });
    expect([pinned.status, pinned.version]).toEqual([200, "v1"]);
    await activate(controller, "v4");
    expect((await infer(url, { version: "v2" })).version).toBe("v2");
    const gone = await infer(url, { version: "v1" });
    expect(gone.status).toBe(404);
    expect(gone.body.error).toBe("demo version v1 is not loaded on this node");
  });

  it("the disk cache keeps the resident versions and CUTOVER_CACHE_SPARE more; the rest is deleted after a swap", async () => {
    const prefix = `node${prefixNumber++}:`;
    const controller = await harness.controller(prefix);
    const node = await startTestNode(harness, prefix, "p1", { keepWarm: 0, cacheSpare: 1 });
    nodes.push(node);
    const cached = async () => (await readdir(join(node.config.cacheDir, "versions", MODEL))).sort();
    await activate(controller, "v1");
    await activate(controller, "v2");
    // keep-warm 0: v2 resident; v1 is the one spare.
    await expect.poll(cached).toEqual(["v1", "v2"]);
    await activate(controller, "v4");
    await expect.poll(cached).toEqual(["v2", "v4"]);
    expect((await infer(node.url)).version).toBe("v4");
    // A rollback to a pruned version downloads it again.
    await activate(controller, "v1");
    await expect.poll(cached).toEqual(["v1", "v4"]);
    expect((await infer(node.url)).version).toBe("v1");
  });
});

describe("execution providers", () => {
  it("configured cuda,cpu without the CUDA library: serves on cpu, and the node record, `cutover nodes` (--json) and /metrics say cpu", async () => {
    const prefix = `node${prefixNumber++}:`;
    const controller = await harness.controller(prefix);
    const node = await startTestNode(harness, prefix, "g1", { executionProviders: ["cuda", "cpu"] });
    nodes.push(node);
    expect(node.node.agent.record().executionProvider).toBe("none");
    await activate(controller, "v1");
    await activate(controller, "v2");
    expect((await infer(node.url)).version).toBe("v2");
    const record = node.node.agent.record();
    expect(record.executionProvider).toBe("cpu");
    expect(record.models[MODEL]?.providers).toEqual({ v1: "cpu", v2: "cpu" });

    const server = await startControllerServer({ ...harness.config(prefix), port: await freePort() });
    try {
      const env = { CUTOVER_URL: `http://127.0.0.1:${server.port}` };
      const listed = await runCli(["nodes", "--json"], env);
      expect(listed.code).toBe(0);
      expect((JSON.parse(listed.stdout) as { nodes: NodeRecord[] }).nodes).toMatchObject([
        {
          nodeId: "g1",
          executionProvider: "cpu",
          models: { [MODEL]: { active: "v2", providers: { v1: "cpu", v2: "cpu" } } },
        },
      ]);
      expect((await runCli(["nodes"], env)).stdout).toMatch(/\ng1 +http:\/\/127\.0\.0\.1\/g1 +cpu +demo@v2 /);
    } finally {
      await server.close();
    }
    const metrics = await (await fetch(`${node.url}/metrics`)).text();
    expect(metrics).toMatch(/\ncutover_execution_provider_info\{model="demo",version="v1",provider="cpu"\} 1\n/);
    expect(metrics).toMatch(/\ncutover_execution_provider_info\{model="demo",version="v2",provider="cpu"\} 1\n/);
    expect(metrics.match(/^cutover_execution_provider_info\{/gm)).toHaveLength(2);
  });
});

describe("an incompatible version the operator forces", () => {
  it("is staged and served when activated with allowIncompatible, and its new inputs work", async () => {
    const {
      controller,
      nodes: [node],
    } = await fleet("f1");
    await activate(controller, "v1");
    expect((await activate(controller, "v3")).status).toBe(422);
    expect((await activate(controller, "v3", { allowIncompatible: true })).body).toMatchObject({
      to: "v3",
      confirmed: 1,
    });
    const answer = await infer(node?.url ?? "", {
      body: { inputs: [{ name: "features", shape: [1, 8], datatype: "FP32", data: [...FEATURES, 1, 2, 3, 4] }] },
    });
    expect([answer.status, answer.version]).toEqual([200, "v3"]);
  });
});

describe("a bad artifact fails staging with its own code, and the old version keeps serving", () => {
  // The third column: whether it is a verification failure (the artifact or its signature), which
  // cutover_verification_failures_total counts; cutover_staging_failures_total counts every one.
  it.each([
    ["bad-byte", "DIGEST_MISMATCH", true],
    ["extra", "UNEXPECTED_FILE", true],
    ["v9", "UNTRUSTED_KEY", true],
    ["not-onnx", "LOAD_FAILED", false],
    ["golden-bad", "GOLDEN_MISMATCH", false],
    ["v3", "INCOMPATIBLE_SCHEMA", false],
    ["never-pushed", "NOT_FOUND", false],
  ] as const)("%s → %s (verification failure: %s)", async (version, code, verification) => {
    const {
      prefix,
      controller,
      nodes: [node],
    } = await fleet(`d-${version}`);
    await activate(controller, "v1");
    // Speak the bus protocol directly (a scripted controller): the real controller refuses some of
    // these before any node hears of them.
    const redis = createRedis({ url: harness.redis.url, name: "scripted-controller" });
    const subscriber = createRedis({ url: harness.redis.url, name: "scripted-controller-sub" });
    const bus = new RedisBus(redis, subscriber);
    const keys = new StateKeys(prefix);
    const reports: ReportMessage[] = [];
    await bus.subscribe(keys.reportChannel(MODEL), (payload) => reports.push(parseReport(payload)));
    try {
      await bus.publish(
        keys.commandChannel(MODEL),
        encodeMessage({ type: "prepare", model: MODEL, version, rolloutId: `r-${version}` }),
      );
      await expect.poll(() => reports.length, { timeout: 10_000 }).toBe(1);
      expect(reports[0]).toMatchObject({ type: "failed", version, code });
      const answer = await infer(node?.url ?? "");
      expect([answer.status, answer.version]).toEqual([200, "v1"]);
      const metrics = await (await fetch(`${node?.url}/metrics`)).text();
      expect(metrics.match(/^cutover_staging_failures_total\{.*$/gm)).toEqual([
        `cutover_staging_failures_total{code="${code}"} 1`,
      ]);
      expect(metrics.match(/^cutover_verification_failures_total\{.*$/gm) ?? []).toEqual(
        verification ? [`cutover_verification_failures_total{reason="${code}"} 1`] : [],
      );
    } finally {
      redis.disconnect();
      subscriber.disconnect();
    }
  });
});

describe("malformed inference requests get a 4xx, never a 5xx", () => {
  let served: TestNode;
  beforeAll(async () => {
    const {
      controller,
      nodes: [node],
    } = await fleet("e1");
    await activate(controller, "v1");
    served = node as TestNode;
  });

  it.each([
    ["bad JSON", { raw: "{" }, 400, /not JSON/],
    ["no inputs", { body: { inputs: [] } }, 400, /inputs/],
    [
      "wrong datatype",
      { body: { inputs: [{ name: "features", shape: [1, 4], datatype: "INT64", data: [1, 2, 3, 4] }] } },
      400,
      /INT64, the model wants FP32/,
    ],
    [
      "unknown datatype",
      { body: { inputs: [{ name: "features", shape: [1, 4], datatype: "FP8", data: FEATURES }] } },
      400,
      /unknown datatype FP8/,
    ],
    [
      "wrong shape",
      { body: { inputs: [{ name: "features", shape: [1, 5], datatype: "FP32", data: [...FEATURES, 1] }] } },
      400,
      /does not fit/,
    ],
    [
      "data length mismatch",
      { body: { inputs: [{ name: "features", shape: [2, 4], datatype: "FP32", data: FEATURES }] } },
      400,
      /holds 8 values, got 4/,
    ],
    [
      "a string among numbers",
      { body: { inputs: [{ name: "features", shape: [1, 4], datatype: "FP32", data: [1, "x", 3, 4] }] } },
      400,
      /value 1/,
    ],
    [
      "unknown input",
      { body: { inputs: [{ name: "pixels", shape: [1, 4], datatype: "FP32", data: FEATURES }] } },
      400,
      /unknown input "pixels"/,
    ],
    [
      "unknown output",
      {
        body: {
          inputs: [{ name: "features", shape: [1, 4], datatype: "FP32", data: FEATURES }],
          outputs: [{ name: "logits" }],
        },
      },
      400,
      /unknown output/,
    ],
    [
      "ragged rows (the right count in all)",
      {
        body: {
          inputs: [{ name: "features", shape: [1, 4], datatype: "FP32", data: [[0.5], [-1.2, 3.3, 0.1]] }],
        },
      },
      400,
      /data has length 2, dimension 0 of shape \[1,4\] is 1/,
    ],
    [
      "data nested 10,000 deep (20 KB)",
      {
        raw: `{"inputs":[{"name":"features","shape":[1,4],"datatype":"FP32","data":${"[".repeat(10_000)}0.5${"]".repeat(10_000)}}]}`,
      },
      400,
      /data\[0\] has length 1, dimension 1 of shape \[1,4\] is 4/,
    ],
    [
      "1e400 for FP32 (Infinity once parsed)",
      { raw: '{"inputs":[{"name":"features","shape":[1,4],"datatype":"FP32","data":[0.5,1e400,3.3,0.1]}]}' },
      400,
      /input features: value 1 \(Infinity\) is out of FP32's range/,
    ],
    [
      "1e39 for FP32 (Infinity in float32)",
      { raw: '{"inputs":[{"name":"features","shape":[1,4],"datatype":"FP32","data":[0.5,-1.2,3.3,1e39]}]}' },
      400,
      /input features: value 3 \(1e\+39\) is out of FP32's range/,
    ],
    [
      "oversized body",
      {
        raw: JSON.stringify({
          inputs: [{ name: "features", shape: [1, 4], datatype: "FP32", data: FEATURES }],
          pad: "x".repeat(70_000),
        }),
      },
      413,
      /over 65536 bytes/,
    ],
  ] as const)("%s", async (name, request, status, message) => {
    const answer = await infer(served.url, request);
    expect(answer.status).toBe(status);
    expect(answer.body.error).toMatch(message);
    // A request refused once a version was chosen names it (the client can tell which version refused
    // it); one refused before (unreadable or too large) names none.
    const beforeAnyVersion = name === "bad JSON" || name === "oversized body";
    expect(answer.body.model_version).toBe(beforeAnyVersion ? undefined : "v1");
    expect((await infer(served.url)).status).toBe(200);
  });

  it("nested row-major data is accepted; an unknown model is 404", async () => {
    const node = served;
    const nested = await infer(node.url, {
      body: { inputs: [{ name: "features", shape: [2, 4], datatype: "FP32", data: [FEATURES, FEATURES] }] },
    });
    expect(nested.status).toBe(200);
    expect((await fetch(`${node.url}/v2/models/other/infer`, { method: "POST", body: "{}" })).status).toBe(404);
  });

  it("an output the model computes as NaN is answered as the string NaN, never null", async () => {
    // Finite FP32 inputs whose logits overflow: the softmax of ∞ − ∞ is NaN.
    const answer = await infer(served.url, {
      body: { inputs: [{ name: "features", shape: [1, 4], datatype: "FP32", data: [3.4e38, 3.4e38, 3.4e38, 3.4e38] }] },
    });
    expect(answer.status).toBe(200);
    expect(answer.body.outputs?.[0]).toMatchObject({ name: "probabilities", data: ["NaN", "NaN", "NaN"] });
  });

  it("a chunked body (no Content-Length) is read to the limit: within it 200, over it 413", async () => {
    const chunked = (text: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const url = new URL(`${served.url}/v2/models/${MODEL}/infer`);
        const request = httpRequest(
          { host: url.hostname, port: url.port, path: url.pathname, method: "POST" },
          (response) => {
            let body = "";
            response.on("data", (chunk: Buffer) => {
              body += chunk.toString();
            });
            response.on("end", () => resolve({ status: response.statusCode ?? 0, body }));
          },
        );
        request.on("error", reject);
        // Several writes without a length: Node sends Transfer-Encoding: chunked.
        for (let i = 0; i < text.length; i += 16_384) request.write(text.slice(i, i + 16_384));
        request.end();
      });
    const valid = JSON.stringify({ inputs: [{ name: "features", shape: [1, 4], datatype: "FP32", data: FEATURES }] });
    const ok = await chunked(valid);
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body).model_version).toBe("v1");
    const big = await chunked(JSON.stringify({ inputs: [], pad: "x".repeat(200_000) }));
    expect(big.status).toBe(413);
    expect(JSON.parse(big.body).error).toMatch(/over 65536 bytes/);
    expect((await infer(served.url)).status).toBe(200);
  });

  it("the Hono app answers infer calls exactly like the node:http route in front of it", async () => {
    const metrics = new NodeMetrics();
    const endpoint = new InferEndpoint(served.node.agent, metrics);
    const app = createNodeApp({
      agent: served.node.agent,
      metrics,
      endpoint,
      maxRequestBytes: 64 * 1024,
      serverVersion: "test",
    });
    const cases: { path: string; body: string }[] = [
      {
        path: `/v2/models/${MODEL}/infer`,
        body: JSON.stringify({
          id: "r1",
          inputs: [{ name: "features", shape: [1, 4], datatype: "FP32", data: FEATURES }],
        }),
      },
      { path: `/v2/models/${MODEL}/infer`, body: "{" },
      { path: `/v2/models/${MODEL}/versions/v9/infer`, body: "{}" },
      { path: "/v2/models/other/infer", body: "{}" },
      { path: `/v2/models/${MODEL}/infer`, body: JSON.stringify({ pad: "x".repeat(70_000) }) },
      { path: `/v2/models/${MODEL}/infer/`, body: "{}" },
      {
        path: "/v2/models/%64emo/infer?trace=1",
        body: JSON.stringify({ inputs: [{ name: "features", shape: [1, 4], datatype: "FP32", data: FEATURES }] }),
      },
    ];
    for (const { path, body } of cases) {
      const init = { method: "POST", headers: { "content-type": "application/json" }, body };
      const viaApp = await app.request(path, init);
      const viaHttp = await fetch(`${served.url}${path}`, init);
      expect({ path, status: viaApp.status, body: await viaApp.json() }).toEqual({
        path,
        status: viaHttp.status,
        body: await viaHttp.json(),
      });
    }
    // A stream body (no Content-Length) through the app: read and cut off at the limit too.
    const stream = new Blob(['{"pad":"', "x".repeat(70_000), '"}']).stream();
    const streamed = await app.request(`/v2/models/${MODEL}/infer`, {
      method: "POST",
      body: stream,
      duplex: "half",
    } as RequestInit);
    expect(streamed.status).toBe(413);
    // Through the app: the two served calls (plain and percent-encoded path) count as ok, the pinned v9 as
    // not_serving; an unknown model is not counted at all (no label for a name this node does not serve).
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/cutover_infer_requests_total\{model="demo",version="",outcome="not_serving",code="404"\} 1/);
    expect(text).toMatch(/cutover_infer_requests_total\{model="demo",version="v1",outcome="ok",code="200"\} 2/);
  });
});
