import { S3ServiceException } from "@aws-sdk/client-s3";
import { describe, expect, it } from "vitest";
import { S3Store, toStoreError } from "../../core/store/index.js";
import { freePort } from "../support/free-port.js";
import { startSilentServer } from "../support/silent-server.js";

function serviceError(name: string, status: number): S3ServiceException {
  return new S3ServiceException({
    name,
    $fault: status >= 500 ? "server" : "client",
    $metadata: { httpStatusCode: status },
  });
}

describe("S3 errors map to typed errors in one place", () => {
  it.each([
    [serviceError("NoSuchKey", 404), "NOT_FOUND"],
    [serviceError("NotFound", 404), "NOT_FOUND"],
    [serviceError("NoSuchBucket", 404), "INVALID_CONFIG"],
    [serviceError("PreconditionFailed", 412), "ALREADY_EXISTS"],
    [serviceError("AccessDenied", 403), "INVALID_CONFIG"],
    [serviceError("InternalError", 500), "STORE_UNREACHABLE"],
    [serviceError("SlowDown", 503), "STORE_UNREACHABLE"],
    [Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:9"), { code: "ECONNREFUSED" }), "STORE_UNREACHABLE"],
  ])("%s → %s", (error, code) => {
    const mapped = toStoreError(error, "get k");
    expect(mapped).toMatchObject({ code });
    expect(mapped.message).toMatch(/^get k/);
    expect((mapped as Error & { cause?: unknown }).cause).toBe(error);
  });
});

describe("a store that accepts connections and never answers", () => {
  it("fails each request with STORE_UNREACHABLE once its socket has been idle for the bound", async () => {
    const silent = await startSilentServer();
    const store = new S3Store({
      bucket: "models",
      endpoint: silent.httpUrl,
      forcePathStyle: true,
      credentials: { accessKeyId: "a", secretAccessKey: "b" },
      maxAttempts: 1,
      idleTimeoutMs: 300,
    });
    try {
      const started = Date.now();
      await expect(store.head("demo/v1/model.sig")).rejects.toMatchObject({ code: "STORE_UNREACHABLE" });
      // Settled by the idle bound, far before any test deadline (nothing else would end it).
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(silent.accepted()).toBe(1);
    } finally {
      store.close();
      await silent.stop();
    }
  });
});

describe("a password written in the endpoint URL", () => {
  it("is replaced in the store's location and in every error that names it", async () => {
    const port = await freePort();
    const store = new S3Store({
      bucket: "models",
      endpoint: `http://minio:hunter2@127.0.0.1:${port}`,
      forcePathStyle: true,
      credentials: { accessKeyId: "a", secretAccessKey: "b" },
      maxAttempts: 1,
    });
    try {
      expect(store.location).toBe(`http://minio:***@127.0.0.1:${port}/models`);
      const error = await store.listFolders("").catch((thrown: unknown) => thrown);
      expect(error).toMatchObject({ code: "STORE_UNREACHABLE" });
      expect((error as Error).message).toContain(`list / in http://minio:***@127.0.0.1:${port}/models`);
      expect((error as Error).message).not.toContain("hunter2");
    } finally {
      store.close();
    }
  });
});
