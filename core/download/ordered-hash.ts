/**
 * SHA-256 of a file whose parts are written out of order (parallel ranged GETs), computed strictly in
 * byte order as the written prefix grows. A chunk that arrives exactly where the hashed prefix ends is
 * hashed from memory on arrival (a single GET is hashed entirely this way, as before); the bytes of the
 * parts further ahead are only written, and read back from the file (the page cache, one 1 MiB buffer
 * at a time) once the prefix reaches them. So memory does not grow with the parts ahead, and nothing is
 * hashed twice or out of turn.
 */
import { createHash } from "node:crypto";
import type { FileHandle } from "node:fs/promises";

const READ_BACK_BYTES = 1024 * 1024;

export class OrderedHash {
  private readonly hash = createHash("sha256");
  /** Every byte before this offset is in the hash. */
  private hashed = 0;
  /** Written ranges at or past `hashed`, as [start, end), sorted and merged. */
  private ranges: [number, number][] = [];
  private draining: Promise<void> | null = null;
  private failure: { error: unknown } | undefined;
  private buffer: Buffer | undefined;

  /** `file` is open for reading too (the parts ahead are read back from it). */
  constructor(private readonly file: FileHandle) {}

  /** Bytes hashed so far: the length of the prefix that is complete. */
  get prefix(): number {
    return this.hashed;
  }

  /** A chunk received for `offset`, before it is written: hashed at once when it continues the prefix. */
  arrived(offset: number, chunk: Buffer): void {
    if (this.draining !== null || offset !== this.hashed) return;
    this.hash.update(chunk);
    this.hashed += chunk.length;
    this.catchUp();
  }

  /** Bytes [offset, offset + length) are in the file: the prefix catches up on what it can read back. */
  written(offset: number, length: number): void {
    if (length > 0 && offset + length > this.hashed) this.addRange(offset, offset + length);
    this.catchUp();
  }

  /** Starts reading back when a written range begins at or before the prefix's end (one reader at a time). */
  private catchUp(): void {
    const first = this.ranges[0];
    if (this.draining !== null || first === undefined || first[0] > this.hashed) return;
    this.draining = this.drain().finally(() => {
      this.draining = null;
      // A range written between the reader's last look and now is read by the next one.
      if (this.failure === undefined) this.catchUp();
    });
  }

  /** The hex digest, once every byte of a `size`-byte file is written and hashed in order. */
  async digest(size: number): Promise<string> {
    while (this.draining !== null) await this.draining;
    if (this.failure !== undefined) throw this.failure.error;
    if (this.hashed !== size) throw new Error(`hashed ${this.hashed} of ${size} bytes: a part is missing`);
    return this.hash.digest("hex");
  }

  private addRange(start: number, end: number): void {
    const merged: [number, number][] = [];
    let next: [number, number] = [Math.max(start, this.hashed), end];
    for (const range of this.ranges) {
      if (range[1] < next[0]) merged.push(range);
      else if (next[1] < range[0]) {
        merged.push(next);
        next = range;
      } else next = [Math.min(range[0], next[0]), Math.max(range[1], next[1])];
    }
    merged.push(next);
    this.ranges = merged;
  }

  /** Reads back and hashes the written range that starts at (or spans) the prefix's end, until none does. */
  private async drain(): Promise<void> {
    this.buffer ??= Buffer.allocUnsafe(READ_BACK_BYTES);
    const buffer = this.buffer;
    try {
      for (;;) {
        const first = this.ranges[0];
        if (first === undefined || first[0] > this.hashed) return;
        if (first[1] <= this.hashed) {
          this.ranges.shift();
          continue;
        }
        const length = Math.min(buffer.length, first[1] - this.hashed);
        const { bytesRead } = await this.file.read(buffer, 0, length, this.hashed);
        if (bytesRead === 0) throw new Error(`the file ends at ${this.hashed}, before bytes written up to ${first[1]}`);
        this.hash.update(buffer.subarray(0, bytesRead));
        this.hashed += bytesRead;
      }
    } catch (error) {
      this.failure ??= { error };
    }
  }
}
