/**
 * Fetches a published version from the object store into a local, content-addressed cache and
 * verifies it on the way in:
 *
 *   <cache>/blobs/sha256/<digest>        each file once, whatever version lists it (read-only)
 *   <cache>/versions/<model>/<version>/   the version as a folder: hard links to blobs + model.sig
 *   <cache>/tmp/                          downloads in progress (cleared at start)
 *
 * The signature is checked first (nothing is downloaded for an untrusted version), then the store's
 * listing must match the manifest exactly, then each file is streamed to a temp file while its
 * SHA-256 is computed and renamed into place only if the digest matches. A blob already in the cache
 * is hashed again before it is reused (one streamed read); one that no longer matches is removed with
 * every version folder linking it and downloaded again, and an existing version folder is reused only
 * when its files are links to those blobs (see cache-integrity.ts). Memory stays bounded by one
 * write batch per file in flight. A broken stream is resumed with a Range request (If-Match on the
 * ETag) after a capped, jittered backoff. The version folder appears by one rename, complete or not
 * at all. `prune` removes the version folders a node no longer needs and the blobs no folder links;
 * it never runs while a fetch does, and a fetch waits for a prune to end.
 */
import { createHash, type Hash, randomBytes } from "node:crypto";
import {
  chmod,
  copyFile,
  type FileHandle,
  link,
  mkdir,
  open,
  readdir,
  readFile,
  rename,
  rm,
  stat,
  utimes,
  writeFile,
} from "node:fs/promises";
import { dirname, join } from "node:path";
import { type ArtifactLayout, MODEL_CARD_FILE } from "./artifact-layout.js";
import { type BackoffOptions, backoffDelay, sleep } from "./backoff.js";
import { checkCachedBlob, isLinkedToBlobs } from "./cache-integrity.js";
import { CutoverError, ErrorCode, errorMessage, StoreError, VerificationError } from "./errors.js";
import { mapLimit } from "./map-limit.js";
import { assertCardIdentity, parseModelCard } from "./model-card.js";
import type { TrustedKey } from "./oms/keys.js";
import { createIgnoreMatcher, type ManifestEntry } from "./oms/manifest.js";
import { SIGNATURE_FILE } from "./oms/signer.js";
import { type VerifiedManifest, verifyBundle } from "./oms/verifier.js";
import type { ModelRegistry } from "./registry.js";
import type { ObjectStore } from "./store/object-store.js";

export interface FetchProgress {
  readonly model: string;
  readonly version: string;
  /** Bytes of this version now in the cache (downloaded or reused). */
  readonly doneBytes: number;
  readonly totalBytes: number;
  readonly file?: string;
}

export interface VersionFetcherOptions {
  readonly registry: ModelRegistry;
  readonly cacheDir: string;
  readonly trustedKeys: readonly TrustedKey[];
  /** Attempts per file before giving up (default 5). */
  readonly attempts?: number;
  readonly backoff?: BackoffOptions;
  /** Files downloaded in parallel (default 4). */
  readonly concurrency?: number;
}

export interface FetchedFile extends ManifestEntry {
  readonly path: string;
  readonly size: number;
}

export interface FetchedVersion {
  readonly model: string;
  readonly version: string;
  /** The verified version folder in the cache. */
  readonly dir: string;
  readonly manifest: VerifiedManifest;
  readonly files: readonly FetchedFile[];
  readonly downloadedBytes: number;
  readonly reusedBytes: number;
}

const WRITE_BATCH = 1024 * 1024;

export interface PruneResult {
  readonly versions: readonly string[];
  readonly blobs: number;
  readonly bytes: number;
}

/**
 * A version that carries a model card (every version `push` made) must be the model and version it was
 * asked for; checked on the verified bytes before the version folder appears in the cache.
 */
async function checkIdentity(
  model: string,
  version: string,
  files: readonly { readonly name: string; readonly path: string }[],
): Promise<void> {
  const card = files.find((file) => file.name === MODEL_CARD_FILE);
  if (card === undefined) return;
  assertCardIdentity(parseModelCard(await readFile(card.path)), model, version);
}

