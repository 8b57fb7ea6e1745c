/**
 * The fetcher's cache pruning on the folder store: version folders beyond what is in use and the spare
 * count go (least recently used first), blobs only they linked go with them, shared blobs and kept
 * versions stay whole, and nothing is pruned while a fetch runs.
 */
import { cp, readdir, stat, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { pushVersion } from "../../controller/publisher.js";
import { ArtifactLayout } from "../../core/artifact-layout.js";
import { verifyFolder } from "../../core/oms/verifier.js";
import { ModelRegistry } from "../../core/registry.js";
import { FolderStore } from "../../core/store/index.js";
import { VersionFetcher } from "../../core/version-fetcher.js";
import { DEMO } from "../support/registry-contract.js";
import { testKeyPair } from "../support/signing.js";
import { tempDir } from "../support/temp-dir.js";

const MODEL = "demo";

describe("pruning the version cache", () => {
  let fetcher: VersionFetcher;
  let cache: string;
  const owner = testKeyPair();
  const trusted = [owner.trusted];

  beforeEach(async () => {
    const work = await tempDir("cutover-prune-");
    const registry = new ModelRegistry(new FolderStore(join(work.path, "store")), new ArtifactLayout());
    // v1, v2, v3: demo versions; v1 and v4 share every file but the side file v4 adds.
    for (const version of ["v1", "v2", "v3"]) {
      await pushVersion(registry, { path: join(DEMO, version), model: MODEL, version, signingKey: owner.signer });
    }
    const v4 = join(work.path, "v4");
    await cp(join(DEMO, "v1"), v4, { recursive: true });
    await writeFile(join(v4, "notes.txt"), "v4 only");
    await pushVersion(registry, { path: v4, model: MODEL, version: "v4", signingKey: owner.signer });
    cache = join(work.path, "cache");
    fetcher = new VersionFetcher({ registry, cacheDir: cache, trustedKeys: trusted });
    // Fetched in this order, last used an hour apart: v1 oldest.
    const hour = 3_600_000;
    for (const [i, version] of ["v1", "v2", "v3", "v4"].entries()) {
      const { dir } = await fetcher.fetch(MODEL, version);
      const at = new Date(Date.now() - (4 - i) * hour);
      await utimes(dir, at, at);
    }
  });

  const cached = async () => (await readdir(join(cache, "versions", MODEL))).sort();
  const blobs = async () => (await readdir(join(cache, "blobs", "sha256"))).length;

  it("keeps what is in use and the most recently used spares; removes the rest and the blobs only they used", async () => {
    const before = await blobs();
    const pruned = await fetcher.prune(new Map([[MODEL, new Set(["v2"])]]), 1);
    // v2 in use; of v1, v3, v4 the most recent (v4) is the spare.
    expect([...(pruned?.versions ?? [])].sort()).toEqual([`${MODEL}/v1`, `${MODEL}/v3`]);
    expect(await cached()).toEqual(["v2", "v4"]);
    // v1's files are all in v4 (still linked); v3's own files go.
    expect(pruned?.blobs).toBeGreaterThan(0);
    expect(await blobs()).toBe(before - (pruned?.blobs ?? 0));
    for (const version of ["v2", "v4"]) await verifyFolder(fetcher.versionDir(MODEL, version), trusted);
    // A pruned version comes back by downloading it again, verified.
    const again = await fetcher.fetch(MODEL, "v3");
    expect(again.downloadedBytes).toBeGreaterThan(0);
    await verifyFolder(again.dir, trusted);
  });

  it("spare 0 keeps only what is in use; an in-use folder is touched, so it is the newest once it is not", async () => {
    await fetcher.prune(new Map([[MODEL, new Set(["v1", "v3"])]]), 0);
    expect(await cached()).toEqual(["v1", "v3"]);
    const v1 = (await stat(fetcher.versionDir(MODEL, "v1"))).mtimeMs;
    expect(v1).toBeGreaterThan(Date.now() - 60_000);
    await fetcher.prune(new Map([[MODEL, new Set(["v3"])]]), 1);
    expect(await cached()).toEqual(["v1", "v3"]);
    await fetcher.prune(new Map(), 0);
    expect(await cached()).toEqual([]);
    expect(await blobs()).toBe(0);
  });

  it("does nothing while a fetch runs, and a fetch started during a prune waits for it", async () => {
    const fetching = fetcher.fetch(MODEL, "v2");
    expect(await fetcher.prune(new Map(), 0)).toBeNull();
    await fetching;
    const pruning = fetcher.prune(new Map(), 0);
    const refetch = fetcher.fetch(MODEL, "v2");
    expect((await pruning)?.versions).toHaveLength(4);
    const fetched = await refetch;
    expect(fetched.downloadedBytes).toBeGreaterThan(0);
    await verifyFolder(fetched.dir, trusted);
  });
});
