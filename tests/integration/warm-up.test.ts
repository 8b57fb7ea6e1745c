/**
 * A model no synthetic input can run (the framer needs a real sample rate) deploys without golden
 * vectors — staged cold, with the warning in activate's answer, history and the node record — and
 * with `--sample` its recorded outputs gate every node: a version with other weights is refused.
 * Without samples, once the node served traffic, the requests it kept are replayed on the candidate and
 * its outputs compared with the active version's: reported, refused only above the rollout's bound.
 */
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Controller } from "../../controller/controller.js";
import { pushVersion } from "../../controller/publisher.js";
import { ArtifactLayout } from "../../core/artifact-layout.js";
import type { HistoryEntry, NodeOutcome, NodeRecord } from "../../core/model-state.js";
import { ModelRegistry } from "../../core/registry.js";
import { createObjectStore } from "../../core/store/index.js";
import { type ControllerHarness, startControllerHarness, TOKEN } from "../support/controller-harness.js";
import { startTestNode, type TestNode } from "../support/node-harness.js";
import { testKeyPair } from "../support/signing.js";
import { tempDir } from "../support/temp-dir.js";

const FRAMER = join(import.meta.dirname, "../../models/framer");
const SAMPLE = join(FRAMER, "sample.json");
const PREFIX = "warmup:";

let harness: ControllerHarness;
let controller: Controller;
let node: TestNode;
let work: Awaited<ReturnType<typeof tempDir>>;

