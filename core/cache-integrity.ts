/**
 * Checks on what a node's content-addressed cache already holds, before the fetcher hands it out
 * again. Bytes on local disk can change after they were verified (a disk fault, a hand edit of a
 * version folder, whose files are hard links to the blobs), so nothing in the cache is reused on
 * trust: a reused blob is hashed again, and a version folder is reused only when each of its files
 * is a link to a blob that was.
 */
import { readdir, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { sha256File } from "./digest.js";
import { createIgnoreMatcher, listModelFiles } from "./oms/manifest.js";
import { SIGNATURE_FILE } from "./oms/signer.js";

/** A file's identity on disk: two names with the same one are links to the same bytes. */
interface FileIdentity {
  readonly dev: number;
  readonly ino: number;
}

async function identityOf(path: string): Promise<FileIdentity | undefined> {
  const info = await stat(path).catch(() => undefined);
  return info?.isFile() ? { dev: info.dev, ino: info.ino } : undefined;
}

function sameFile(a: FileIdentity | undefined, b: FileIdentity | undefined): boolean {
  return a !== undefined && b !== undefined && a.dev === b.dev && a.ino === b.ino;
}

/** What hashing a cached blob found: absent, intact, or changed (and then removed). */
export type CachedBlobCheck = "absent" | "intact" | "removed";

/**
 * Hashes the blob at `blobPath` (streamed) and compares it with the signed `digest`. A blob that does
 * not match is removed, with every version folder under `versionsRoot` that links it, so the caller
 * downloads it again and no folder built on the changed bytes is served or reused.
 */
export async function checkCachedBlob(
  blobPath: string,
  digest: string,
  versionsRoot: string,
  onBytes?: (bytes: number) => void,
): Promise<CachedBlobCheck> {
  const identity = await identityOf(blobPath);
  if (identity === undefined) return "absent";
  const actual = await sha256File(blobPath, onBytes).catch(() => undefined);
  if (actual === digest) return "intact";
  await removeFoldersLinking(identity, versionsRoot);
  await rm(blobPath, { force: true });
  return "removed";
}

/** Removes every `<versionsRoot>/<model>/<version>/` that holds a link to the file `identity` names. */
async function removeFoldersLinking(identity: FileIdentity, versionsRoot: string): Promise<void> {
  for (const model of await readdir(versionsRoot).catch(() => [] as string[])) {
    for (const version of await readdir(join(versionsRoot, model)).catch(() => [] as string[])) {
      const dir = join(versionsRoot, model, version);
      const names = await listModelFiles(dir, () => false).catch(() => [] as string[]);
      const identities = await Promise.all(names.map((name) => identityOf(join(dir, name))));
      if (identities.some((other) => sameFile(other, identity))) await rm(dir, { recursive: true, force: true });
    }
  }
}

/**
 * True when the version folder `dir` holds exactly the listed files (besides its signature), each a
 * link to the blob it names — so its bytes are the blobs' bytes, which the caller has just checked.
 * A folder built by copying (no hard links across devices) is never reused; it is built again.
 */
export async function isLinkedToBlobs(
  dir: string,
  files: readonly { readonly name: string; readonly path: string }[],
): Promise<boolean> {
  const present = await listModelFiles(dir, createIgnoreMatcher([SIGNATURE_FILE])).catch(() => undefined);
  if (present === undefined || present.length !== files.length) return false;
  const wanted = new Set(files.map((file) => file.name));
  if (!present.every((name) => wanted.has(name))) return false;
  const checks = await Promise.all(
    files.map(async (file) =>
      sameFile(await identityOf(join(dir, ...file.name.split("/"))), await identityOf(file.path)),
    ),
  );
  return checks.every(Boolean);
}
