/**
 * A rollout's own analysis checks on a real Prometheus (Debian's, started by tests/support on a free
 * port, scraping the test node's /metrics every second): a query naming a metric Prometheus has no
 * series of, or one it refuses, is refused when the rollout starts; a candidate whose custom metric is
 * beyond its bound is rolled back with the figures; Prometheus down holds the step (inconclusive),
 * never passes it, and the step goes on once it answers again. Ticks are called by the test.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Controller } from "../../controller/controller.js";
import type { ProgressView } from "../../controller/progressive/progressive-runner.js";
import { type ControllerHarness, MODEL, startControllerHarness, TOKEN } from "../support/controller-harness.js";
import { FEATURES, startTestNode, type TestNode } from "../support/node-harness.js";
import { type PrometheusTestServer, startPrometheus } from "../support/prometheus-server.js";

const PREFIX = "prometheus-checks:";
const BODY = JSON.stringify({ inputs: [{ name: "features", shape: [1, 4], datatype: "FP32", data: FEATURES }] });
/** What the candidate answered, as Prometheus scraped it from the node. */
const ANSWERED = `sum(cutover_infer_requests_total{model="{{model}}",version="{{version}}"})`;

let harness: ControllerHarness;
let controller: Controller;
let node: TestNode;
let prometheus: PrometheusTestServer;

async function post<T>(path: string, body: unknown): Promise<{ status: number; body: T }> {
  const response = await controller.app.request(path, {
    method: "POST",
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as T };
}

async function send(count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const response = await fetch(`${node.url}/v2/models/${MODEL}/infer`, { method: "POST", body: BODY });
    expect(response.status).toBe(200);
    await response.arrayBuffer();
  }
}

/** Until Prometheus has scraped at least `count` answers of `version`. */
async function scraped(version: string, count: number): Promise<void> {
  await prometheus.until(
    `sum(cutover_infer_requests_total{model="${MODEL}",version="${version}"})`,
    (values) => (values[0] ?? 0) >= count,
  );
}

