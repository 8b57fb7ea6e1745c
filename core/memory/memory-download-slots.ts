/**
 * Download slots in this process's memory, for the embedded default (`cutover dev`, whose nodes share
 * one process): the same rules as the Redis scripts, leases timed by this process's clock.
 */
import type { DownloadSlots } from "../download-slots.js";
import { assertModelName, assertVersionName } from "../names.js";

export class MemoryDownloadSlots implements DownloadSlots {
  /** Per `model/version`: holder → lease expiry (ms). */
  private readonly leases = new Map<string, Map<string, number>>();

  constructor(private readonly now: () => number = Date.now) {}

  private holders(model: string, version: string): Map<string, number> {
    const key = `${assertModelName(model)}/${assertVersionName(version)}`;
    let holders = this.leases.get(key);
    if (holders === undefined) {
      holders = new Map();
      this.leases.set(key, holders);
    }
    const now = this.now();
    for (const [holder, expiry] of holders) if (expiry <= now) holders.delete(holder);
    return holders;
  }

  async acquire(model: string, version: string, holder: string, limit: number, ttlMs: number): Promise<boolean> {
    const holders = this.holders(model, version);
    if (!holders.has(holder) && holders.size >= limit) return false;
    holders.set(holder, this.now() + ttlMs);
    return true;
  }

  async renew(model: string, version: string, holder: string, ttlMs: number): Promise<boolean> {
    const holders = this.holders(model, version);
    if (!holders.has(holder)) return false;
    holders.set(holder, this.now() + ttlMs);
    return true;
  }

  async release(model: string, version: string, holder: string): Promise<void> {
    this.holders(model, version).delete(holder);
  }
}
