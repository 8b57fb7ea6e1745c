/**
 * A signed version copied under another model or version name (a substitution) verifies file by file
 * — the signature covers the bytes, not the folder — and must still be refused: by the controller
 * before anything changes, by the fetcher before the copy appears in a node's cache, and by the loader.
 */
import { cp, readdir } from "node:fs/promises";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { assembleController } from "../../controller/controller.js";
import { parseTokens } from "../../controller/http/tokens.js";
import { pushVersion } from "../../controller/publisher.js";
import { MemoryRolloutStore } from "../../controller/state/memory-rollout-store.js";
import { ArtifactLayout } from "../../core/artifact-layout.js";
import { ErrorCode } from "../../core/errors.js";
import { MemoryBus } from "../../core/memory/memory-bus.js";
import { MemoryFleetState } from "../../core/memory/memory-fleet-state.js";
import { ModelRegistry } from "../../core/registry.js";
import { FolderStore } from "../../core/store/index.js";
import { VersionFetcher } from "../../core/version-fetcher.js";
import { LoadedVersion } from "../../inference/loaded-version.js";
import { SessionOpener } from "../../inference/session-opener.js";
import { DEMO } from "../support/registry-contract.js";
import { testKeyPair } from "../support/signing.js";
import { tempDir } from "../support/temp-dir.js";

const TOKEN = "identity-token-0123456789";
let root: string;
let registry: ModelRegistry;
const key = testKeyPair();

beforeAll(async () => {
  root = (await tempDir("cutover-identity-")).path;
  registry = new ModelRegistry(new FolderStore(join(root, "store")), new ArtifactLayout());
  await pushVersion(registry, { path: join(DEMO, "v2"), model: "demo", version: "v2", signingKey: key.signer });
  // The attack: the whole signed folder copied to another model and another version name.
  await cp(join(root, "store/demo/v2"), join(root, "store/types/v2fromdemo"), { recursive: true });
  await cp(join(root, "store/demo/v2"), join(root, "store/demo/v7"), { recursive: true });
});

describe("a signed version copied under another name", () => {
  it("still verifies as a bundle: the signature alone cannot tell", async () => {
    expect(await registry.isPublished("types", "v2fromdemo")).toBe(true);
  });

  it.each([
    ["types", "v2fromdemo", "demo/v2"],
    ["demo", "v7", "demo/v2"],
  ])(
    "the fetcher refuses %s/%s with IDENTITY_MISMATCH and caches no version folder",
    async (model, version, signed) => {
      const cacheDir = join(root, `cache-${model}-${version}`);
      const fetcher = new VersionFetcher({ registry, cacheDir, trustedKeys: [key.trusted] });
      await expect(fetcher.fetch(model, version)).rejects.toMatchObject({
        code: ErrorCode.IdentityMismatch,
        message: `${model}/${version}: its signed cutover.json says it is ${signed}; a signed version copied under another name is refused`,
      });
      expect(await readdir(join(cacheDir, "versions")).catch(() => [])).toEqual([]);
      // The genuine version fetches from the same cache.
      await expect(fetcher.fetch("demo", "v2")).resolves.toMatchObject({ model: "demo", version: "v2" });
    },
  );

  it("the loader refuses a folder whose card names another version (a cache entry renamed on disk)", async () => {
    const cacheDir = join(root, "cache-loader");
    const fetcher = new VersionFetcher({ registry, cacheDir, trustedKeys: [key.trusted] });
    const { dir } = await fetcher.fetch("demo", "v2");
    const sessions = new SessionOpener({ executionProviders: ["cpu"] });
    await expect(LoadedVersion.load("types", "v2fromdemo", dir, sessions)).rejects.toMatchObject({
      code: ErrorCode.IdentityMismatch,
    });
  });

  it("the controller refuses to activate it (422 IDENTITY_MISMATCH) and nothing changes", async () => {
    const fleet = new MemoryFleetState();
    const { app } = assembleController({
      fleet,
      transitions: new MemoryRolloutStore(fleet),
      bus: new MemoryBus(),
      registry,
      trustedKeys: [key.trusted],
      tokens: parseTokens(`ops:${TOKEN}`),
      lockTtlMs: 30_000,
      close: async () => undefined,
    });
    const response = await app.request("/v1/models/types/activate", {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ version: "v2fromdemo", allowNoNodes: true }),
    });
    expect(response.status).toBe(422);
    expect(await response.json()).toMatchObject({ error: { code: "IDENTITY_MISMATCH" } });
    expect(await fleet.getModelState("types")).toMatchObject({ active: null, revision: 0, rollout: null });
  });
});
