/**
 * The fetcher never hands out cached bytes that do not match the signature: a reused blob is hashed
 * again, and one that changed on disk (through a version folder's hard link, or garbled) is removed
 * with the folders linking it and downloaded again; a version folder whose file was swapped for
 * another is built again from the blobs.
 */
import { chmod, cp, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
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
const owner = testKeyPair();
const trusted = [owner.trusted];
let work: Awaited<ReturnType<typeof tempDir>>;
let fetcher: VersionFetcher;

beforeEach(async () => {
  work = await tempDir("cutover-cache-integrity-");
  const registry = new ModelRegistry(new FolderStore(join(work.path, "store")), new ArtifactLayout());
  await pushVersion(registry, { path: join(DEMO, "v1"), model: MODEL, version: "v1", signingKey: owner.signer });
  // v1b: v1's files (the same blobs) and one of its own.
  const v1b = join(work.path, "v1b");
  await cp(join(DEMO, "v1"), v1b, { recursive: true });
  await writeFile(join(v1b, "notes.txt"), "v1b only");
  await pushVersion(registry, { path: v1b, model: MODEL, version: "v1b", signingKey: owner.signer });
  fetcher = new VersionFetcher({ registry, cacheDir: join(work.path, "cache"), trustedKeys: trusted });
});
afterEach(() => work.cleanup());

/** Writes over a cached file in place, as a hand edit does: the blob it links changes with it. */
async function overwriteInPlace(path: string, bytes: Buffer): Promise<void> {
  await chmod(path, 0o644);
  await writeFile(path, bytes);
}

describe("a cached version whose bytes changed on disk", () => {
  it("overwritten through the version folder's hard link: the blob is downloaded again and the folder rebuilt", async () => {
    const first = await fetcher.fetch(MODEL, "v1");
    const model = join(first.dir, "model.onnx");
    const signed = await readFile(model);
    await overwriteInPlace(model, await readFile(join(DEMO, "v2", "model.onnx")));
    await expect(verifyFolder(first.dir, trusted)).rejects.toMatchObject({ code: "DIGEST_MISMATCH" });

    const again = await fetcher.fetch(MODEL, "v1");
    expect(again.downloadedBytes).toBe(signed.length);
    expect(await readFile(join(again.dir, "model.onnx"))).toEqual(signed);
    await verifyFolder(again.dir, trusted);
  });

  it("garbled: downloaded again, not reused", async () => {
    const first = await fetcher.fetch(MODEL, "v1");
    const model = first.files.find((file) => file.name === "model.onnx");
    if (model === undefined) throw new Error("model.onnx not fetched");
    await overwriteInPlace(model.path, Buffer.from("not a protobuf"));

    const again = await fetcher.fetch(MODEL, "v1");
    expect(again.downloadedBytes).toBe(model.size);
    await verifyFolder(again.dir, trusted);
  });

  it("also removes another version's folder that links the changed blob", async () => {
    const v1 = await fetcher.fetch(MODEL, "v1");
    const v1b = await fetcher.fetch(MODEL, "v1b");
    await overwriteInPlace(join(v1.dir, "model.onnx"), Buffer.from("changed"));
    await fetcher.fetch(MODEL, "v1");
    await expect(verifyFolder(v1b.dir, trusted)).rejects.toMatchObject({ code: "MISSING_FILE" });
    await verifyFolder((await fetcher.fetch(MODEL, "v1b")).dir, trusted);
  });

  it("a version folder's file replaced by another file (the blob intact): the folder is rebuilt from the blob", async () => {
    const first = await fetcher.fetch(MODEL, "v1");
    const model = join(first.dir, "model.onnx");
    await rm(model);
    await writeFile(model, Buffer.from("not the signed model"));

    const again = await fetcher.fetch(MODEL, "v1");
    expect(again.downloadedBytes).toBe(0);
    await verifyFolder(again.dir, trusted);
  });

  it("an extra file in a version folder: the folder is rebuilt", async () => {
    const first = await fetcher.fetch(MODEL, "v1");
    await writeFile(join(first.dir, "extra.txt"), "dropped in");
    const again = await fetcher.fetch(MODEL, "v1");
    await verifyFolder(again.dir, trusted);
  });

  it("intact: reused, nothing downloaded", async () => {
    const first = await fetcher.fetch(MODEL, "v1");
    const again = await fetcher.fetch(MODEL, "v1");
    expect(again.downloadedBytes).toBe(0);
    expect(again.reusedBytes).toBe(first.downloadedBytes);
  });
});
