/** Bounded concurrency for I/O fan-out (hashing, uploads, downloads). */

/**
 * Runs `work` over `items` with at most `limit` in flight; results keep the input order. On the
 * first failure no new item starts, and the call rejects with that failure only once the items
 * already running have settled, so no work outlives the call.
 */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failure: { error: unknown } | undefined;
  const runners = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length && failure === undefined) {
      const index = next++;
      try {
        results[index] = await work(items[index] as T, index);
      } catch (error) {
        failure ??= { error };
      }
    }
  });
  await Promise.all(runners);
  if (failure !== undefined) throw failure.error;
  return results;
}
