/**
 * Downloads one object into the content-addressed blob store: into a temp file, hashed in byte order
 * as it arrives, fsynced, compared with the signed digest, made read-only and renamed into place — or,
 * on any failure, removed. A file below the ranged threshold is one GET stream (resumed with a Range
 * request after a cut); a larger one is read as parallel ranged GETs (part-reader.ts). Either way the
 * memory used is two write batches per stream, ~2 MiB per file, whatever the file's size.
 */
import { randomBytes } from "node:crypto";
import { chmod, mkdir, open, rename, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { BackoffOptions } from "../backoff.js";
import { ErrorCode, VerificationError } from "../errors.js";
import type { ManifestEntry } from "../oms/manifest.js";
import type { ObjectStore } from "../store/object-store.js";
import { OrderedHash } from "./ordered-hash.js";
import { type PartSettings, readParts } from "./part-reader.js";
import { type RangeSource, readRange } from "./range-read.js";

const MIB = 1024 * 1024;

/**
 * Write batches of one file add up to ~1 MiB however many parts are in flight (at least 256 KiB each):
 * fetching 1 GiB in 4 parts grew peak RSS by 49–60 MiB with 1 MiB batches per part, 34–44 MiB with 256 KiB
 * (same throughput), and a lone stream keeps the 1 MiB batches it always had.
 */
function batchBytes(parts: number): number {
  return Math.max(256 * 1024, Math.floor(MIB / parts));
}

export interface RangedSettings extends PartSettings {
  /** Files of at least this many bytes (and more than one part) are read in parts; smaller ones by one GET. */
  readonly rangedFromBytes: number;
}

/** 64 MiB parts, 4 in flight, from 2 parts up: what CUTOVER_FETCH_PART_MB and its neighbours default to. */
export const DEFAULT_RANGED: RangedSettings = { partBytes: 64 * MIB, partsInFlight: 4, rangedFromBytes: 128 * MIB };

export interface BlobDownload {
  readonly store: ObjectStore;
  readonly key: string;
  readonly entry: ManifestEntry;
  /** The object's size as listed. */
  readonly size: number;
  /** Where downloads in progress live (cleared by the fetcher at start). */
  readonly tempDir: string;
  /** The blob's path in the cache. */
  readonly blobPath: string;
  /** Attempts per range (a single GET, or each part) before giving up. */
  readonly attempts: number;
  readonly backoff: BackoffOptions;
  readonly ranged: RangedSettings;
  /** Told the length of each batch once it is written. */
  readonly onBytes: (bytes: number) => void;
}

/** True when `size` bytes are read as parallel ranged GETs under `ranged`. */
export function isRanged(size: number, ranged: RangedSettings): boolean {
  return size >= ranged.rangedFromBytes && size > ranged.partBytes;
}

/** Downloads and verifies one blob; DIGEST_MISMATCH (and no file) when its bytes are not the signed ones. */
export async function downloadBlob(download: BlobDownload): Promise<void> {
  const { entry, size } = download;
  await mkdir(download.tempDir, { recursive: true });
  const temp = join(download.tempDir, `${entry.digest}.${randomBytes(4).toString("hex")}.part`);
  const file = await open(temp, "w+");
  try {
    const hash = new OrderedHash(file);
    const abort = new AbortController();
    const ranged = isRanged(size, download.ranged);
    const target = {
      file,
      hash,
      onBytes: download.onBytes,
      signal: abort.signal,
      batchBytes: batchBytes(ranged ? download.ranged.partsInFlight : 1),
    };
    const source: RangeSource = {
      store: download.store,
      key: download.key,
      name: entry.name,
      size,
      attempts: download.attempts,
      backoff: download.backoff,
      etag: undefined,
    };
    if (ranged) await readParts(source, download.ranged, target, abort);
    else await readRange(source, { start: 0, end: size, bounded: false }, target);
    await file.sync();
    const digest = await hash.digest(size);
    await file.close();
    if (digest !== entry.digest) {
      throw new VerificationError(
        ErrorCode.DigestMismatch,
        `${entry.name}: sha256 ${digest} does not match the signed ${entry.digest}`,
      );
    }
    await chmod(temp, 0o444);
    await mkdir(dirname(download.blobPath), { recursive: true });
    await rename(temp, download.blobPath);
  } finally {
    await file.close().catch(() => undefined);
    await rm(temp, { force: true });
  }
}
