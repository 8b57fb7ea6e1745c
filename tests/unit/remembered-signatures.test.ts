/**
 * The controller remembers the signatures it verified, but confirms each against the store on every
 * activation (one HEAD of model.sig): a signature deleted or rewritten in the store while the
 * controller runs is read again, and a version that no longer verifies is refused before anything
 * changes — without a controller restart.
 */
import { readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { assembleController } from "../../controller/controller.js";
import { parseTokens } from "../../controller/http/tokens.js";
import { pushVersion } from "../../controller/publisher.js";
import { MemoryRolloutStore } from "../../controller/state/memory-rollout-store.js";
import { ArtifactLayout } from "../../core/artifact-layout.js";
import { MemoryBus } from "../../core/memory/memory-bus.js";
import { MemoryFleetState } from "../../core/memory/memory-fleet-state.js";
import { ModelRegistry } from "../../core/registry.js";
import { FolderStore, type GetOptions, type ObjectBody, type ObjectInfo } from "../../core/store/index.js";
import { DEMO } from "../support/registry-contract.js";
import { testKeyPair } from "../support/signing.js";
import { tempDir } from "../support/temp-dir.js";

const TOKEN = "remembered-token-0123456789";
const MODEL = "demo";
const owner = testKeyPair();
const stranger = testKeyPair();

/** The folder store, counting reads of signatures; with `etags` off, a store whose HEAD gives none. */
class CountingStore extends FolderStore {
  readonly signatureReads: string[] = [];
  etags = true;
  override async head(key: string): Promise<ObjectInfo | undefined> {
    const info = await super.head(key);
    return info === undefined || this.etags ? info : { key: info.key, size: info.size };
  }
  override get(key: string, options?: GetOptions): Promise<ObjectBody> {
    if (key.endsWith("/model.sig")) this.signatureReads.push(key);
    return super.get(key, options);
  }
}

let root: string;
let store: CountingStore;
let fleet: MemoryFleetState;
let app: ReturnType<typeof assembleController>["app"];

beforeEach(async () => {
  root = (await tempDir("cutover-remembered-")).path;
  store = new CountingStore(join(root, "store"));
  const registry = new ModelRegistry(store, new ArtifactLayout());
  for (const [version, from] of [
    ["v1", "v1"],
    ["v2", "v2"],
    ["rb1", "v1"],
  ] as const) {
    await pushVersion(registry, { path: join(DEMO, from), model: MODEL, version, signingKey: owner.signer });
  }
  fleet = new MemoryFleetState();
  ({ app } = assembleController({
    fleet,
    transitions: new MemoryRolloutStore(fleet),
    bus: new MemoryBus(),
    registry,
    trustedKeys: [owner.trusted],
    tokens: parseTokens(`ops:${TOKEN}`),
    lockTtlMs: 30_000,
    close: async () => undefined,
  }));
});

async function post(action: "activate" | "rollback", body: Record<string, unknown> = {}) {
  const response = await app.request(`/v1/models/${MODEL}/${action}`, {
    method: "POST",
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify({ allowNoNodes: true, ...body }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

const signatureOf = (version: string) => join(root, "store", MODEL, version, "model.sig");

describe("a remembered signature", () => {
  it("unchanged in the store: confirmed by a HEAD, not read and verified again", async () => {
    for (const version of ["v1", "v2"]) expect((await post("activate", { version })).status).toBe(200);
    const reads = store.signatureReads.length;
    expect((await post("rollback")).body).toMatchObject({ to: "v1" });
    expect((await post("activate", { version: "v2" })).body).toMatchObject({ to: "v2" });
    expect(store.signatureReads.length).toBe(reads);
  });

  it("deleted from the store: activate and rollback answer NOT_FOUND and nothing changes", async () => {
    for (const version of ["rb1", "v2"]) expect((await post("activate", { version })).status).toBe(200);
    await rm(signatureOf("rb1"));
    expect(await post("rollback")).toMatchObject({ status: 404, body: { error: { code: "NOT_FOUND" } } });
    expect(await post("activate", { version: "rb1" })).toMatchObject({
      status: 404,
      body: { error: { code: "NOT_FOUND" } },
    });
    expect(await fleet.getModelState(MODEL)).toMatchObject({ active: "v2", previous: "rb1" });
  });

  it("garbled in the store: BUNDLE_INVALID; signed again by an untrusted key: UNTRUSTED_KEY", async () => {
    for (const version of ["v1", "v2"]) expect((await post("activate", { version })).status).toBe(200);
    await writeFile(signatureOf("v1"), "{ not a bundle");
    expect((await post("rollback")).body).toMatchObject({ error: { code: "BUNDLE_INVALID" } });

    const registry = new ModelRegistry(new FolderStore(join(root, "other")), new ArtifactLayout());
    await pushVersion(registry, { path: join(DEMO, "v1"), model: MODEL, version: "v1", signingKey: stranger.signer });
    await writeFile(signatureOf("v1"), await readFile(join(root, "other", MODEL, "v1", "model.sig")));
    expect((await post("activate", { version: "v1" })).body).toMatchObject({ error: { code: "UNTRUSTED_KEY" } });
    expect(await fleet.getModelState(MODEL)).toMatchObject({ active: "v2" });
  });

  it("in a store without ETags: confirmed by reading model.sig (no verify), and a rewrite is still caught", async () => {
    store.etags = false;
    for (const version of ["v1", "v2"]) expect((await post("activate", { version })).status).toBe(200);
    const reads = store.signatureReads.length;
    expect((await post("rollback")).body).toMatchObject({ to: "v1" });
    expect(store.signatureReads.length).toBe(reads + 1);
    // One character of the signature changed: the same size, other bytes.
    const bundle = await readFile(signatureOf("v2"));
    const at = bundle.indexOf('"sig":"') + '"sig":"'.length;
    expect(at).toBeGreaterThan('"sig":"'.length);
    bundle[at] = bundle[at] === 0x41 ? 0x42 : 0x41;
    await writeFile(signatureOf("v2"), bundle);
    expect((await post("rollback")).body).toMatchObject({
      error: { code: expect.stringMatching(/^(SIGNATURE_INVALID|BUNDLE_INVALID)$/) },
    });
    expect(await fleet.getModelState(MODEL)).toMatchObject({ active: "v1" });
  });
});
