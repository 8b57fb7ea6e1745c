/**
 * The fleet-wide fan-in limit on downloads: a counting semaphore per version in the state store, of
 * leases with a TTL held by node id, so that 100 nodes staging one version do not all read the object
 * store at once. A holder that dies frees its slot when its lease expires. Two implementations: Redis
 * (one Lua script per operation, the Redis server's clock) and in-process (`cutover dev`).
 */

export interface DownloadSlots {
  /**
   * Takes a slot of `model`/`version` for `holder` if fewer than `limit` are held (a holder that holds
   * one already keeps it); the lease lasts `ttlMs`. True when `holder` holds a slot.
   */
  acquire(model: string, version: string, holder: string, limit: number, ttlMs: number): Promise<boolean>;
  /** Extends `holder`'s lease by `ttlMs`; false when it has expired (the slot may be someone else's now). */
  renew(model: string, version: string, holder: string, ttlMs: number): Promise<boolean>;
  /** Frees `holder`'s slot (nothing when it holds none). */
  release(model: string, version: string, holder: string): Promise<void>;
}
