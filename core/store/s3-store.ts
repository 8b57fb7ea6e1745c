/**
 * The object store on S3 or any S3-protocol server (MinIO, s3rver). Large bodies go up as
 * multipart uploads (@aws-sdk/lib-storage) with bounded concurrency and progress; reads take an open
 * or bounded Range and If-Match, so a broken download can resume, and a large one be read as parallel
 * parts, without mixing two objects. SDK errors are
 * mapped to {@link StoreError} codes in one function.
 */

import { Agent as HttpAgent } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import { Readable } from "node:stream";
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  S3Client,
  S3ServiceException,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import { ConfigError, ErrorCode, errorMessage, InputError, StoreError } from "../errors.js";
import { redactUrl } from "../redact.js";
import type { GetOptions, ObjectBody, ObjectInfo, ObjectStore, PutOptions } from "./object-store.js";

export interface S3StoreOptions {
  readonly bucket: string;
  /** Custom endpoint (MinIO, s3rver); AWS when absent. */
  readonly endpoint?: string;
  readonly region?: string;
  /** Path-style URLs (`endpoint/bucket/key`), which MinIO and most S3-compatible servers want. */
  readonly forcePathStyle?: boolean;
  /** Explicit credentials; the SDK's default chain when absent. */
  readonly credentials?: { accessKeyId: string; secretAccessKey: string };
  /** Parallel part uploads per object (default 4). */
  readonly uploadConcurrency?: number;
  /** Multipart part size in bytes (default 16 MiB, minimum 5 MiB). */
  readonly partSize?: number;
  /** SDK attempts per request (default 3). */
  readonly maxAttempts?: number;
  /** A socket that delivers nothing this long fails its request (default 30 s). */
  readonly idleTimeoutMs?: number;
}

const MIN_PART_SIZE = 5 * 1024 * 1024;
const DEFAULT_PART_SIZE = 16 * 1024 * 1024;

/** Maps anything the SDK throws to a typed error; `what` names the operation for the message. */
export function toStoreError(error: unknown, what: string): Error {
  if (error instanceof StoreError || error instanceof ConfigError) return error;
  const status = error instanceof S3ServiceException ? error.$metadata.httpStatusCode : undefined;
  const name = error instanceof Error ? error.name : "";
  const message = `${what}: ${errorMessage(error) || name}`;
  if (name === "NoSuchKey" || name === "NotFound" || status === 404) {
    if (name === "NoSuchBucket") return new ConfigError(`${what}: the bucket does not exist`, { cause: error });
    return new StoreError(ErrorCode.NotFound, `${what}: not found`, { cause: error });
  }
  if (name === "PreconditionFailed" || status === 412 || name === "ConditionalRequestConflict") {
    return new StoreError(ErrorCode.AlreadyExists, `${what}: already exists or changed (precondition failed)`, {
      cause: error,
    });
  }
  if (status === 401 || status === 403 || name === "AccessDenied" || name === "InvalidAccessKeyId") {
    return new ConfigError(`${what}: access denied (check the S3 credentials and bucket policy)`, { cause: error });
  }
  return new StoreError(ErrorCode.StoreUnreachable, message, { cause: error });
}

export class S3Store implements ObjectStore {
  readonly location: string;
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly uploadConcurrency: number;
  private readonly partSize: number;

