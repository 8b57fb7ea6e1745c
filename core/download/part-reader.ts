/**
 * A large object read as parallel ranged GETs: parts of `partBytes`, at most `partsInFlight` at once,
 * taken in order, each written at its offset (range-read.ts resumes a broken part from its last byte).
 * Part 0 goes first, alone until its headers are in, so that every other part can send the ETag it
 * saw as If-Match. The first part that fails stops the others.
 */
import { type ByteRange, type RangeSource, readRange } from "./range-read.js";
import type { CopyTarget } from "./stream-copy.js";

export interface PartSettings {
  /** Bytes per ranged GET. */
  readonly partBytes: number;
  /** Parts of one file in flight. */
  readonly partsInFlight: number;
}

/** The parts of a `size`-byte object: every part `partBytes` long but the last. */
export function partsOf(size: number, partBytes: number): ByteRange[] {
  const parts: ByteRange[] = [];
  for (let start = 0; start < size; start += partBytes) {
    parts.push({ start, end: Math.min(size, start + partBytes), bounded: true });
  }
  return parts;
}

/** Reads every part of `source` into the target; `abort` is the target's signal's controller. */
export async function readParts(
  source: RangeSource,
  settings: PartSettings,
  target: CopyTarget,
  abort: AbortController,
): Promise<void> {
  const parts = partsOf(source.size, settings.partBytes);
  let next = 0;
  let failure: { error: unknown } | undefined;
  let firstOpened: () => void = () => undefined;
  const firstOpen = new Promise<void>((resolve) => {
    firstOpened = resolve;
  });
  const worker = async (leader: boolean) => {
    if (!leader) await firstOpen;
    while (next < parts.length && failure === undefined) {
      const index = next++;
      const part = parts[index] as ByteRange;
      try {
        await readRange(source, part, target, index === 0 ? firstOpened : undefined);
      } catch (error) {
        failure ??= { error };
        abort.abort(error);
      } finally {
        if (index === 0) firstOpened();
      }
    }
  };
  const workers = Math.max(1, Math.min(settings.partsInFlight, parts.length));
  await Promise.all(Array.from({ length: workers }, (_, i) => worker(i === 0)));
  if (failure !== undefined) throw failure.error;
}