export class VersionFetcher {
  private readonly registry: ModelRegistry;
  private readonly store: ObjectStore;
  private readonly layout: ArtifactLayout;
  private readonly cacheDir: string;
  private readonly trustedKeys: readonly TrustedKey[];
  private readonly attempts: number;
  private readonly backoff: BackoffOptions;
  private readonly concurrency: number;
  private tempCleared = false;
  private fetching = 0;
  private pruning: Promise<PruneResult> | null = null;

  constructor(options: VersionFetcherOptions) {
    if (options.trustedKeys.length === 0)
      throw new CutoverError(ErrorCode.InvalidConfig, "fetcher: at least one trusted key is needed");
    this.registry = options.registry;
    this.store = options.registry.store;
    this.layout = options.registry.layout;
    this.cacheDir = options.cacheDir;
    this.trustedKeys = options.trustedKeys;
    this.attempts = options.attempts ?? 5;
    this.backoff = options.backoff ?? { baseMs: 200, maxMs: 5_000 };
    this.concurrency = options.concurrency ?? 4;
  }

  private get tempDir(): string {
    return join(this.cacheDir, "tmp");
  }

  blobPath(digest: string): string {
    return join(this.cacheDir, "blobs", "sha256", digest);
  }

  versionDir(model: string, version: string): string {
    return join(this.cacheDir, "versions", model, version);
  }

  /** Fetches and verifies `model`/`version`; returns the cached folder. */
  async fetch(model: string, version: string, onProgress?: (progress: FetchProgress) => void): Promise<FetchedVersion> {
    while (this.pruning !== null) await this.pruning.catch(() => undefined);
    this.fetching++;
    try {
      return await this.fetchNow(model, version, onProgress);
    } finally {
      this.fetching--;
    }
  }

  /**
   * Frees the cache: per model, keeps the `inUse` versions and the `spare` most recently used others
   * (by folder mtime; the in-use folders are touched first), removes the other version folders, then
   * every blob no version folder links any more. Returns null, doing nothing, while a fetch runs.
   */
  async prune(inUse: ReadonlyMap<string, ReadonlySet<string>>, spare: number): Promise<PruneResult | null> {
    if (this.fetching > 0 || this.pruning !== null) return null;
    const run = this.pruneNow(inUse, spare);
    this.pruning = run;
    try {
      return await run;
    } finally {
      this.pruning = null;
    }
  }

  private async pruneNow(inUse: ReadonlyMap<string, ReadonlySet<string>>, spare: number): Promise<PruneResult> {
    const root = join(this.cacheDir, "versions");
    const now = new Date();
    const removed: string[] = [];
    for (const model of await readdir(root).catch(() => [] as string[])) {
      const keep = inUse.get(model) ?? new Set<string>();
      const versions = await Promise.all(
        (await readdir(join(root, model))).map(async (version) => {
          const dir = join(root, model, version);
          if (keep.has(version)) await utimes(dir, now, now).catch(() => undefined);
          return { version, dir, mtime: (await stat(dir)).mtimeMs };
        }),
      );
      const others = versions.filter(({ version }) => !keep.has(version)).sort((a, b) => b.mtime - a.mtime);
      for (const { version, dir } of others.slice(spare)) {
        await rm(dir, { recursive: true, force: true });
        removed.push(`${model}/${version}`);
      }
    }
    let blobs = 0;
    let bytes = 0;
    const blobDir = join(this.cacheDir, "blobs", "sha256");
    for (const digest of await readdir(blobDir).catch(() => [] as string[])) {
      const path = join(blobDir, digest);
      const info = await stat(path).catch(() => undefined);
      // One link: the blob's own name. Every version folder that uses it holds another.
      if (info === undefined || info.nlink > 1) continue;
      await rm(path, { force: true });
      blobs++;
      bytes += info.size;
    }
    return { versions: removed, blobs, bytes };
  }

