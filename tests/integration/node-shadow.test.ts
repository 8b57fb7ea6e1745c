/**
 * Shadow runs of a progressive rollout on real nodes (docs/NODE.md, Progressive rollouts): baseline
 * answers mirrored to the candidate after they went out, outputs compared within the candidate's
 * golden tolerance. A candidate with other weights (v2) diverges, one with the baseline's files (v4)
 * does not, the primary's answers are the baseline's, and the share mirrored is the shadow percent.
 * Real Redis and S3; the state and messages come from a scripted controller.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { NodeConfig } from "../../core/config.js";
import { type ControllerHarness, MODEL, startControllerHarness } from "../support/controller-harness.js";
import { infer, inferMany, startTestNode, type TestNode } from "../support/node-harness.js";
import { SplitDriver } from "../support/split-driver.js";

let harness: ControllerHarness;
let prefixNumber = 0;
const nodes: TestNode[] = [];
const drivers: SplitDriver[] = [];

beforeAll(async () => {
  harness = await startControllerHarness();
});
afterAll(async () => {
  await Promise.all(nodes.map((node) => node.close().catch(() => undefined)));
  await Promise.all(drivers.map((driver) => driver.close()));
  await harness.stop();
});

/**
 * A node serving v1 with `candidate` staged for a rollout and a split of weight 0 mirroring
 * `shadowPercent` % of requests to it; also v1's answer to the default request, before any split.
 */
async function shadowing(nodeId: string, candidate: string, shadowPercent: number, config: Partial<NodeConfig> = {}) {
  const prefix = `shadow${prefixNumber++}:`;
  const driver = await SplitDriver.start(harness.redis.url, prefix);
  drivers.push(driver);
  await driver.serve("v1");
  const node = await startTestNode(harness, prefix, nodeId, config);
  nodes.push(node);
  const reference = await infer(node.url);
  expect(reference.version).toBe("v1");
  await driver.prepare(`r-${nodeId}`, candidate);
  await expect.poll(() => driver.reports.find((r) => r.nodeId === nodeId)?.type, { timeout: 15_000 }).toBe("staged");
  const seq = await driver.split(0, shadowPercent);
  await expect.poll(() => driver.weighted(nodeId, seq), { timeout: 5_000 }).toBeDefined();
  return { driver, node, reference };
}

/** Sums a counter's series for `model` (and `version`) in the node's /metrics. */
async function counter(url: string, name: string, labels: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name}{${labels}}`));
  return Number(line?.split(" ").at(-1) ?? 0);
}

/**
 * Waits until `mirrored` requests were run in shadow or skipped (at least that many when `atLeast`);
 * returns the candidate's shadowed and divergent counts, and the skipped.
 */
async function shadowCounts(
  driver: SplitDriver,
  node: TestNode,
  nodeId: string,
  candidate: string,
  mirrored: number,
  atLeast = false,
) {
  const counts = async () => {
    const split = await driver.recordedSplit(nodeId);
    const traffic = split?.traffic[candidate];
    const skipped = await counter(node.url, "cutover_shadow_skipped_total", `model="${MODEL}"`);
    return { shadowed: traffic?.shadowed ?? 0, divergent: traffic?.divergent ?? 0, skipped };
  };
  const total = async () => {
    const { shadowed, skipped } = await counts();
    return shadowed + skipped;
  };
  if (atLeast) await expect.poll(total, { timeout: 5_000 }).toBeGreaterThanOrEqual(mirrored);
  else await expect.poll(total, { timeout: 5_000 }).toBe(mirrored);
  return counts();
}

describe("shadow runs", () => {
  it("a candidate with other weights diverges on every shadowed request; the answers are the baseline's, unchanged; requests are not the candidate's", async () => {
    const { driver, node, reference } = await shadowing("d1", "v2", 100);
    const answers = await inferMany(node.url, 60, () => ({}), 1);
    expect(answers.map((answer) => answer.version)).toEqual(new Array(60).fill("v1"));
    for (const answer of answers) expect(answer.body.outputs).toEqual(reference.body.outputs);
    const { shadowed, divergent } = await shadowCounts(driver, node, "d1", "v2", 60);
    expect(shadowed).toBeGreaterThan(30);
    expect(divergent).toBe(shadowed);
    const split = await driver.recordedSplit("d1");
    expect(split?.traffic.v2).toMatchObject({ requests: 0, failures: 0 });
    expect(split?.traffic.v1).toMatchObject({ requests: 60, failures: 0 });
    const labels = `model="${MODEL}",version="v2"`;
    expect(await counter(node.url, "cutover_shadow_requests_total", labels)).toBe(shadowed);
    expect(await counter(node.url, "cutover_shadow_divergences_total", labels)).toBe(divergent);
  });

  it("a candidate with the baseline's outputs counts no divergence", async () => {
    const { driver, node } = await shadowing("e1", "v4", 100);
    await inferMany(node.url, 60, () => ({}), 1);
    const { shadowed, divergent } = await shadowCounts(driver, node, "e1", "v4", 60);
    expect(shadowed).toBeGreaterThan(30);
    expect(divergent).toBe(0);
  });

  it("at 10 % shadow, a tenth of the baseline's requests are mirrored", async () => {
    const { driver, node } = await shadowing("p1", "v2", 10);
    await inferMany(node.url, 500, () => ({}), 4);
    // The mirroring sequence is a Weyl sequence from a random start: 50 ± 2 of 500.
    const { shadowed, skipped } = await shadowCounts(driver, node, "p1", "v2", 48, true);
    expect(shadowed + skipped).toBeLessThanOrEqual(52);
  });

  it("a baseline in worker threads (which take the request's input buffers) is shadowed from a copy", async () => {
    // v4 has v1's outputs: a shadow run on inputs the primary's worker took would fail, and diverge.
    const { driver, node, reference } = await shadowing("t1", "v4", 100, { instances: 2 });
    expect(node.node.agent.slots.get(MODEL)?.active?.execution).toEqual({ mode: "workers", instances: 2 });
    const answers = await inferMany(node.url, 40, () => ({}), 2);
    for (const answer of answers) expect([answer.version, answer.body.outputs]).toEqual(["v1", reference.body.outputs]);
    const { shadowed, divergent } = await shadowCounts(driver, node, "t1", "v4", 40);
    expect(shadowed).toBeGreaterThan(10);
    expect(divergent).toBe(0);
  });
});