/** Until the node's heartbeat record carries the current step's counts of at least `requests` answers. */
async function reported(requests: number): Promise<void> {
  for (let waited = 0; ; waited += 100) {
    const state = await controller.fleet.getModelState(MODEL);
    const progressive = state.rollout?.progressive;
    const records = await controller.fleet.listNodes();
    const counted = records
      .map((record) => record.models[MODEL]?.split)
      .filter((split) => split?.rolloutId === state.rollout?.id && split?.seq === progressive?.seq)
      .reduce((sum, split) => sum + Object.values(split?.traffic ?? {}).reduce((n, t) => n + t.requests, 0), 0);
    if (counted >= requests) return;
    if (waited > 30_000) throw new Error(`the node reported ${counted} of ${requests} requests`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

beforeAll(async () => {
  harness = await startControllerHarness();
  node = await startTestNode(harness, PREFIX, "prom1", { models: [MODEL] });
  prometheus = await startPrometheus([new URL(node.url).host]);
  controller = await harness.controller(PREFIX, {}, { prometheus: { url: prometheus.url, timeoutMs: 2_000 } });
  expect((await post(`/v1/models/${MODEL}/activate`, { version: "v1" })).status).toBe(200);
  await send(20);
  await scraped("v1", 20);
}, 120_000);

afterAll(async () => {
  await node?.close();
  await prometheus?.stop();
  await harness?.stop();
});

/**
 * A 50 % canary judged by `checks`; the built-in latency checks are set out of reach (two versions
 * of different weights on a busy box are not what this file tests).
 */
const canary = (checks: unknown[], version = "v2") => ({
  version,
  canary: [50],
  minRequests: 20,
  maxP50Ratio: 1000,
  maxP99Ratio: 1000,
  minP99DeltaMs: 3_600_000,
  checks,
});

describe("analysis checks on Prometheus", () => {
  it("refuses at the start a metric Prometheus has no series of, a query it refuses, an unknown placeholder", async () => {
    const typo = await post<{ error: { code: string; message: string } }>(
      `/v1/models/${MODEL}/activate`,
      canary([{ name: "typo", query: `sum(cutover_infer_request_total{model="{{model}}"})`, max: 1 }]),
    );
    expect(typo.status).toBe(400);
    expect(typo.body.error.message).toMatch(
      /^check typo: Prometheus at http:\/\/127\.0\.0\.1:\d+ holds no series of cutover_infer_request_total \(a typo/,
    );
    const broken = await post<{ error: { message: string } }>(
      `/v1/models/${MODEL}/activate`,
      canary([{ name: "broken", query: "sum(cutover_infer_requests_total", max: 1 }]),
    );
    expect(broken.status).toBe(400);
    expect(broken.body.error.message).toMatch(/^check broken: Prometheus refuses the query: .*parse error/);
    const unknown = await post<{ error: { message: string } }>(
      `/v1/models/${MODEL}/activate`,
      canary([{ name: "unknown", query: `sum(cutover_infer_requests_total{job="{{job}}"})`, max: 1 }]),
    );
    expect(unknown.body.error.message).toMatch(/^check unknown: unknown placeholder \{\{job\}\}/);
    // Nothing started.
    expect((await controller.fleet.getModelState(MODEL)).rollout).toBeNull();
  });

  it("a candidate whose custom metric is beyond its bound is rolled back with the figures", async () => {
    const started = await post<ProgressView>(
      `/v1/models/${MODEL}/activate`,
      canary([
        { name: "baseline-served", query: `sum(cutover_infer_requests_total{version="{{baseline}}"})`, min: 1 },
        { name: "answered", query: ANSWERED, max: 10 },
      ]),
    );
    expect(started.body).toMatchObject({ state: "progressing", weight: 50 });
    await send(120);
    await reported(120);
    await scraped("v2", 11);
    const view = await controller.progressive.tick(MODEL);
    expect(view).toMatchObject({ state: "rolled-back" });
    const [entry] = await controller.fleet.history(MODEL, 1);
    expect(entry?.reason).toMatch(
      /^analysis failed at 50 %: checks: baseline-served = \d+, within ≥ 1; answered = \d+, beyond its bound ≤ 10; built-in: candidate v2: /,
    );
    const checks = entry?.analyses?.at(-1)?.checks ?? [];
    expect(checks.map((check) => [check.name, check.verdict])).toEqual([
      ["baseline-served", "pass"],
      ["answered", "fail"],
    ]);
    expect(checks[1]?.query).toBe(`sum(cutover_infer_requests_total{model="${MODEL}",version="v2"})`);
    expect(checks[1]?.values?.[0]).toBeGreaterThan(10);
  });

  it("Prometheus down holds the step (inconclusive, the reason said); once it answers again the step goes on", async () => {
    const started = await post<ProgressView>(
      `/v1/models/${MODEL}/activate`,
      canary([{ name: "answered", query: ANSWERED, max: 1e9 }]),
    );
    expect(started.body).toMatchObject({ state: "progressing", weight: 50 });
    await send(120);
    await reported(120);
    await scraped("v2", 1);
    await prometheus.kill();
    const held = await controller.progressive.tick(MODEL);
    expect(held).toMatchObject({ state: "progressing", weight: 50 });
    expect(held?.holding).toMatch(
      /^inconclusive: checks: answered could not be judged: PROMETHEUS_UNREACHABLE|^inconclusive: checks: answered could not be judged: Prometheus at /,
    );
    // Still held on the next look: an unreachable Prometheus never passes a step.
    expect(await controller.progressive.tick(MODEL)).toMatchObject({ state: "progressing", weight: 50 });

    await prometheus.start();
    await scraped("v2", 1);
    const done = await controller.progressive.tick(MODEL);
    expect(done).toMatchObject({ state: "promoted" });
    const [entry] = await controller.fleet.history(MODEL, 1);
    expect(entry?.analyses?.at(-1)?.checks).toMatchObject([{ name: "answered", verdict: "pass" }]);
  });

  it("checks that passed are not asked again in the step: their results are carried while the step holds", async () => {
    // v2 serves now; v1 as the candidate, held by the built-in judge (far fewer requests than needed).
    const started = await post<ProgressView>(`/v1/models/${MODEL}/activate`, {
      ...canary([{ name: "answered", query: ANSWERED, max: 1e9 }], "v1"),
      minRequests: 1_000_000,
    });
    expect(started.body).toMatchObject({ state: "progressing", weight: 50 });
    await send(40);
    await reported(40);
    await scraped("v1", 21);
    const first = await controller.progressive.tick(MODEL);
    expect(first?.holding).toMatch(
      /^inconclusive: candidate v1: .*fewer than the 1000000 requests.*; checks: answered = \d+, within ≤ 1000000000$/,
    );
    await prometheus.kill();
    const again = await controller.progressive.tick(MODEL);
    expect(again?.holding).toMatch(/; checks: answered = \d+, within ≤ 1000000000$/);
    expect(again?.lastAnalysis?.checks).toEqual(first?.lastAnalysis?.checks);
    await prometheus.start();
    expect((await post<ProgressView>(`/v1/models/${MODEL}/abort`, {})).body).toMatchObject({ state: "aborted" });
  });
});
