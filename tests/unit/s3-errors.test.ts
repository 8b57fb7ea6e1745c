import { S3ServiceException } from "@aws-sdk/client-s3";
import { describe, expect, it } from "vitest";
import { S3Store, toStoreError } from "../../core/store/index.js";
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
