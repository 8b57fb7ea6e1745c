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
import { freePort } from "../support/free-port.js";
import { DEMO, filesUnder, registryContract } from "../support/registry-contract.js";
import { type S3TestServer, startS3Server } from "../support/s3-server.js";
import { testKeyPair } from "../support/signing.js";
import { tempDir } from "../support/temp-dir.js";

let server: S3TestServer;

beforeAll(async () => {
  server = await startS3Server();
});
afterAll(() => server.stop());

function s3Store(bucket: string, endpoint = server.endpoint, maxAttempts = 3): S3Store {
  return new S3Store({
    bucket,
    endpoint,
    forcePathStyle: true,
    credentials: server.credentials,
    maxAttempts,
    partSize: 5 * 1024 * 1024,
  });
}

registryContract("a real S3-protocol server", () => ({
  async create(label) {
    return s3Store(await server.createBucket(label));
  },
}));

describe("fetching from S3 when the network breaks", () => {
  const owner = testKeyPair();
  const WEIGHTS = 12 * 1024 * 1024;
  let work: Awaited<ReturnType<typeof tempDir>>;
  let proxy: CuttingProxy;
  let bucket: string;

  beforeAll(async () => {
    work = await tempDir();
    const model = join(work.path, "model");
    await cp(join(DEMO, "v1"), model, { recursive: true });
    await writeFile(join(model, "weights.bin"), randomBytes(WEIGHTS));
    bucket = await server.createBucket("network");
    const store = s3Store(bucket);
    // 12 MiB with 5 MiB parts: a real multipart upload.
    await pushVersion(new ModelRegistry(store, new ArtifactLayout()), {
      path: model,
      model: "big",
      version: "v1",
      signingKey: owner.signer,
    });
    store.close();
    const port = Number(new URL(server.endpoint).port);
    proxy = await startCuttingProxy(port);
  });
  afterAll(async () => {
    await proxy.close();
    await work.cleanup();
  });

  function fetcherThroughProxy(cacheDir: string, attempts: number): { fetcher: VersionFetcher; store: S3Store } {
    const store = s3Store(bucket, proxy.endpoint, 1);
    const registry = new ModelRegistry(store, new ArtifactLayout());
    const fetcher = new VersionFetcher({
      registry,
      cacheDir,
      trustedKeys: [owner.trusted],
      attempts,
      backoff: { baseMs: 5, maxMs: 20 },
    });
    return { fetcher, store };
  }

  it("a download cut mid-stream resumes with a Range request and verifies", async () => {
    const cacheDir = join(work.path, "cache-resume");
    const { fetcher, store } = fetcherThroughProxy(cacheDir, 4);
    proxy.cutNext(2, 3 * 1024 * 1024, /^GET \/[^ ]*weights\.bin/);
    const seen = proxy.requests.length;
    try {
      const fetched = await fetcher.fetch("big", "v1");
      const weights = fetched.files.find((file) => file.name === "weights.bin");
      expect(weights?.size).toBe(WEIGHTS);
      expect(await sha256File(join(fetched.dir, "weights.bin"))).toBe(weights?.digest);
      const weightRequests = proxy.requests.slice(seen).filter((head) => /^GET \/[^ ]*weights\.bin/.test(head));
      expect(weightRequests).toHaveLength(3);
      expect(weightRequests[0]).not.toMatch(/range:/i);
      expect(weightRequests[1]).toMatch(/range: bytes=\d+-/i);
      expect(weightRequests[2]).toMatch(/range: bytes=\d+-/i);
      expect(weightRequests[2]).toMatch(/if-match:/i);
      expect((await filesUnder(join(cacheDir, "tmp"))).length).toBe(0);
    } finally {
      store.close();
    }
  });

  it("a download that keeps breaking fails with STORE_UNREACHABLE and leaves no partial file", async () => {
    const cacheDir = join(work.path, "cache-broken");
    const { fetcher, store } = fetcherThroughProxy(cacheDir, 3);
    proxy.cutNext(100, 1024 * 1024, /^GET \/[^ ]*weights\.bin/);
    try {
      await expect(fetcher.fetch("big", "v1")).rejects.toMatchObject({
        code: "STORE_UNREACHABLE",
        message: expect.stringMatching(/weights\.bin failed after 3 attempt/),
      });
      const left = await filesUnder(cacheDir);
      expect(left.filter((file) => !file.startsWith("blobs/"))).toEqual([]);
      for (const blob of left) expect(await sha256File(join(cacheDir, blob))).toBe(blob.split("/").pop());
    } finally {
      proxy.cutNext(0, 0, /$^/);
      store.close();
    }
  });

  it("a store that does not answer → STORE_UNREACHABLE", async () => {
    const store = s3Store(bucket, `http://127.0.0.1:${await freePort()}`, 1);
    const registry = new ModelRegistry(store, new ArtifactLayout());
    try {
      await expect(registry.listModels()).rejects.toMatchObject({ code: "STORE_UNREACHABLE" });
      const fetcher = new VersionFetcher({
        registry,
        cacheDir: join(work.path, "cache-down"),
        trustedKeys: [owner.trusted],
      });
      await expect(fetcher.fetch("big", "v1")).rejects.toMatchObject({ code: "STORE_UNREACHABLE" });
    } finally {
      store.close();
    }
  });
});
