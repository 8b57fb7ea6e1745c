import { createHash, randomBytes } from "node:crypto";
import { cp, open, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import { pushVersion } from "../../controller/publisher.js";
import { ArtifactLayout } from "../../core/artifact-layout.js";
import { partsOf } from "../../core/download/index.js";
import { OrderedHash } from "../../core/download/ordered-hash.js";
import { ModelRegistry } from "../../core/registry.js";
import { FolderStore, type GetOptions, type ObjectBody, type ObjectStore } from "../../core/store/index.js";
import { VersionFetcher } from "../../core/version-fetcher.js";
import { DEMO, filesUnder } from "../support/registry-contract.js";
import { testKeyPair } from "../support/signing.js";
import { tempDir } from "../support/temp-dir.js";

const PART = 64 * 1024;
const owner = testKeyPair();
const layout = new ArtifactLayout();
const WEIGHTS_KEY = layout.fileKey("m", "v1", "weights.bin");

/** The folder store, recording every read of one key; `beforeGet` can change the store or cut the body. */
class RecordingStore implements ObjectStore {
  readonly gets: GetOptions[] = [];
  beforeGet: ((options: GetOptions) => Promise<void>) | undefined;
  /** Cuts the first response for a part starting at the key's byte offset, after the value's bytes. */
  readonly cuts = new Map<number, number>();

  constructor(readonly inner: FolderStore) {}

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
    if (key !== WEIGHTS_KEY) return this.inner.get(key, options);
    this.gets.push(options);
    await this.beforeGet?.(options);
    const object = await this.inner.get(key, options);
    const cut = this.cuts.get(options.start ?? 0);
    if (cut === undefined) return object;
    this.cuts.delete(options.start ?? 0);
    return { ...object, body: cutAfter(object.body, cut) };
  }
}

/** A body that yields its first `bytes` bytes, then fails like a dropped connection. */
function cutAfter(body: Readable, bytes: number): Readable {
  let left = bytes;
  async function* cut() {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      if (chunk.length >= left) {
        if (left > 0) yield chunk.subarray(0, left);
        body.destroy();
        throw Object.assign(new Error("socket hang up"), { code: "ECONNRESET" });
      }
      left -= chunk.length;
      yield chunk;
    }
  }
  return Readable.from(cut(), { objectMode: false });
}

let work: Awaited<ReturnType<typeof tempDir>> | undefined;
afterEach(async () => {
  await work?.cleanup();
  work = undefined;
});

/** Publishes `m/v1` with a random `weights.bin` of `size` bytes; a fetcher reads it in 64 KiB parts, 3 at once. */
async function publish(size: number) {
  work = await tempDir();
  const model = join(work.path, "model");
  await cp(join(DEMO, "v1"), model, { recursive: true });
  const weights = randomBytes(size);
  await writeFile(join(model, "weights.bin"), weights);
  const folder = new FolderStore(join(work.path, "store"));
  await pushVersion(new ModelRegistry(folder, layout), {
    path: model,
    model: "m",
    version: "v1",
    signingKey: owner.signer,
  });
  const store = new RecordingStore(folder);
  const cacheDir = join(work.path, "cache");
  const fetcher = new VersionFetcher({
    registry: new ModelRegistry(store, layout),
    cacheDir,
    trustedKeys: [owner.trusted],
    backoff: { baseMs: 1, maxMs: 5 },
    ranged: { partBytes: PART, partsInFlight: 3, rangedFromBytes: 2 * PART },
  });
  const digest = createHash("sha256").update(weights).digest("hex");
  return { store, fetcher, cacheDir, digest };
}

const ranges = (gets: readonly GetOptions[]) => gets.map((get) => [get.start ?? 0, get.end]);