  constructor(options: S3StoreOptions) {
    if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(options.bucket)) {
      throw new ConfigError(`S3 bucket ${JSON.stringify(options.bucket)} is not a valid bucket name`);
    }
    const partSize = options.partSize ?? DEFAULT_PART_SIZE;
    if (partSize < MIN_PART_SIZE) throw new ConfigError(`S3 partSize must be at least ${MIN_PART_SIZE} bytes`);
    const uploadConcurrency = options.uploadConcurrency ?? 4;
    if (!Number.isInteger(uploadConcurrency) || uploadConcurrency < 1) {
      throw new ConfigError("S3 uploadConcurrency must be a positive integer");
    }
    this.bucket = options.bucket;
    this.partSize = partSize;
    this.uploadConcurrency = uploadConcurrency;
    // Every message about this store names its location: a password in the endpoint must not reach them.
    this.location = options.endpoint
      ? `${redactUrl(options.endpoint).replace(/\/+$/, "")}/${options.bucket}`
      : `s3://${options.bucket}`;
    this.client = new S3Client({
      region: options.region ?? "us-east-1",
      ...(options.endpoint ? { endpoint: options.endpoint } : {}),
      forcePathStyle: options.forcePathStyle ?? false,
      ...(options.credentials ? { credentials: options.credentials } : {}),
      maxAttempts: options.maxAttempts ?? 3,
      requestHandler: new NodeHttpHandler({
        connectionTimeout: 5_000,
        // An idle bound, not a whole-request one: a 10 GB GET may take minutes, but a socket that
        // delivers nothing for 30 s is dead (a hung server, a half-open link). The fetcher resumes
        // a cut download with a Range request.
        socketTimeout: options.idleTimeoutMs ?? 30_000,
        httpAgent: new HttpAgent({ keepAlive: true, maxSockets: 64 }),
        httpsAgent: new HttpsAgent({ keepAlive: true, maxSockets: 64 }),
      }),
    });
  }

  async put(key: string, body: Buffer | Readable, options: PutOptions = {}): Promise<void> {
    const upload = new Upload({
      client: this.client,
      queueSize: this.uploadConcurrency,
      partSize: this.partSize,
      leavePartsOnError: false,
      params: {
        Bucket: this.bucket,
        Key: key,
        Body: body,
        ...(options.contentLength !== undefined ? { ContentLength: options.contentLength } : {}),
        ...(options.ifNoneMatch ? { IfNoneMatch: "*" } : {}),
      },
    });
    if (options.onProgress) {
      const report = options.onProgress;
      upload.on("httpUploadProgress", (progress) => report(progress.loaded ?? 0));
    }
    try {
      await upload.done();
    } catch (error) {
      throw toStoreError(error, `upload ${key} to ${this.location}`);
    }
  }

  async get(key: string, options: GetOptions = {}): Promise<ObjectBody> {
    const start = options.start ?? 0;
    try {
      const response = await this.client.send(
        new GetObjectCommand({
          Bucket: this.bucket,
          Key: key,
          ...(options.end !== undefined
            ? { Range: `bytes=${start}-${options.end - 1}` }
            : start > 0
              ? { Range: `bytes=${start}-` }
              : {}),
          ...(options.ifMatch ? { IfMatch: options.ifMatch } : {}),
        }),
      );
      if (!(response.Body instanceof Readable)) {
        throw new StoreError(ErrorCode.StoreUnreachable, `get ${key}: the response has no readable body`);
      }
      const totalSize = parseTotalSize(response.ContentRange) ?? (response.ContentLength ?? 0) + start;
      return { body: response.Body, totalSize, ...(response.ETag ? { etag: response.ETag } : {}) };
    } catch (error) {
      throw toStoreError(error, `get ${key} from ${this.location}`);
    }
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    try {
      const response = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return { key, size: response.ContentLength ?? 0, ...(response.ETag ? { etag: response.ETag } : {}) };
    } catch (error) {
      const mapped = toStoreError(error, `head ${key} in ${this.location}`);
      if (mapped instanceof StoreError && mapped.code === ErrorCode.NotFound) return undefined;
      throw mapped;
    }
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    let token: string | undefined;
    do {
      const page = await this.listPage(prefix, token);
      for (const item of page.Contents ?? []) {
        if (item.Key !== undefined)
          yield { key: item.Key, size: item.Size ?? 0, ...(item.ETag ? { etag: item.ETag } : {}) };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
  }

  /**
   * Derived from the full listing rather than `Delimiter: "/"`: s3rver answers delimiter listings
   * of nested prefixes with nothing, and a registry holds few enough objects that one paged listing
   * costs little (1,000 keys per request).
   */
  async listFolders(prefix: string): Promise<string[]> {
    if (prefix !== "" && !prefix.endsWith("/")) throw new InputError(`listFolders: prefix ${prefix} must end with /`);
    const folders = new Set<string>();
    for await (const object of this.list(prefix)) {
      const rest = object.key.slice(prefix.length);
      const slash = rest.indexOf("/");
      if (slash > 0) folders.add(rest.slice(0, slash));
    }
    return [...folders].sort();
  }

  private async listPage(prefix: string, token: string | undefined) {
    try {
      return await this.client.send(
        new ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: prefix,
          ...(token ? { ContinuationToken: token } : {}),
        }),
      );
    } catch (error) {
      throw toStoreError(error, `list ${prefix || "/"} in ${this.location}`);
    }
  }

  async delete(key: string): Promise<void> {
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
    } catch (error) {
      throw toStoreError(error, `delete ${key} in ${this.location}`);
    }
  }

  close(): void {
    this.client.destroy();
  }
}

/** The total from a `Content-Range: bytes a-b/total` header. */
function parseTotalSize(contentRange: string | undefined): number | undefined {
  const total = contentRange?.match(/\/(\d+)$/)?.[1];
  return total === undefined ? undefined : Number(total);
}
