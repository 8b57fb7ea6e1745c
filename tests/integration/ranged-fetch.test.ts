import { randomBytes } from "node:crypto";
import { cp, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pushVersion } from "../../controller/publisher.js";
import { ArtifactLayout } from "../../core/artifact-layout.js";
import { sha256File } from "../../core/digest.js";
import { ModelRegistry } from "../../core/registry.js";
import { S3Store } from "../../core/store/index.js";
import { VersionFetcher } from "../../core/version-fetcher.js";
import { type CuttingProxy, startCuttingProxy } from "../support/cutting-proxy.js";
import { DEMO, filesUnder } from "../support/registry-contract.js";
import { type S3TestServer, startS3Server } from "../support/s3-server.js";
import { testKeyPair } from "../support/signing.js";
import { tempDir } from "../support/temp-dir.js";

const MIB = 1024 * 1024;
const WEIGHTS = 4 * MIB + 17;
const WEIGHTS_GET = /^GET \/[^ ]*\/big\/v1\/weights\.bin/;
const owner = testKeyPair();
let server: S3TestServer;
let proxy: CuttingProxy;
let work: Awaited<ReturnType<typeof tempDir>>;
let bucket: string;

function s3Store(endpoint: string): S3Store {
  return new S3Store({ bucket, endpoint, forcePathStyle: true, credentials: server.credentials, maxAttempts: 1 });
}

beforeAll(async () => {
  server = await startS3Server();
  work = await tempDir();
  const model = join(work.path, "model");
  await cp(join(DEMO, "v1"), model, { recursive: true });
  await writeFile(join(model, "weights.bin"), randomBytes(WEIGHTS));
  bucket = await server.createBucket("ranged");
  const store = s3Store(server.endpoint);
  await pushVersion(new ModelRegistry(store, new ArtifactLayout()), {
    path: model,
    model: "big",
    version: "v1",
    signingKey: owner.signer,
  });
  store.close();
  proxy = await startCuttingProxy(Number(new URL(server.endpoint).port));
});
afterAll(async () => {
  await proxy.close();
  await work.cleanup();
  await server.stop();
});

/** A fetcher through the proxy reading `weights.bin` in 1 MiB parts, 2 at once: 5 parts. */
function rangedFetcher(cacheDir: string): { fetcher: VersionFetcher; store: S3Store } {
  const store = s3Store(proxy.endpoint);
  const fetcher = new VersionFetcher({
    registry: new ModelRegistry(store, new ArtifactLayout()),
    cacheDir,
    trustedKeys: [owner.trusted],
    attempts: 4,
    backoff: { baseMs: 5, maxMs: 20 },
    ranged: { partBytes: MIB, partsInFlight: 2, rangedFromBytes: 2 * MIB },
  });
  return { fetcher, store };
}

describe("ranged GETs against a real S3-protocol server, through a proxy that cuts connections", () => {
  it("one bounded Range request per part; a part cut mid-way resumes from its last byte; the whole verifies", async () => {
    const cacheDir = join(work.path, "cache-cut");
    const { fetcher, store } = rangedFetcher(cacheDir);
    proxy.cutNext(1, 300_000, /^GET [^\r]*weights\.bin[\s\S]*range: bytes=2097152-3145727/i);
    const seen = proxy.requests.length;
    try {
      const fetched = await fetcher.fetch("big", "v1");
      const weights = fetched.files.find((file) => file.name === "weights.bin");
      expect(weights?.size).toBe(WEIGHTS);
      expect(await sha256File(join(fetched.dir, "weights.bin"))).toBe(weights?.digest);
      const heads = proxy.requests.slice(seen).filter((head) => WEIGHTS_GET.test(head));
      const rangeOf = (head: string) => /range: bytes=(\d+)-(\d+)/i.exec(head)?.slice(1).map(Number);
      const asked = heads.map(rangeOf).sort((a, b) => (a?.[0] ?? 0) - (b?.[0] ?? 0));
      expect(asked.filter((range) => range?.[1] === 2 * MIB + MIB - 1)).toHaveLength(2);
      const resumed = asked.find((range) => (range?.[0] ?? 0) > 2 * MIB && (range?.[0] ?? 0) < 3 * MIB);
      // Cut 300,000 bytes into the response (headers included): resumed past the part's start, before its end.
      expect(resumed?.[0]).toBeGreaterThan(2 * MIB + 200_000);
      expect(asked).toContainEqual([0, MIB - 1]);
      expect(asked).toContainEqual([4 * MIB, WEIGHTS - 1]);
      expect(heads).toHaveLength(6);
      // Every request after the first carries the first response's ETag.
      expect(heads.filter((head) => /if-match:/i.test(head))).toHaveLength(5);
      expect(await filesUnder(join(cacheDir, "tmp"))).toEqual([]);
    } finally {
      store.close();
    }
  });

  it("the object replaced while a part waits → DIGEST_MISMATCH naming the file, no partial file kept", async () => {
    const cacheDir = join(work.path, "cache-changed");
    const { fetcher, store } = rangedFetcher(cacheDir);
    const lastPart = /^GET [^\r]*weights\.bin[\s\S]*range: bytes=4194304-/i;
    proxy.hold(lastPart);
    try {
      const fetching = fetcher.fetch("big", "v1");
      fetching.catch(() => undefined);
      await expect.poll(() => proxy.requests.some((head) => lastPart.test(head)), { timeout: 15_000 }).toBe(true);
      // Written beside the download, straight to the server: the held part reads the new object.
      const writer = s3Store(server.endpoint);
      await writer.put("big/v1/weights.bin", randomBytes(WEIGHTS));
      writer.close();
      proxy.release();
      await expect(fetching).rejects.toMatchObject({
        code: "DIGEST_MISMATCH",
        message: "weights.bin changed in the store while it was being downloaded",
      });
      const left = await filesUnder(cacheDir);
      expect(left.filter((file) => !file.startsWith("blobs/"))).toEqual([]);
    } finally {
      proxy.release();
      store.close();
    }
  });
});
