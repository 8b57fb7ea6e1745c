/**
 * Fetches a published version from the object store into a local, content-addressed cache and
 * verifies it on the way in:
 *
 *   <cache>/blobs/sha256/<digest>        each file once, whatever version lists it (read-only)
 *   <cache>/versions/<model>/<version>/   the version as a folder: hard links to blobs + model.sig
 *   <cache>/tmp/                          downloads in progress (cleared at start)
 *
 * The signature is checked first (nothing is downloaded for an untrusted version), then the store's
 * listing must match the manifest exactly. A blob already in the cache is hashed again before it is
 * reused (one streamed read); one that no longer matches is removed with every version folder linking
 * it and downloaded again (cache-integrity.ts). The blobs still missing are downloaded holding one of
 * the version's fleet-wide download slots, when a gate is given (download-gate.ts): a node with
 * everything cached takes none, nor one missing less than one part's worth of bytes. Each is streamed to a temp file — one GET, or parallel ranged GETs for
 * a large file — hashed in byte order as it arrives, and renamed into place only if the digest matches
 * (download/). The version folder appears by one rename, complete or not at all (version-folder.ts).
 * `prune` removes the version folders a node no longer needs and the blobs no folder links
 * (cache-prune.ts); it never runs while a fetch does, and a fetch waits for a prune to end.
 */
import { readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import type { ArtifactLayout } from "./artifact-layout.js";
import type { BackoffOptions } from "./backoff.js";
import { checkCachedBlob } from "./cache-integrity.js";
import { type PruneResult, pruneCache } from "./cache-prune.js";
import { DEFAULT_RANGED, downloadBlob, type RangedSettings } from "./download/index.js";
import type { DownloadGate, SlotHooks } from "./download-gate.js";
import { ConfigError, CutoverError, ErrorCode, VerificationError } from "./errors.js";
import { mapLimit } from "./map-limit.js";
import type { TrustedKey } from "./oms/keys.js";
import { createIgnoreMatcher, type ManifestEntry } from "./oms/manifest.js";
import { SIGNATURE_FILE } from "./oms/signer.js";
import { type VerifiedManifest, verifyBundle } from "./oms/verifier.js";
import type { ModelRegistry } from "./registry.js";
import type { ObjectStore } from "./store/object-store.js";
import { buildVersionFolder } from "./version-folder.js";

export type { PruneResult } from "./cache-prune.js";

export interface FetchProgress {
  readonly model: string;
  readonly version: string;
  /** Bytes of this version now in the cache (downloaded or reused). */
  readonly doneBytes: number;
  readonly totalBytes: number;
  readonly file?: string;
}

/** What a fetch tells its caller as it goes. */
export interface FetchHooks extends SlotHooks {
  readonly onProgress?: (progress: FetchProgress) => void;
}

export interface VersionFetcherOptions {
  readonly registry: ModelRegistry;
  readonly cacheDir: string;
  readonly trustedKeys: readonly TrustedKey[];
  /** Attempts per GET (a whole file, or each part of a large one) before giving up (default 5). */
  readonly attempts?: number;
  readonly backoff?: BackoffOptions;
  /** Files downloaded in parallel (default 4). */
  readonly concurrency?: number;
  /** When a file is read as parallel ranged GETs, and in what parts (default {@link DEFAULT_RANGED}). */
  readonly ranged?: RangedSettings;
  /** The fleet-wide fan-in limit; none: download at once. */
  readonly gate?: DownloadGate;
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

function checkRanged(ranged: RangedSettings): RangedSettings {
  const { partBytes, partsInFlight, rangedFromBytes } = ranged;
  if (!Number.isInteger(partBytes) || partBytes < 1) {
    throw new ConfigError(`fetcher: ranged.partBytes must be a positive integer, not ${partBytes}`);
  }
  if (!Number.isInteger(partsInFlight) || partsInFlight < 1) {
    throw new ConfigError(`fetcher: ranged.partsInFlight must be a positive integer, not ${partsInFlight}`);
  }
  if (!Number.isInteger(rangedFromBytes) || rangedFromBytes < 0) {
    throw new ConfigError(`fetcher: ranged.rangedFromBytes must be an integer ≥ 0, not ${rangedFromBytes}`);
  }
  return ranged;
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
  private readonly ranged: RangedSettings;
  private readonly gate: DownloadGate | undefined;
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
    this.ranged = checkRanged(options.ranged ?? DEFAULT_RANGED);
    this.gate = options.gate;
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
  async fetch(model: string, version: string, hooks: FetchHooks = {}): Promise<FetchedVersion> {
    while (this.pruning !== null) await this.pruning.catch(() => undefined);
    this.fetching++;
    try {
      return await this.fetchNow(model, version, hooks);
    } finally {
      this.fetching--;
    }
  }

  /**
   * Frees the cache (see cache-prune.ts): keeps the `inUse` versions per model and the `spare` most
   * recently used others. Returns null, doing nothing, while a fetch runs.
   */
  async prune(inUse: ReadonlyMap<string, ReadonlySet<string>>, spare: number): Promise<PruneResult | null> {
    if (this.fetching > 0 || this.pruning !== null) return null;
    const run = pruneCache(this.cacheDir, inUse, spare);
    this.pruning = run;
    try {
      return await run;
    } finally {
      this.pruning = null;
    }
  }

  private async fetchNow(model: string, version: string, hooks: FetchHooks): Promise<FetchedVersion> {
    await this.clearTempOnce();
    const bundleBytes = await this.registry.readSignature(model, version);
    const manifest = verifyBundle(bundleBytes, this.trustedKeys);
    const sizes = await this.checkListing(model, version, manifest);
    const totalBytes = [...sizes.values()].reduce((sum, size) => sum + size, 0);

    let doneBytes = 0;
    const report = (bytes: number, file: string) => {
      doneBytes += bytes;
      hooks.onProgress?.({ model, version, doneBytes, totalBytes, file });
    };
    const files = manifest.resources.map((entry) => ({
      ...entry,
      path: this.blobPath(entry.digest),
      size: sizes.get(entry.name) ?? 0,
    }));
    const versionsRoot = join(this.cacheDir, "versions");
    const cached = await mapLimit(files, this.concurrency, async (file) => {
      const intact = (await checkCachedBlob(file.path, file.digest, versionsRoot)) === "intact";
      if (intact) report(file.size, file.name);
      return intact;
    });
    const missing = files.filter((_, i) => !cached[i]);
    const downloadedBytes = missing.reduce((sum, file) => sum + file.size, 0);
    if (missing.length > 0) {
      const downloadAll = () =>
        mapLimit(missing, this.concurrency, (file) =>
          downloadBlob({
            store: this.store,
            key: this.layout.fileKey(model, version, file.name),
            entry: file,
            size: file.size,
            tempDir: this.tempDir,
            blobPath: file.path,
            attempts: this.attempts,
            backoff: this.backoff,
            ranged: this.ranged,
            onBytes: (bytes) => report(bytes, file.name),
          }),
        );
      // Under one part's worth of bytes, coordinating costs more than the download: no slot.
      if (this.gate === undefined || downloadedBytes < this.ranged.partBytes) await downloadAll();
      else await this.gate.hold(model, version, hooks, downloadAll);
    }
    const dir = await buildVersionFolder({
      model,
      version,
      files,
      bundle: bundleBytes,
      finalDir: this.versionDir(model, version),
      tempDir: this.tempDir,
    });
    return { model, version, dir, manifest, files, downloadedBytes, reusedBytes: totalBytes - downloadedBytes };
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

  /** Leftovers of a process that died mid-download are never trusted: clear them once. */
  private async clearTempOnce(): Promise<void> {
    if (this.tempCleared) return;
    this.tempCleared = true;
    const entries = await readdir(this.tempDir).catch(() => [] as string[]);
    await Promise.all(entries.map((name) => rm(join(this.tempDir, name), { recursive: true, force: true })));
  }
}