describe("a large file is read as parallel ranged GETs and hashed in byte order", () => {
  it.each([
    ["exactly 4 parts", 4 * PART, [0, PART, 2 * PART, 3 * PART].map((start) => [start, start + PART])],
    [
      "4 parts and 1 byte",
      4 * PART + 1,
      [...[0, PART, 2 * PART, 3 * PART].map((start) => [start, start + PART]), [4 * PART, 4 * PART + 1]],
    ],
    [
      "2 parts: the threshold",
      2 * PART,
      [
        [0, PART],
        [PART, 2 * PART],
      ],
    ],
  ])("%s: one GET per part, each bounded, the whole verified", async (_, size, expected) => {
    const { store, fetcher, digest } = await publish(size);
    const fetched = await fetcher.fetch("m", "v1");
    expect(ranges(store.gets).sort((a, b) => (a[0] ?? 0) - (b[0] ?? 0))).toEqual(expected);
    // Part 0 goes first and alone; every later part sends the ETag it saw.
    expect(store.gets[0]).toMatchObject({ start: 0 });
    expect(store.gets[0]?.ifMatch).toBeUndefined();
    for (const get of store.gets.slice(1)) expect(get.ifMatch).toBeDefined();
    const weights = fetched.files.find((file) => file.name === "weights.bin");
    expect(weights).toMatchObject({ size, digest });
    expect(
      createHash("sha256")
        .update(await readFile(join(fetched.dir, "weights.bin")))
        .digest("hex"),
    ).toBe(digest);
  });

  it.each([
    ["smaller than one part", PART - 1],
    ["over one part, under the threshold", PART + 1],
  ])("%s: today's single GET, no Range", async (_, size) => {
    const { store, fetcher, digest } = await publish(size);
    const fetched = await fetcher.fetch("m", "v1");
    expect(store.gets).toEqual([{ start: 0 }]);
    expect(fetched.files.find((file) => file.name === "weights.bin")?.digest).toBe(digest);
  });

  it("a part cut mid-way resumes from its last byte, within its range, and the whole verifies", async () => {
    const { store, fetcher, digest } = await publish(5 * PART + 7);
    store.cuts.set(2 * PART, 10_000);
    store.cuts.set(5 * PART, 3);
    const fetched = await fetcher.fetch("m", "v1");
    const starts = ranges(store.gets).sort((a, b) => (a[0] ?? 0) - (b[0] ?? 0));
    expect(starts).toContainEqual([2 * PART, 3 * PART]);
    expect(starts).toContainEqual([2 * PART + 10_000, 3 * PART]);
    expect(starts).toContainEqual([5 * PART + 3, 5 * PART + 7]);
    expect(store.gets).toHaveLength(8);
    const etag = (await store.head(WEIGHTS_KEY))?.etag;
    expect(store.gets.find((get) => get.start === 2 * PART + 10_000)?.ifMatch).toBe(etag);
    expect(fetched.files.find((file) => file.name === "weights.bin")?.digest).toBe(digest);
  });

  it("the object replaced mid-download → DIGEST_MISMATCH naming the file, nothing kept", async () => {
    const { store, fetcher, cacheDir } = await publish(6 * PART);
    store.beforeGet = async (options) => {
      if (options.start === 4 * PART) await store.inner.put(WEIGHTS_KEY, randomBytes(6 * PART));
    };
    await expect(fetcher.fetch("m", "v1")).rejects.toMatchObject({
      code: "DIGEST_MISMATCH",
      message: "weights.bin changed in the store while it was being downloaded",
    });
    const left = await filesUnder(cacheDir);
    expect(left.filter((file) => !file.startsWith("blobs/"))).toEqual([]);
  });

  it("bytes that are not the signed ones → DIGEST_MISMATCH, and no file in the cache or tmp", async () => {
    const { store, fetcher, cacheDir, digest } = await publish(3 * PART + 5);
    const bytes = await readFile(join(store.inner.location, WEIGHTS_KEY));
    bytes[2 * PART + 1] = (bytes[2 * PART + 1] ?? 0) ^ 0x01;
    await store.inner.put(WEIGHTS_KEY, bytes);
    await expect(fetcher.fetch("m", "v1")).rejects.toMatchObject({
      code: "DIGEST_MISMATCH",
      message: expect.stringContaining(`does not match the signed ${digest}`),
    });
    expect(store.gets).toHaveLength(4);
    const left = await filesUnder(cacheDir);
    expect(left.some((file) => file.endsWith(digest))).toBe(false);
    expect(left.filter((file) => !file.startsWith("blobs/"))).toEqual([]);
  });
});

describe("the pieces", () => {
  it("partsOf: every part the part size but the last", () => {
    expect(partsOf(10, 4)).toEqual([
      { start: 0, end: 4, bounded: true },
      { start: 4, end: 8, bounded: true },
      { start: 8, end: 10, bounded: true },
    ]);
    expect(partsOf(8, 4).map((part) => part.end)).toEqual([4, 8]);
    expect(partsOf(0, 4)).toEqual([]);
  });

  it("OrderedHash: parts written out of order hash to the digest of the whole", async () => {
    work = await tempDir();
    const bytes = randomBytes(5 * 1024 * 1024 + 3);
    const file = await open(join(work.path, "f"), "w+");
    try {
      const hash = new OrderedHash(file);
      const pieces = [3, 0, 4, 1, 2].map((i) => [i * 1024 * 1024, Math.min(bytes.length, (i + 1) * 1024 * 1024)]);
      pieces.push([5 * 1024 * 1024, bytes.length]);
      for (const [start = 0, end = 0] of pieces) {
        const chunk = bytes.subarray(start, end);
        hash.arrived(start, chunk);
        await file.write(chunk, 0, chunk.length, start);
        hash.written(start, chunk.length);
      }
      expect(await hash.digest(bytes.length)).toBe(createHash("sha256").update(bytes).digest("hex"));
    } finally {
      await file.close();
    }
  });
});
