/** A small memo for answers that never change once known (a pushed version is immutable). */

/**
 * What `load` gives for `key`, loaded once: a failure (not published yet, untrusted, store down) is
 * not remembered, so the next call loads again. Beyond `capacity` entries the oldest go.
 */
export function remembered<T>(
  cache: Map<string, Promise<T>>,
  key: string,
  load: () => Promise<T>,
  capacity: number,
): Promise<T> {
  const known = cache.get(key);
  if (known !== undefined) return known;
  const loading = load();
  cache.set(key, loading);
  loading.catch(() => {
    if (cache.get(key) === loading) cache.delete(key);
  });
  if (cache.size > capacity) cache.delete(cache.keys().next().value ?? "");
  return loading;
}
