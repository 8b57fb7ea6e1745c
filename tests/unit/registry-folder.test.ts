import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { type PushProgress, pushVersion } from "../../controller/publisher.js";
import { ArtifactLayout } from "../../core/artifact-layout.js";
import { ModelRegistry } from "../../core/registry.js";
import { FolderStore } from "../../core/store/index.js";
import { DEMO, registryContract } from "../support/registry-contract.js";
import { testKeyPair } from "../support/signing.js";
import { tempDir } from "../support/temp-dir.js";

registryContract("the folder store", () => ({
  async create(label) {
    const { path } = await tempDir(`cutover-store-${label.length}-`);
    return new FolderStore(join(path, "store"));
  },
}));

describe("push progress", () => {
  it("reports hashing of the local files first, then the upload, each up to its total", async () => {
    const { path } = await tempDir("cutover-push-progress-");
    const registry = new ModelRegistry(new FolderStore(join(path, "store")), new ArtifactLayout());
    const progress: PushProgress[] = [];
    const result = await pushVersion(registry, {
      path: join(DEMO, "v1"),
      model: "demo",
      version: "v1",
      signingKey: testKeyPair().signer,
      onProgress: (p) => progress.push(p),
    });
    const phases = progress.map((p) => p.phase);
    expect(phases.indexOf("uploading")).toBeGreaterThan(phases.lastIndexOf("hashing"));
    const last = (phase: PushProgress["phase"]) => progress.filter((p) => p.phase === phase).at(-1);
    // Hashing covers the folder's own files; the upload also carries the generated cutover.json.
    const local = (await readdir(join(DEMO, "v1"))).length;
    expect(last("hashing")?.doneBytes).toBe(last("hashing")?.totalBytes);
    expect(last("uploading")).toMatchObject({ doneBytes: result.bytes, totalBytes: result.bytes });
    expect(new Set(progress.filter((p) => p.phase === "hashing").map((p) => p.file)).size).toBe(local);
  });
});