  private async fetchNow(
    model: string,
    version: string,
    onProgress?: (progress: FetchProgress) => void,
  ): Promise<FetchedVersion> {
    await this.clearTempOnce();
    const bundleBytes = await this.registry.readSignature(model, version);
    const manifest = verifyBundle(bundleBytes, this.trustedKeys);
    const sizes = await this.checkListing(model, version, manifest);
    const totalBytes = [...sizes.values()].reduce((sum, size) => sum + size, 0);

    let doneBytes = 0;
    let downloadedBytes = 0;
    let reusedBytes = 0;
    const report = (bytes: number, file: string) => {
      doneBytes += bytes;
      onProgress?.({ model, version, doneBytes, totalBytes, file });
    };
    const files = await mapLimit(manifest.resources, this.concurrency, async (entry) => {
      const key = this.layout.fileKey(model, version, entry.name);
      const size = sizes.get(entry.name) ?? 0;
      const path = this.blobPath(entry.digest);
      const cached = await checkCachedBlob(path, entry.digest, join(this.cacheDir, "versions"));
      if (cached === "intact") {
        reusedBytes += size;
        report(size, entry.name);
      } else {
        await this.downloadBlob(key, entry, size, (bytes) => report(bytes, entry.name));
        downloadedBytes += size;
      }
      return { ...entry, path, size };
    });
    await checkIdentity(model, version, files);
    const dir = await this.materialize(model, version, files, bundleBytes);
    return { model, version, dir, manifest, files, downloadedBytes, reusedBytes };
  }

  /** The store must hold exactly the listed files (plus the signature and ignored paths). */
  private async checkListing(model: string, version: string, manifest: VerifiedManifest): Promise<Map<string, number>> {
    const prefix = this.layout.versionPrefix(model, version);
    const isIgnored = createIgnoreMatcher([SIGNATURE_FILE, ...manifest.ignorePaths]);
    const sizes = new Map<string, number>();
    const unexpected: string[] = [];
    for await (const object of this.store.list(prefix)) {
      const name = object.key.slice(prefix.length);
      if (isIgnored(name)) continue;
      if (manifest.resources.some((entry) => entry.name === name)) sizes.set(name, object.size);
      else unexpected.push(name);
    }
    const missing = manifest.resources.filter((entry) => !sizes.has(entry.name)).map((entry) => entry.name);
    if (missing.length > 0) {
      throw new VerificationError(
        ErrorCode.MissingFile,
        `${model}/${version}: listed in the signature but not in the store: ${missing.join(", ")}`,
      );
    }
    if (unexpected.length > 0) {
      throw new VerificationError(
        ErrorCode.UnexpectedFile,
        `${model}/${version}: in the store but not in the signature: ${unexpected.join(", ")}`,
      );
    }
    return sizes;
  }

  /** Streams one object into the blob store, hashing as it goes; resumes after passing errors. */
  private async downloadBlob(
    key: string,
    entry: ManifestEntry,
    size: number,
    onBytes: (bytes: number) => void,
  ): Promise<void> {
    await mkdir(this.tempDir, { recursive: true });
    const temp = join(this.tempDir, `${entry.digest}.${randomBytes(4).toString("hex")}.part`);
    const hash = createHash("sha256");
    const file = await open(temp, "w");
    let written = 0;
    let etag: string | undefined;
    try {
      for (let attempt = 1; written < size || attempt === 1; attempt++) {
        try {
          const object = await this.store.get(key, { start: written, ...(etag ? { ifMatch: etag } : {}) });
          etag ??= object.etag;
          written += await copyHashing(object.body, file, hash, onBytes);
          break;
        } catch (error) {
          const partial = error instanceof PartialCopy;
          if (partial) written += error.bytes;
          const cause = partial ? error.cause : error;
          if (cause instanceof StoreError && cause.code === ErrorCode.AlreadyExists) {
            throw new VerificationError(
              ErrorCode.DigestMismatch,
              `${entry.name} changed in the store while it was being downloaded`,
              {
                cause,
              },
            );
          }
          if (!partial && !(cause instanceof StoreError && cause.retryable)) throw cause;
          if (attempt >= this.attempts) {
            throw new StoreError(
              ErrorCode.StoreUnreachable,
              `download of ${key} failed after ${attempt} attempt(s) at byte ${written}: ${errorMessage(cause)}`,
              { cause },
            );
          }
          await sleep(backoffDelay(attempt, this.backoff));
        }
      }
      await file.sync();
      await file.close();
      const digest = hash.digest("hex");
      if (digest !== entry.digest) {
        throw new VerificationError(
          ErrorCode.DigestMismatch,
          `${entry.name}: sha256 ${digest} does not match the signed ${entry.digest}`,
        );
      }
      await chmod(temp, 0o444);
      const target = this.blobPath(entry.digest);
      await mkdir(dirname(target), { recursive: true });
      await rename(temp, target);
    } finally {
      await file.close().catch(() => undefined);
      await rm(temp, { force: true });
    }
  }

