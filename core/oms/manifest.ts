/**
 * The file manifest of a model folder: which files it holds (ignore paths and symlinks handled as
 * OMS's "files" serialization does) and their SHA-256 digests, and the full-match comparison with
 * the manifest a signature lists.
 */
import { lstat, readdir } from "node:fs/promises";
import { join } from "node:path";
import { sha256File } from "../digest.js";
import { ErrorCode, VerificationError } from "../errors.js";
import { mapLimit } from "../map-limit.js";

/** One file of a model: its path relative to the model root (POSIX separators) and its SHA-256. */
export interface ManifestEntry {
  readonly name: string;
  readonly digest: string;
}

const HASH_CONCURRENCY = 4;

/** A predicate for paths (relative, POSIX) to leave out: the path itself or anything under it. */
export function createIgnoreMatcher(ignorePaths: readonly string[]): (path: string) => boolean {
  const roots = ignorePaths
    .map((path) => path.replace(/^\.\/+/, "").replace(/\/+$/, ""))
    .filter((path) => path.length > 0 && path !== ".");
  return (path) => roots.some((root) => path === root || path.startsWith(`${root}/`));
}

/**
 * Lists the regular files under `root`, sorted, as relative POSIX paths, skipping ignored ones.
 * A symlink that is not ignored is refused: OMS manifests cutover writes do not allow symlinks.
 */
export async function listModelFiles(root: string, isIgnored: (path: string) => boolean): Promise<string[]> {
  const found: string[] = [];
  async function walk(relative: string): Promise<void> {
    const entries = await readdir(relative === "" ? root : join(root, relative), { withFileTypes: true });
    for (const entry of entries) {
      const path = relative === "" ? entry.name : `${relative}/${entry.name}`;
      if (isIgnored(path)) continue;
      if (entry.isSymbolicLink()) {
        throw new VerificationError(ErrorCode.UnsafePath, `${path} is a symlink; symlinks are not allowed in a model`);
      }
      if (entry.isDirectory()) await walk(path);
      else if (entry.isFile()) found.push(path);
    }
  }
  await walk("");
  return found.sort();
}

/** Hashes the named files under `root` (a few at a time), in the order given. */
export async function hashModelFiles(root: string, names: readonly string[]): Promise<ManifestEntry[]> {
  return mapLimit(names, HASH_CONCURRENCY, async (name) => ({ name, digest: await sha256File(join(root, name)) }));
}

/** Builds the manifest of a folder: every file not ignored, sorted by name. */
export async function manifestOfFolder(root: string, ignorePaths: readonly string[]): Promise<ManifestEntry[]> {
  const names = await listModelFiles(root, createIgnoreMatcher(ignorePaths));
  return hashModelFiles(root, names);
}

/** True when `path` is a regular file (not a folder, not a symlink). */
export async function isRegularFile(path: string): Promise<boolean> {
  return (await lstat(path)).isFile();
}

/**
 * Full match of the names: every listed file is present and every present file is listed.
 * Digests are compared separately so that a cheap structural mismatch fails before any hashing.
 */
export function compareNames(listed: readonly ManifestEntry[], present: readonly string[]): void {
  const presentSet = new Set(present);
  const missing = listed.filter((entry) => !presentSet.has(entry.name)).map((entry) => entry.name);
  if (missing.length > 0) {
    throw new VerificationError(ErrorCode.MissingFile, `listed in the signature but missing: ${missing.join(", ")}`);
  }
  const listedSet = new Set(listed.map((entry) => entry.name));
  const unexpected = present.filter((name) => !listedSet.has(name));
  if (unexpected.length > 0) {
    throw new VerificationError(ErrorCode.UnexpectedFile, `not listed in the signature: ${unexpected.join(", ")}`);
  }
}

/** Throws {@link ErrorCode.DigestMismatch} naming the first file whose digest differs. */
export function compareDigests(listed: readonly ManifestEntry[], actual: readonly ManifestEntry[]): void {
  const actualByName = new Map(actual.map((entry) => [entry.name, entry.digest]));
  for (const entry of listed) {
    const digest = actualByName.get(entry.name);
    if (digest !== entry.digest) {
      throw new VerificationError(
        ErrorCode.DigestMismatch,
        `${entry.name}: sha256 ${digest ?? "(not hashed)"} does not match the signed ${entry.digest}`,
      );
    }
  }
}
