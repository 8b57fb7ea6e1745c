/**
 * The object store: the one interface through which cutover reads and writes artifacts. Two
 * implementations: S3 (any S3-protocol server) and a plain folder (the embedded default, local
 * use, unit tests). Keys are `/`-separated and never start with `/`.
 */
import type { Readable } from "node:stream";

export interface ObjectInfo {
  readonly key: string;
  readonly size: number;
  readonly etag?: string;
}

export interface PutOptions {
  /** Fail with ALREADY_EXISTS if the key exists (a conditional write where the server honours it). */
  readonly ifNoneMatch?: boolean;
  /** Byte length of a stream body, when known (lets S3 plan the multipart upload). */
  readonly contentLength?: number;
  /** Bytes sent so far. */
  readonly onProgress?: (loaded: number) => void;
}

export interface GetOptions {
  /** First byte to read (a Range request); default 0. */
  readonly start?: number;
  /** One past the last byte to read (a bounded Range request); default the end of the object. */
  readonly end?: number;
  /** Fail with ALREADY_EXISTS (precondition failed) unless the object still has this ETag, so a resumed read cannot mix two objects. */
  readonly ifMatch?: string;
}

export interface ObjectBody {
  readonly body: Readable;
  /** Size of the whole object, whatever `start` was. */
  readonly totalSize: number;
  readonly etag?: string;
}

export interface ObjectStore {
  /** Where it points, for messages: `s3://bucket`, `http://endpoint/bucket` or a folder path. */
  readonly location: string;
  put(key: string, body: Buffer | Readable, options?: PutOptions): Promise<void>;
  /** Throws StoreError NOT_FOUND when the key does not exist. */
  get(key: string, options?: GetOptions): Promise<ObjectBody>;
  /** Undefined when the key does not exist. */
  head(key: string): Promise<ObjectInfo | undefined>;
  /** Every object under `prefix`, at any depth. */
  list(prefix: string): AsyncIterable<ObjectInfo>;
  /** The names of the immediate "folders" under `prefix` (which ends with `/` or is empty). */
  listFolders(prefix: string): Promise<string[]>;
  delete(key: string): Promise<void>;
  close(): void;
}

/** Reads a whole (small) object into memory. */
export async function readObject(store: ObjectStore, key: string): Promise<Buffer> {
  const { body } = await store.get(key);
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
