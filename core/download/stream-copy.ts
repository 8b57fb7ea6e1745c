/**
 * Copies one response body into a file at its offset. Chunks go to the ordered hash as they arrive and
 * are written in batches (~1 MiB for a lone stream), one write in flight while the next batch fills, so
 * network and disk overlap. On a broken stream it throws {@link PartialCopy} once everything that arrived intact is
 * written, so the file holds every byte received and the resume starts right after the last one.
 */
import type { FileHandle } from "node:fs/promises";
import { ConfigError, errorMessage } from "../errors.js";
import type { OrderedHash } from "./ordered-hash.js";

/** A stream broke after `bytes` bytes were written; the cause says why. */
export class PartialCopy extends Error {
  override readonly name = "PartialCopy";
  constructor(
    readonly bytes: number,
    override readonly cause: unknown,
  ) {
    super(errorMessage(cause));
  }
}

export interface CopyTarget {
  readonly file: FileHandle;
  readonly hash: OrderedHash;
  /** Told the length of each batch once it is written. */
  readonly onBytes: (bytes: number) => void;
  /** Set when another part failed: the copy stops at the next chunk. */
  readonly signal: AbortSignal;
  /** Bytes gathered per write. */
  readonly batchBytes: number;
}

/**
 * Copies `body` into the target file from `position`; at most `limit` bytes are expected (the rest of
 * the range asked for). Returns the bytes copied. More than `limit` means the store ignored the Range
 * header: a ConfigError, since retrying cannot help.
 */
export async function copyAt(
  body: AsyncIterable<unknown>,
  target: CopyTarget,
  position: number,
  limit: number,
): Promise<number> {
  const { file, hash, onBytes, signal, batchBytes } = target;
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let received = 0;
  let dispatched = 0;
  let copied = 0;
  let inFlight: Promise<void> = Promise.resolve();
  const startWrite = () => {
    const batch = pending;
    const size = pendingBytes;
    const at = position + dispatched;
    pending = [];
    pendingBytes = 0;
    dispatched += size;
    const write = file.writev(batch, at).then(() => {
      copied += size;
      hash.written(at, size);
      onBytes(size);
    });
    write.catch(() => undefined); // awaited below; this only keeps Node from calling it unhandled meanwhile
    inFlight = write;
  };
  const flush = async () => {
    await inFlight;
    if (pendingBytes > 0) startWrite();
    await inFlight;
  };
  const iterator = body[Symbol.asyncIterator]();
  try {
    for (;;) {
      let next: IteratorResult<unknown>;
      try {
        next = await iterator.next();
      } catch (error) {
        await flush();
        throw new PartialCopy(copied, error);
      }
      if (next.done) break;
      if (signal.aborted) {
        await flush();
        throw signal.reason;
      }
      const chunk = next.value;
      if (!Buffer.isBuffer(chunk)) throw new TypeError("a response body yielded something other than bytes");
      if (received + chunk.length > limit) {
        await flush();
        throw new ConfigError(
          `the store sent more than the ${limit} bytes asked for from byte ${position}: it does not honour Range requests`,
        );
      }
      hash.arrived(position + received, chunk);
      received += chunk.length;
      pending.push(chunk);
      pendingBytes += chunk.length;
      if (pendingBytes >= batchBytes) {
        await inFlight;
        startWrite();
      }
    }
    await flush();
  } finally {
    await Promise.resolve(iterator.return?.()).catch(() => undefined);
  }
  return copied;
}
