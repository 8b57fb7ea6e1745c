/**
 * SHA-256 helpers. Files are hashed as streams with a bounded buffer, so memory stays flat
 * whatever the file size.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";

const READ_CHUNK = 1024 * 1024;

export const SHA256_HEX_RE = /^[0-9a-f]{64}$/;

export function sha256Hex(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}

/** Hex SHA-256 of a file's bytes, read in 1 MiB chunks. */
export async function sha256File(path: string, onBytes?: (bytes: number) => void): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path, { highWaterMark: READ_CHUNK })) {
    hash.update(chunk as Buffer);
    onBytes?.((chunk as Buffer).length);
  }
  return hash.digest("hex");
}
