/**
 * Replacing a small file in one step: the bytes go to a fresh temp file beside it (created
 * exclusively, never through a symlink), are synced, and the temp file is renamed over the target.
 * A reader sees the old file or the new one, never half of one; a crash leaves at most a temp file.
 * rename(2) replaces a symlink at the target rather than writing through it.
 */
import { randomBytes } from "node:crypto";
import { constants } from "node:fs";
import { open, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

export interface AtomicWriteOptions {
  /** The new file's permission bits (default 0o644). */
  readonly mode?: number;
}

/** Writes `data` to `path` through a temp file and rename; the temp file is removed on failure. */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  options: AtomicWriteOptions = {},
): Promise<void> {
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
  const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
  const mode = options.mode ?? 0o644;
  try {
    const handle = await open(temp, flags, mode);
    try {
      await handle.writeFile(data);
      // The umask may have narrowed the mode; a key file must end up exactly as asked.
      await handle.chmod(mode);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}
