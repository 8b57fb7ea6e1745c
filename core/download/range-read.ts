/**
 * Reads one byte range of an object into the download's file, resuming after a broken connection from
 * the byte it reached (a Range request with If-Match on the ETag seen first), after a capped, jittered
 * backoff, up to a number of attempts. Every response must be the object the download began with: the
 * same ETag (where the store sends one) and size, whether or not the store honours If-Match, so two
 * versions of an object are never mixed in one file.
 */
import { type BackoffOptions, backoffDelay, sleep } from "../backoff.js";
import { ErrorCode, errorMessage, StoreError, VerificationError } from "../errors.js";
import type { ObjectBody, ObjectStore } from "../store/object-store.js";
import { type CopyTarget, copyAt, PartialCopy } from "./stream-copy.js";

/** What all ranges of one download share. */
export interface RangeSource {
  readonly store: ObjectStore;
  readonly key: string;
  /** The file's name in the manifest, for messages. */
  readonly name: string;
  /** The object's size as listed. */
  readonly size: number;
  readonly attempts: number;
  readonly backoff: BackoffOptions;
  /** The ETag of the first response, set by it; later requests send it as If-Match. */
  etag: string | undefined;
}

export interface ByteRange {
  readonly start: number;
  /** One past the last byte. */
  readonly end: number;
  /** Send `end` in the request (a part); a single GET asks for the rest of the object. */
  readonly bounded: boolean;
}

/** The object changed under the download: a DIGEST_MISMATCH, as the bytes would not match either. */
function changedError(source: RangeSource, cause?: unknown): VerificationError {
  return new VerificationError(
    ErrorCode.DigestMismatch,
    `${source.name} changed in the store while it was being downloaded`,
    cause === undefined ? {} : { cause },
  );
}

function checkSameObject(source: RangeSource, object: ObjectBody): void {
  if (object.totalSize !== source.size) throw changedError(source);
  if (source.etag === undefined) source.etag = object.etag;
  else if (object.etag !== undefined && object.etag !== source.etag) throw changedError(source);
}

/**
 * Copies `range` of the object into the target; `onOpen` is told once the first response's headers
 * (and so the ETag) are in. Resolves when every byte of the range is written.
 */
export async function readRange(
  source: RangeSource,
  range: ByteRange,
  target: CopyTarget,
  onOpen: () => void = () => undefined,
): Promise<void> {
  let position = range.start;
  for (let attempt = 1; ; attempt++) {
    let cause: unknown;
    try {
      const object = await source.store.get(source.key, {
        start: position,
        ...(range.bounded ? { end: range.end } : {}),
        ...(source.etag !== undefined ? { ifMatch: source.etag } : {}),
      });
      try {
        checkSameObject(source, object);
      } catch (error) {
        object.body.destroy();
        throw error;
      }
      onOpen();
      const copied = await copyAt(object.body, target, position, range.end - position);
      position += copied;
      if (position >= range.end) return;
      cause = new Error(`the response ended at byte ${position}, before byte ${range.end}`);
    } catch (error) {
      if (target.signal.aborted) throw target.signal.reason;
      const partial = error instanceof PartialCopy;
      if (partial) position += error.bytes;
      cause = partial ? error.cause : error;
      if (cause instanceof StoreError && cause.code === ErrorCode.AlreadyExists) throw changedError(source, cause);
      if (!partial && !(cause instanceof StoreError && cause.retryable)) throw cause;
      // Broken after the last byte: nothing is left to ask for.
      if (position >= range.end) return;
    }
    if (attempt >= source.attempts) {
      throw new StoreError(
        ErrorCode.StoreUnreachable,
        `download of ${source.key} failed after ${attempt} attempt(s) at byte ${position}: ${errorMessage(cause)}`,
        { cause },
      );
    }
    await sleep(backoffDelay(attempt, source.backoff));
    if (target.signal.aborted) throw target.signal.reason;
  }
}