  /** Builds the version folder in tmp from blobs, then renames it into place. */
  private async materialize(
    model: string,
    version: string,
    files: readonly FetchedFile[],
    bundle: Buffer,
  ): Promise<string> {
    const finalDir = this.versionDir(model, version);
    const existing = await readFile(join(finalDir, SIGNATURE_FILE)).catch(() => undefined);
    if (existing?.equals(bundle) && (await isLinkedToBlobs(finalDir, files))) return finalDir;
    const building = join(this.tempDir, `version-${randomBytes(6).toString("hex")}`);
    try {
      for (const entry of files) {
        const target = join(building, ...entry.name.split("/"));
        await mkdir(dirname(target), { recursive: true });
        await link(entry.path, target).catch(() => copyFile(entry.path, target));
      }
      await writeFile(join(building, SIGNATURE_FILE), bundle);
      await mkdir(dirname(finalDir), { recursive: true });
      await rm(finalDir, { recursive: true, force: true });
      await rename(building, finalDir);
      return finalDir;
    } finally {
      await rm(building, { recursive: true, force: true });
    }
  }

  /** Leftovers of a process that died mid-download are never trusted: clear them once. */
  private async clearTempOnce(): Promise<void> {
    if (this.tempCleared) return;
    this.tempCleared = true;
    const entries = await readdir(this.tempDir).catch(() => [] as string[]);
    await Promise.all(entries.map((name) => rm(join(this.tempDir, name), { recursive: true, force: true })));
  }
}

/** A stream broke after `bytes` bytes were written and hashed; the cause says why. */
class PartialCopy extends Error {
  constructor(
    readonly bytes: number,
    override readonly cause: unknown,
  ) {
    super(errorMessage(cause));
  }
}

/**
 * Copies a body into `file` and the hash. Chunks are hashed as they arrive and written in ~1 MiB
 * batches, one write in flight while the next batch fills, so network and disk overlap. Returns
 * the bytes copied; on a broken stream throws {@link PartialCopy} once everything that arrived
 * intact is written, so the file and the hash always hold the same bytes.
 */
async function copyHashing(
  body: AsyncIterable<unknown>,
  file: FileHandle,
  hash: Hash,
  onBytes: (bytes: number) => void,
): Promise<number> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let copied = 0;
  let inFlight: Promise<void> = Promise.resolve();
  const startWrite = () => {
    const batch = pending;
    const size = pendingBytes;
    pending = [];
    pendingBytes = 0;
    const write = file.writev(batch).then(() => {
      copied += size;
      onBytes(size);
    });
    write.catch(() => undefined); // awaited below; this only keeps Node from calling it unhandled meanwhile
    inFlight = write;
  };
  const iterator = body[Symbol.asyncIterator]();
  try {
    for (;;) {
      let next: IteratorResult<unknown>;
      try {
        next = await iterator.next();
      } catch (error) {
        await inFlight;
        if (pendingBytes > 0) startWrite();
        await inFlight;
        throw new PartialCopy(copied, error);
      }
      if (next.done) break;
      const chunk = next.value as Buffer;
      hash.update(chunk);
      pending.push(chunk);
      pendingBytes += chunk.length;
      if (pendingBytes >= WRITE_BATCH) {
        await inFlight;
        startWrite();
      }
    }
    await inFlight;
    if (pendingBytes > 0) startWrite();
    await inFlight;
  } finally {
    await Promise.resolve(iterator.return?.()).catch(() => undefined);
  }
  return copied;
}
