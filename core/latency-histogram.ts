/**
 * The fine latency histogram nodes keep per version: log-spaced buckets, so any latency from 10 µs
 * to 20 minutes is known within ±2 % (the bucket's geometric middle stands for it), whatever the
 * model's speed; mergeable by adding counts, so the fleet's histogram is the sum of its nodes'.
 * Sent sparse — only buckets that counted something, as [bucket, count] pairs in ascending bucket
 * order — since a version's answers fill a few dozen of its 480 buckets.
 *
 * Bucket 0 holds everything up to FINE_MIN_MS; bucket i > 0 holds (FINE_MIN_MS·G^(i−1), FINE_MIN_MS·G^i]
 * with G = FINE_GROWTH; the last one also holds everything slower.
 */

export const FINE_MIN_MS = 0.01;
export const FINE_GROWTH = 1.04;
export const FINE_BUCKETS = 480;

/** Buckets per octave of the test's bins (1.04^18 ≈ 2.03): a 1.5× slowdown moves most answers a bin. */
const BUCKETS_PER_BIN = 18;

const LOG_GROWTH = Math.log(FINE_GROWTH);

/** A sparse histogram: [bucket, count] pairs, ascending by bucket, counts > 0. */
export type SparseHistogram = readonly (readonly [number, number])[];

/** The bucket of a latency in ms. */
export function fineBucket(ms: number): number {
  if (!(ms > FINE_MIN_MS)) return 0;
  return Math.min(FINE_BUCKETS - 1, Math.ceil(Math.log(ms / FINE_MIN_MS) / LOG_GROWTH - 1e-9));
}

/** The latency a bucket stands for: its geometric middle (bucket 0: FINE_MIN_MS). */
export function bucketValue(bucket: number): number {
  return bucket === 0 ? FINE_MIN_MS : FINE_MIN_MS * FINE_GROWTH ** (bucket - 0.5);
}

/** Counts per bucket, as a node keeps them (dense: one array per version). */
export class FineHistogram {
  private readonly counts = new Uint32Array(FINE_BUCKETS);

  observe(ms: number): void {
    const bucket = fineBucket(ms);
    this.counts[bucket] = (this.counts[bucket] ?? 0) + 1;
  }

  sparse(): [number, number][] {
    const pairs: [number, number][] = [];
    this.counts.forEach((count, bucket) => {
      if (count > 0) pairs.push([bucket, count]);
    });
    return pairs;
  }
}

/** The sum of sparse histograms, sparse and ascending. */
export function mergeHistograms(histograms: readonly SparseHistogram[]): [number, number][] {
  const sums = new Map<number, number>();
  for (const histogram of histograms) {
    for (const [bucket, count] of histogram) sums.set(bucket, (sums.get(bucket) ?? 0) + count);
  }
  return [...sums].sort(([a], [b]) => a - b);
}

/** The q-quantile (0 < q ≤ 1) of a sparse histogram, within ±2 %; null when it is empty. */
export function histogramQuantileFine(histogram: SparseHistogram, q: number): number | null {
  const total = histogram.reduce((sum, [, count]) => sum + count, 0);
  if (total === 0) return null;
  const rank = Math.max(1, Math.ceil(q * total));
  let seen = 0;
  for (const [bucket, count] of histogram) {
    seen += count;
    if (seen >= rank) return bucketValue(bucket);
  }
  return bucketValue(histogram.at(-1)?.[0] ?? 0);
}

/** Octave bins of a sparse histogram (bin → count): the coarse outcome classes the judge's test compares. */
export function octaveBins(histogram: SparseHistogram): Map<number, number> {
  const bins = new Map<number, number>();
  for (const [bucket, count] of histogram) {
    const bin = Math.floor(bucket / BUCKETS_PER_BIN);
    bins.set(bin, (bins.get(bin) ?? 0) + count);
  }
  return bins;
}
