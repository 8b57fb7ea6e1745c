import { randomBytes } from "node:crypto";
import { cp, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { pushVersion } from "../../controller/publisher.js";
import { ArtifactLayout } from "../../core/artifact-layout.js";
import { ModelRegistry } from "../../core/registry.js";
import { FolderStore, type GetOptions, type ObjectBody, type ObjectStore } from "../../core/store/index.js";
import { VersionFetcher } from "../../core/version-fetcher.js";
import { DEMO, filesUnder } from "../support/registry-contract.js";
import { testKeyPair } from "../support/signing.js";
import { tempDir } from "../support/temp-dir.js";

/** A body that yields the first `bytes` bytes of `body`, then fails like a dropped connection. */
function breakAfter(body: Readable, bytes: number): Readable {
  let left = bytes;
  return Readable.from(
    (async function* () {
      for await (const chunk of body as AsyncIterable<Buffer>) {
        if (chunk.length >= left) {
          if (left > 0) yield chunk.subarray(0, left);
          body.destroy();
          throw Object.assign(new Error("socket hang up"), { code: "ECONNRESET" });
        }
        left -= chunk.length;
        yield chunk;
      }
    })(),
    { objectMode: false },
  );
}

/** The folder store, with scripted breaks on reads of one key (a test double of a flaky network). */
class FlakyStore implements ObjectStore {
  readonly gets: GetOptions[] = [];
  breaks: number[] = [];
  beforeRetry: (() => Promise<void>) | undefined;

  constructor(
    private readonly inner: FolderStore,
    private readonly flakyKey: string,
  ) {}

  get location() {
    return this.inner.location;
  }
  put: ObjectStore["put"] = (key, body, options) => this.inner.put(key, body, options);
  head: ObjectStore["head"] = (key) => this.inner.head(key);
  list: ObjectStore["list"] = (prefix) => this.inner.list(prefix);
  listFolders: ObjectStore["listFolders"] = (prefix) => this.inner.listFolders(prefix);
  delete: ObjectStore["delete"] = (key) => this.inner.delete(key);
  close(): void {}

  async get(key: string, options: GetOptions = {}): Promise<ObjectBody> {
    if (key !== this.flakyKey) return this.inner.get(key, options);
    if (this.gets.length > 0 && this.beforeRetry) await this.beforeRetry();
    this.gets.push(options);
    const object = await this.inner.get(key, options);
    const cut = this.breaks.shift();
    return cut === undefined ? object : { ...object, body: breakAfter(object.body, cut) };
  }
}

const owner = testKeyPair();
const SIZE = 3 * 1024 * 1024 + 17;
let work: Awaited<ReturnType<typeof tempDir>>;
let store: FlakyStore;
let fetcher: VersionFetcher;

beforeEach(async () => {
  work = await tempDir();
  const model = join(work.path, "model");
  await cp(join(DEMO, "v1"), model, { recursive: true });
  await writeFile(join(model, "weights.bin"), randomBytes(SIZE));
  const folder = new FolderStore(join(work.path, "store"));
  const layout = new ArtifactLayout();
  await pushVersion(new ModelRegistry(folder, layout), {
    path: model,
    model: "m",
    version: "v1",
    signingKey: owner.signer,
  });
  store = new FlakyStore(folder, layout.fileKey("m", "v1", "weights.bin"));
  fetcher = new VersionFetcher({
    registry: new ModelRegistry(store, layout),
    cacheDir: join(work.path, "cache"),
    trustedKeys: [owner.trusted],
    backoff: { baseMs: 1, maxMs: 5 },
  });
});
afterEach(() => work.cleanup());

describe("a download that breaks", () => {
  it("resumes from the byte it reached, twice, and verifies", async () => {
    store.breaks = [1_000_000, 1_500_000];
    const fetched = await fetcher.fetch("m", "v1");
    expect(store.gets.map((get) => get.start ?? 0)).toEqual([0, 1_000_000, 2_500_000]);
    expect(store.gets[1]?.ifMatch).toBeDefined();
    expect(fetched.files.find((file) => file.name === "weights.bin")?.size).toBe(SIZE);
  });

  it("that broke after the last byte needs no further request", async () => {
    store.breaks = [SIZE];
    await fetcher.fetch("m", "v1");
    expect(store.gets).toHaveLength(1);
  });

  it("when the object is replaced before the resume → DIGEST_MISMATCH, nothing half-written is kept", async () => {
    store.breaks = [1_000_000];
    store.beforeRetry = async () => {
      await store.put("m/v1/weights.bin", randomBytes(SIZE));
    };
    await expect(fetcher.fetch("m", "v1")).rejects.toMatchObject({
      code: "DIGEST_MISMATCH",
      message: "weights.bin changed in the store while it was being downloaded",
    });
    const left = await filesUnder(join(work.path, "cache"));
    expect(left.filter((file) => !file.startsWith("blobs/"))).toEqual([]);
  });

  it("more breaks than attempts → STORE_UNREACHABLE naming the file and the byte reached", async () => {
    store.breaks = [100_000, 100_000, 100_000, 100_000, 100_000];
    await expect(fetcher.fetch("m", "v1")).rejects.toMatchObject({
      code: "STORE_UNREACHABLE",
      message: expect.stringMatching(
        /^download of m\/v1\/weights\.bin failed after 5 attempt\(s\) at byte 500000: socket hang up/,
      ),
    });
  });
});
