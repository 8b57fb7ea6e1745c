/**
 * The last step of a fetch: the version folder in the cache, built from hard links to verified blobs
 * plus the signature, in tmp/ and renamed into place, so it appears whole or not at all. A version that
 * carries a model card must be the model and version it was asked for, checked first.
 */
import { randomBytes } from "node:crypto";
import { copyFile, link, mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { MODEL_CARD_FILE } from "./artifact-layout.js";
import { isLinkedToBlobs } from "./cache-integrity.js";
import { assertCardIdentity, parseModelCard } from "./model-card.js";
import { SIGNATURE_FILE } from "./oms/signer.js";

/** A verified file of the version: its name in the version and its blob's path. */
export interface FolderFile {
  readonly name: string;
  readonly path: string;
}

async function checkIdentity(model: string, version: string, files: readonly FolderFile[]): Promise<void> {
  const card = files.find((file) => file.name === MODEL_CARD_FILE);
  if (card === undefined) return;
  assertCardIdentity(parseModelCard(await readFile(card.path)), model, version);
}

/**
 * Makes `finalDir` hold `files` (links to their blobs) and the signature `bundle`, building it in
 * `tempDir`; an existing folder with the same signature whose files are links to these blobs is kept.
 */
export async function buildVersionFolder(options: {
  readonly model: string;
  readonly version: string;
  readonly files: readonly FolderFile[];
  readonly bundle: Buffer;
  readonly finalDir: string;
  readonly tempDir: string;
}): Promise<string> {
  const { files, bundle, finalDir } = options;
  await checkIdentity(options.model, options.version, files);
  const existing = await readFile(join(finalDir, SIGNATURE_FILE)).catch(() => undefined);
  if (existing?.equals(bundle) && (await isLinkedToBlobs(finalDir, files))) return finalDir;
  const building = join(options.tempDir, `version-${randomBytes(6).toString("hex")}`);
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
