/**
 * An object store on a local folder: the embedded default's store and a handy local registry.
 * Writes go to a temp file under `<root>/.tmp/` and are renamed into place, so a reader never sees
 * a half-written object; a conditional write uses link(2), which fails if the target exists.
 *
 * A write that dies (a push killed mid-upload) leaves its `.part` file behind. The first write of
 * each FolderStore removes the `.part` files nobody has written to for {@link STALE_PART_MS}: a
 * write in progress, in this process or another, keeps touching its file, so an hour-old one is
 * abandoned. Every push opens its own store, so leftovers last until the next push at most.
 */
import { randomBytes } from "node:crypto";
import { createReadStream, createWriteStream, type Dirent } from "node:fs";
import { link, lstat, mkdir, readdir, rename, rm, stat, unlink } from "node:fs/promises";
import { dirname, join, sep } from "node:path";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { ErrorCode, InputError, StoreError } from "../errors.js";
import type { GetOptions, ObjectBody, ObjectInfo, ObjectStore, PutOptions } from "./object-store.js";

const TEMP_DIR = ".tmp";
const PART_SUFFIX = ".part";

/** How long a `.part` file must have gone unwritten before a store removes it as abandoned. */
export const STALE_PART_MS = 60 * 60 * 1000;

function isNodeError(error: unknown, code: string): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === code;
}

export class FolderStore implements ObjectStore {
  readonly location: string;
  private readonly root: string;
  /** The sweep of abandoned `.part` files, started by the first write. */
  private sweep: Promise<void> | undefined;

  constructor(root: string) {
    if (root.length === 0) throw new InputError("folder store: root must not be empty");
    this.root = root;
    this.location = root;
  }

  private pathOf(key: string): string {
    const segments = key.split("/");
    if (key.startsWith("/") || segments.some((s) => s === "" || s === "." || s === ".." || s.includes(sep))) {
      throw new InputError(`object key ${JSON.stringify(key)} is not a clean relative key`);
    }
    return join(this.root, ...segments);
  }

  async put(key: string, body: Buffer | Readable, options: PutOptions = {}): Promise<void> {
    const target = this.pathOf(key);
    const tempDir = join(this.root, TEMP_DIR);
    await mkdir(tempDir, { recursive: true });
    this.sweep ??= this.removeStaleParts(tempDir);
    await this.sweep;
    await mkdir(dirname(target), { recursive: true });
    const temp = join(tempDir, `${randomBytes(8).toString("hex")}${PART_SUFFIX}`);
    let loaded = 0;
    const source = Buffer.isBuffer(body) ? Readable.from([body]) : body;
    const counter = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        loaded += chunk.length;
        options.onProgress?.(loaded);
        callback(null, chunk);
      },
    });
    try {
      await pipeline(source, counter, createWriteStream(temp));
      if (options.ifNoneMatch) {
        await link(temp, target).catch((error: unknown) => {
          if (isNodeError(error, "EEXIST")) {
            throw new StoreError(ErrorCode.AlreadyExists, `${key} already exists in ${this.location}`);
          }
          throw error;
        });
      } else {
        await rename(temp, target);
      }
    } finally {
      await rm(temp, { force: true });
    }
  }

  /**
   * Removes `.part` files untouched for STALE_PART_MS. Best effort: a file that cannot be read or
   * removed (gone already, another sweep won) is left, and never fails the write that started it.
   */
  private async removeStaleParts(tempDir: string): Promise<void> {
    const cutoff = Date.now() - STALE_PART_MS;
    const names = await readdir(tempDir).catch(() => []);
    for (const name of names) {
      if (!name.endsWith(PART_SUFFIX)) continue;
      const path = join(tempDir, name);
      const info = await lstat(path).catch(() => undefined);
      if (info?.isFile() && info.mtimeMs < cutoff) await rm(path, { force: true }).catch(() => undefined);
    }
  }

  async get(key: string, options: GetOptions = {}): Promise<ObjectBody> {
    const path = this.pathOf(key);
    const info = await this.head(key);
    if (info === undefined) throw new StoreError(ErrorCode.NotFound, `${key} not found in ${this.location}`);
    if (options.ifMatch !== undefined && options.ifMatch !== info.etag) {
      throw new StoreError(ErrorCode.AlreadyExists, `${key} changed while it was being read (precondition failed)`);
    }
    const start = options.start ?? 0;
    const { end } = options;
    if (end !== undefined && end <= start) return { body: Readable.from([]), totalSize: info.size, etag: info.etag };
    // createReadStream's end is inclusive.
    const body = createReadStream(path, end === undefined ? { start } : { start, end: end - 1 });
    return { body, totalSize: info.size, etag: info.etag };
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    try {
      const info = await stat(this.pathOf(key));
      if (!info.isFile()) return undefined;
      return { key, size: info.size, etag: `${info.size}-${info.mtimeMs}` };
    } catch (error) {
      if (isNodeError(error, "ENOENT") || isNodeError(error, "ENOTDIR")) return undefined;
      throw error;
    }
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    const base = prefix.endsWith("/") ? prefix.slice(0, -1) : prefix;
    yield* this.walk(base === "" ? this.root : this.pathOf(base), base === "" ? "" : `${base}/`);
  }

  private async *walk(dir: string, keyPrefix: string): AsyncIterable<ObjectInfo> {
    let entries: Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (error) {
      if (isNodeError(error, "ENOENT") || isNodeError(error, "ENOTDIR")) return;
      throw error;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      if (keyPrefix === "" && entry.name === TEMP_DIR) continue;
      const key = `${keyPrefix}${entry.name}`;
      if (entry.isDirectory()) yield* this.walk(join(dir, entry.name), `${key}/`);
      else if (entry.isFile()) {
        const info = await stat(join(dir, entry.name));
        yield { key, size: info.size, etag: `${info.size}-${info.mtimeMs}` };
      }
    }
  }

  async listFolders(prefix: string): Promise<string[]> {
    const base = prefix.endsWith("/") ? prefix.slice(0, -1) : prefix;
    try {
      const entries = await readdir(base === "" ? this.root : this.pathOf(base), { withFileTypes: true });
      return entries
        .filter((entry) => entry.isDirectory() && !(base === "" && entry.name === TEMP_DIR))
        .map((entry) => entry.name)
        .sort();
    } catch (error) {
      if (isNodeError(error, "ENOENT") || isNodeError(error, "ENOTDIR")) return [];
      throw error;
    }
  }

  async delete(key: string): Promise<void> {
    await unlink(this.pathOf(key)).catch((error: unknown) => {
      if (!isNodeError(error, "ENOENT")) throw error;
    });
  }

  close(): void {}
}