async function call(path: string, body?: object) {
  const response = await controller.app.request(path, {
    method: body === undefined ? "GET" : "POST",
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

beforeAll(async () => {
  harness = await startControllerHarness();
  work = await tempDir();
  // The framer's versions are signed by a key of their own, trusted by this controller and node.
  const framerKey = testKeyPair();
  const publicKey = join(work.path, "framer.pub");
  await writeFile(publicKey, framerKey.publicPem);
  const config = harness.config(PREFIX);
  const registry = new ModelRegistry(createObjectStore(config.store), new ArtifactLayout(config.prefix));
  const signingKey = framerKey.signer;
  const push = (version: string, folder: string, extra: object = {}) =>
    pushVersion(registry, { path: join(FRAMER, folder), model: "framer", version, signingKey, ...extra });
  await push("cold", "v1");
  // Other weights, no samples: warmed up by replaying what the node served.
  await push("replayed", "v2");
  // The first weights again, no samples: replayed, and its outputs compared with the active version's.
  await push("first-weights", "v1");
  const sampled = await push("sampled", "v1", { samplePaths: [SAMPLE] });
  expect(sampled.goldenCases).toBe(1);
  // Other weights, checked against what the sampled version recorded.
  const card = await registry.readModelCard("framer", "sampled");
  const goldenPath = join(work.path, "golden.json");
  await writeFile(goldenPath, JSON.stringify(card.golden));
  await push("other-weights", "v2", { goldenPath });
  await push("other-weights-sampled", "v2", { samplePaths: [SAMPLE] });
  // No sr input (fixed at 16 kHz): callers of the others send sr.
  await push("fixed-rate", "v3");
  registry.store.close();

  const trusted = [...config.trustedKeyPaths, publicKey];
  controller = await harness.controller(PREFIX, {}, { trustedKeyPaths: trusted });
  node = await startTestNode(harness, PREFIX, "w1", { models: ["framer"], trustedKeyPaths: trusted });
});

afterAll(async () => {
  await node?.close();
  await harness?.stop();
  await work?.cleanup();
});

async function inferFramer(): Promise<{ status: number; body: Record<string, unknown> }> {
  const sample = await readFile(SAMPLE, "utf8");
  const response = await fetch(`${node.url}/v2/models/framer/infer`, { method: "POST", body: sample });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function nodeRecord(): Promise<NodeRecord> {
  const { body } = await call("/v1/nodes");
  const record = (body.nodes as NodeRecord[]).find((candidate) => candidate.nodeId === "w1");
  if (record === undefined) throw new Error("node w1 is not live");
  return record;
}

describe("a model synthetic inputs cannot run", () => {
  it("without samples: activates, staged cold, the warning in the answer, history and node record", async () => {
    const { status, body } = await call("/v1/models/framer/activate", { version: "cold", timeoutMs: 20_000 });
    expect(status).toBe(200);
    expect(body).toMatchObject({ to: "cold", confirmed: 1, nodes: [{ nodeId: "w1", warmup: "cold" }] });
    expect(body.warnings).toEqual([
      expect.stringMatching(/^w1: framer\/cold was staged cold: .*Reshape.*--sample FILE/),
    ]);
    const answer = await inferFramer();
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ model_version: "cold", outputs: [{ name: "energy", shape: [1, 4] }] });

    const history = (await call("/v1/models/framer/history")).body.history as HistoryEntry[];
    expect(history[0]).toMatchObject({ to: "cold", outcome: "promoted", nodes: [{ warmup: "cold" }] });
    expect(history[0]?.warnings).toEqual(body.warnings);
    const record = await nodeRecord();
    expect(Object.keys(record.models.framer?.cold ?? {})).toEqual(["cold"]);
  });

  it("with --sample: the recorded outputs are checked on the node (warm-up golden, no warning)", async () => {
    const { status, body } = await call("/v1/models/framer/activate", { version: "sampled", timeoutMs: 20_000 });
    expect(status).toBe(200);
    expect(body).toMatchObject({ to: "sampled", confirmed: 1, nodes: [{ nodeId: "w1", warmup: "golden" }] });
    expect(body.warnings).toBeUndefined();
    const record = await nodeRecord();
    // The cold version stays warm for a rollback, still marked cold; the active one is not.
    expect(record.models.framer?.active).toBe("sampled");
    expect(Object.keys(record.models.framer?.cold ?? {})).toEqual(["cold"]);
  });

  it("other weights checked against those samples' outputs are refused with GOLDEN_MISMATCH; the sampled version serves on", async () => {
    const { status, body } = await call("/v1/models/framer/activate", { version: "other-weights", timeoutMs: 20_000 });
    expect(status).toBe(504);
    expect(body.error).toMatchObject({
      code: "ROLLOUT_ABORTED",
      nodes: [{ nodeId: "w1", outcome: "failed", code: "GOLDEN_MISMATCH" }],
    });
    const answer = await inferFramer();
    expect(answer.body.model_version).toBe("sampled");
    // Pushed with its own samples, the same weights record their own outputs and activate.
    const own = await call("/v1/models/framer/activate", { version: "other-weights-sampled", timeoutMs: 20_000 });
    expect(own.body).toMatchObject({ to: "other-weights-sampled", nodes: [{ warmup: "golden" }] });
  });
  it("without samples, once its node served the model: staged warm by replaying what it served (no warning)", async () => {
    // The requests of the tests before were answered by the active versions and kept for replay; the
    // one answered now by the active version (the same weights) is also compared.
    expect((await inferFramer()).body.model_version).toBe("other-weights-sampled");
    const { status, body } = await call("/v1/models/framer/activate", { version: "replayed", timeoutMs: 20_000 });
    expect(status).toBe(200);
    expect(body).toMatchObject({ to: "replayed", confirmed: 1, nodes: [{ nodeId: "w1", warmup: "replay" }] });
    expect(body.warnings).toBeUndefined();
    const [outcome] = body.nodes as NodeOutcome[];
    expect(outcome?.replay).toMatchObject({ compared: 1, divergent: 0, worstAbsolute: 0 });
    expect(outcome?.replay?.replayed).toBeGreaterThanOrEqual(2);
    const history = (await call("/v1/models/framer/history")).body.history as HistoryEntry[];
    expect(history[0]).toMatchObject({ to: "replayed", nodes: [{ warmup: "replay", replay: outcome?.replay }] });
    expect((await inferFramer()).body.model_version).toBe("replayed");
  });

  it("other weights without samples: replay reports its divergence, refused only above the rollout's bound", async () => {
    // Answered by the active version: the outputs the candidate's are compared with.
    expect((await inferFramer()).body.model_version).toBe("replayed");
    const bounded = await call("/v1/models/framer/activate", {
      version: "first-weights",
      maxReplayDivergence: 0,
      timeoutMs: 20_000,
    });
    expect(bounded.status).toBe(504);
    expect(bounded.body.error).toMatchObject({
      code: "ROLLOUT_ABORTED",
      nodes: [
        {
          nodeId: "w1",
          outcome: "failed",
          code: "REPLAY_DIVERGED",
          reason: expect.stringMatching(
            /more often than the 0 % allowed: \d+ replayed, [1-9]\d* of \d+ compared diverged \(worst .* absolute, .* % relative\); first: request \d+, output energy: value \d+ is /,
          ),
        },
      ],
    });
    expect((await inferFramer()).body.model_version).toBe("replayed");

    // With no bound the divergence is reported and the version goes ahead.
    const reported = await call("/v1/models/framer/activate", { version: "first-weights", timeoutMs: 20_000 });
    expect(reported.status).toBe(200);
    const [outcome] = reported.body.nodes as NodeOutcome[];
    expect(outcome?.replay?.divergent).toBeGreaterThanOrEqual(1);
    expect(outcome?.replay?.worstAbsolute).toBeGreaterThan(0);
    const rollback = await call("/v1/models/framer/rollback", { timeoutMs: 20_000 });
    expect(rollback.body).toMatchObject({ to: "replayed", confirmed: 1 });
  });
});

describe("a version that drops an input callers send (as silero VAD's half export drops sr)", () => {
  it("is refused by default, naming the input; forced, callers that send it get 400 naming the version", async () => {
    const refused = await call("/v1/models/framer/activate", { version: "fixed-rate", timeoutMs: 20_000 });
    expect(refused.status).toBe(422);
    expect(refused.body.error).toMatchObject({
      code: "INCOMPATIBLE_SCHEMA",
      message: expect.stringContaining('input "sr" INT64[] is gone (callers that send it would get 400 unknown input)'),
    });
    const before = await inferFramer();
    expect([before.status, before.body.model_version]).toEqual([200, "replayed"]);

    const forced = await call("/v1/models/framer/activate", {
      version: "fixed-rate",
      allowIncompatible: true,
      timeoutMs: 20_000,
    });
    expect(forced.body).toMatchObject({ to: "fixed-rate", confirmed: 1 });
    const broken = await inferFramer();
    expect(broken).toEqual({
      status: 400,
      body: {
        error: 'unknown input "sr"; the model takes "audio"',
        model_name: "framer",
        model_version: "fixed-rate",
      },
    });
    const metrics = await (await fetch(`${node.url}/metrics`)).text();
    expect(metrics).toMatch(
      /^cutover_infer_requests_total\{model="framer",version="fixed-rate",outcome="client_error",code="400"\} 1$/m,
    );
  });
});
