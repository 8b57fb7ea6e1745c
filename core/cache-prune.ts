/**
 * Frees a node's disk cache: per model, keeps the versions in use and the `spare` most recently used
 * others (by folder mtime; the in-use folders are touched first), removes the other version folders,
 * then every blob that no version folder links any more (a blob's own name is its one link).
 */
import { readdir, rm, stat, utimes } from "node:fs/promises";
import { join } from "node:path";

export interface PruneResult {
  readonly versions: readonly string[];
  readonly blobs: number;
  readonly bytes: number;
}

/** Prunes `<cacheDir>/versions` and `<cacheDir>/blobs/sha256`; never run beside a fetch (the fetcher sees to it). */
export async function pruneCache(
  cacheDir: string,
  inUse: ReadonlyMap<string, ReadonlySet<string>>,
  spare: number,
): Promise<PruneResult> {
  const root = join(cacheDir, "versions");
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
  const blobDir = join(cacheDir, "blobs", "sha256");
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
