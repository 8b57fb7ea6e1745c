/**
 * The behaviour every object store must give the registry: push → list → fetch → verify, refusal
 * to overwrite, and each bad artifact caught with its code, the cache left clean. Run against the
 * folder store (unit) and a real S3-protocol server (integration).
 */
import { cp, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { pushVersion } from "../../controller/publisher.js";
import { ArtifactLayout } from "../../core/artifact-layout.js";
import { sha256File } from "../../core/digest.js";
import { parseModelCard } from "../../core/model-card.js";
import { verifyFolder } from "../../core/oms/index.js";
import { ModelRegistry } from "../../core/registry.js";
import { type ObjectStore, readObject } from "../../core/store/index.js";
import { VersionFetcher } from "../../core/version-fetcher.js";
import { testKeyPair } from "./signing.js";
import { tempDir } from "./temp-dir.js";

export const DEMO = join(import.meta.dirname, "../../models/demo-classifier");

export interface StoreHarness {
  /** A new, empty store for one test. */
  create(label: string): Promise<ObjectStore>;
}

/** Lists every file under a folder, relative, for "nothing was left behind" checks. */
export async function filesUnder(root: string): Promise<string[]> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name).slice(root.length + 1));
}

export function registryContract(name: string, harness: () => StoreHarness): void {
  describe(`the registry on ${name}`, () => {
    const owner = testKeyPair();
    let work: Awaited<ReturnType<typeof tempDir>>;
    let store: ObjectStore;
    let registry: ModelRegistry;
    let cacheDir: string;

    const fetcher = (keys = [owner.trusted]) =>
      new VersionFetcher({ registry, cacheDir, trustedKeys: keys, backoff: { baseMs: 5, maxMs: 20 } });
    const push = (path: string, version: string, extra: Partial<Parameters<typeof pushVersion>[1]> = {}) =>
      pushVersion(registry, { path, model: "demo", version, signingKey: owner.signer, ...extra });

    beforeAll(async () => {
      work = await tempDir();
    });
    afterAll(() => work.cleanup());
    beforeEach(async (context) => {
      store = await harness().create(context.task.name);
      registry = new ModelRegistry(store, new ArtifactLayout("models"));
      cacheDir = join(work.path, `cache-${Math.random().toString(36).slice(2)}`);
    });
    afterEach(() => store.close());

    it("push → list → fetch → verify round trip, with the model card read from the ONNX file", async () => {
      const result = await push(join(DEMO, "v1"), "v1", {
        goldenPath: join(DEMO, "v1/golden.json"),
        source: { commit: "abc123", pipeline: "https://ci.example/run/7" },
      });
      expect(result).toMatchObject({ model: "demo", version: "v1", files: 4, signerHint: owner.signer.hint });

      expect(await registry.listModels()).toEqual(["demo"]);
      const [summary, ...others] = await registry.listVersions("demo");
      expect(others).toEqual([]);
      expect(summary).toMatchObject({
        version: "v1",
        files: 4,
        created: result.created,
        signerHint: owner.signer.hint,
      });

      const fetched = await fetcher().fetch("demo", "v1");
      expect(fetched.files.map((file) => file.name)).toEqual([
        "cutover.json",
        "golden.json",
        "labels.txt",
        "model.onnx",
      ]);
      await expect(verifyFolder(fetched.dir, [owner.trusted])).resolves.toBeDefined();
      const card = parseModelCard(await readFile(join(fetched.dir, "cutover.json")));
      expect(card.inputs).toEqual([{ name: "features", datatype: "FP32", shape: ["batch", 4] }]);
      expect(card.outputs).toEqual([{ name: "probabilities", datatype: "FP32", shape: ["batch", 3] }]);
      expect(card.source).toEqual({ commit: "abc123", pipeline: "https://ci.example/run/7" });
      expect(card.golden?.cases).toHaveLength(1);
      expect(await readFile(join(fetched.dir, "model.onnx"))).toEqual(await readFile(join(DEMO, "v1/model.onnx")));
    });

    it("a published version is immutable: a second push fails with ALREADY_EXISTS and changes nothing", async () => {
      await push(join(DEMO, "v1"), "v1");
      const before = await readObject(store, registry.layout.signatureKey("demo", "v1"));
      await expect(push(join(DEMO, "v2"), "v1")).rejects.toMatchObject({ code: "ALREADY_EXISTS" });
      expect(await readObject(store, registry.layout.signatureKey("demo", "v1"))).toEqual(before);
      expect(await readObject(store, registry.layout.fileKey("demo", "v1", "model.onnx"))).toEqual(
        await readFile(join(DEMO, "v1/model.onnx")),
      );
    });

    it("a file unchanged between versions is downloaded once (content-addressed cache)", async () => {
      await push(join(DEMO, "v1"), "v1");
      await push(join(DEMO, "v2"), "v2");
      const first = await fetcher().fetch("demo", "v1");
      const second = await fetcher().fetch("demo", "v2");
      expect(first.reusedBytes).toBe(0);
      const labels = (await readFile(join(DEMO, "v2/labels.txt"))).length;
      expect(second.reusedBytes).toBe(labels);
      const again = await fetcher().fetch("demo", "v2");
      expect(again.downloadedBytes).toBe(0);
    });

    it("objects of an unfinished push are not a version, and a new push replaces them", async () => {
      await store.put(registry.layout.fileKey("demo", "v1", "model.onnx"), Buffer.from("half"));
      expect(await registry.listVersions("demo")).toEqual([]);
      await push(join(DEMO, "v1"), "v1");
      expect((await registry.listVersions("demo")).map((v) => v.version)).toEqual(["v1"]);
      await expect(fetcher().fetch("demo", "v1")).resolves.toBeDefined();
    });

    it("a changed byte in the store → DIGEST_MISMATCH, and no blob, version or temp file is left", async () => {
      await push(join(DEMO, "v1"), "v1");
      const key = registry.layout.fileKey("demo", "v1", "model.onnx");
      const bytes = await readObject(store, key);
      bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) ^ 0xff;
      await store.put(key, bytes);
      await expect(fetcher().fetch("demo", "v1")).rejects.toMatchObject({ code: "DIGEST_MISMATCH" });
      const left = await filesUnder(cacheDir);
      expect(left.filter((file) => !file.startsWith("blobs/"))).toEqual([]);
      for (const blob of left) expect(await sha256File(join(cacheDir, blob))).toBe(blob.split("/").pop());
    });

    it("an extra or a missing object in the store → UNEXPECTED_FILE / MISSING_FILE, before any download", async () => {
      await push(join(DEMO, "v1"), "v1");
      await push(join(DEMO, "v2"), "v2");
      await store.put(registry.layout.fileKey("demo", "v1", "backdoor.py"), Buffer.from("print(1)"));
      await expect(fetcher().fetch("demo", "v1")).rejects.toMatchObject({ code: "UNEXPECTED_FILE" });
      await store.delete(registry.layout.fileKey("demo", "v2", "labels.txt"));
      await expect(fetcher().fetch("demo", "v2")).rejects.toMatchObject({ code: "MISSING_FILE" });
      expect(await filesUnder(cacheDir)).toEqual([]);
    });

    it("a version signed by an untrusted key → UNTRUSTED_KEY, nothing downloaded", async () => {
      await push(join(DEMO, "v1"), "v1");
      await expect(fetcher([testKeyPair().trusted]).fetch("demo", "v1")).rejects.toMatchObject({
        code: "UNTRUSTED_KEY",
      });
      expect(await filesUnder(cacheDir)).toEqual([]);
    });

    it("an unknown version → NOT_FOUND", async () => {
      await expect(fetcher().fetch("demo", "v9")).rejects.toMatchObject({ code: "NOT_FOUND" });
    });

    it("bad input to push is refused before anything is written", async () => {
      const bad = join(work.path, `bad-${Math.random().toString(36).slice(2)}`);
      await cp(join(DEMO, "v1"), bad, { recursive: true });
      await expect(push(bad, "v1", { goldenPath: join(DEMO, "v3/golden.json") })).rejects.toMatchObject({
        code: "MODEL_INVALID",
      });
      await writeFile(join(bad, "model.onnx"), "this is not an onnx model");
      await expect(push(bad, "v1")).rejects.toMatchObject({ code: "MODEL_INVALID" });
      await expect(push(bad, "../v1")).rejects.toMatchObject({ code: "INVALID_INPUT" });
      await expect(push(join(work.path, "nope"), "v1")).rejects.toMatchObject({ code: "INVALID_INPUT" });
      const keys: string[] = [];
      for await (const object of store.list("")) keys.push(object.key);
      expect(keys).toEqual([]);
    });

    it("one .onnx file is pushed as model.onnx", async () => {
      const result = await push(join(DEMO, "v2/model.onnx"), "single");
      expect(result.files).toBe(2);
      const fetched = await fetcher().fetch("demo", "single");
      expect(fetched.files.map((file) => file.name)).toEqual(["cutover.json", "model.onnx"]);
    });
  });
}
