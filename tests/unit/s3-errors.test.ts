import { S3ServiceException } from "@aws-sdk/client-s3";
import { describe, expect, it } from "vitest";
import { toStoreError } from "../../core/store/index.js";

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
