/**
 * A node's side of the fleet-wide fan-in limit. Before it downloads the blobs of a version that it does
 * not have, a node takes one of the version's slots (download-slots.ts); while all are taken it waits,
 * asking again after a capped, jittered backoff and renewing nothing; once it holds one it renews the
 * lease every TTL/3 while it downloads, and frees it after. A node that dies frees its slot when the
 * lease expires. A state store that does not answer is waited out like a full one: the download does
 * not start uncounted, and the rollout's own deadline bounds the wait.
 */
import { type BackoffOptions, backoffDelay, sleep } from "./backoff.js";
import type { DownloadSlots } from "./download-slots.js";
import { ConfigError, errorMessage } from "./errors.js";

export interface DownloadGateOptions {
  readonly slots: DownloadSlots;
  /** This node's id: the holder of its slots. */
  readonly holder: string;
  /** Nodes of the fleet downloading one version at once; 0: no limit. */
  readonly limit: number;
  /** Lease TTL (ms): how soon the slot of a node that died frees. */
  readonly ttlMs: number;
  /** Delays between tries while every slot is taken (default 100 ms doubling, at most 2 s, jittered). */
  readonly backoff?: BackoffOptions;
  readonly log?: (line: string) => void;
}

/** What a download is told while it waits for a slot. */
export interface SlotHooks {
  /** Every slot is taken: the download waits (told once). */
  readonly onWaiting?: () => void;
  /** A slot was taken after a wait: the download starts. */
  readonly onAcquired?: () => void;
}

export class DownloadGate {
  private readonly backoff: BackoffOptions;
  /** Slots this process holds, by `model/version`: a second download of the same version shares one. */
  private readonly held = new Map<string, { users: number; renewal: NodeJS.Timeout }>();

  constructor(private readonly options: DownloadGateOptions) {
    if (!Number.isInteger(options.limit) || options.limit < 0) {
      throw new ConfigError(`download gate: limit must be an integer ≥ 0, not ${options.limit}`);
    }
    if (!Number.isInteger(options.ttlMs) || options.ttlMs < 100) {
      throw new ConfigError(`download gate: ttlMs must be an integer ≥ 100, not ${options.ttlMs}`);
    }
    // 100 nodes waiting at 2 s apart are ~50 small scripts a second: nothing for Redis, and a freed slot
    // is taken again within about a second.
    this.backoff = options.backoff ?? { baseMs: 100, maxMs: 2_000 };
  }

  /** Runs `work` (the downloads of `model`/`version`) holding a slot; without a limit, at once. */
  async hold<T>(model: string, version: string, hooks: SlotHooks, work: () => Promise<T>): Promise<T> {
    if (this.options.limit === 0) return work();
    const name = `${model}/${version}`;
    await this.acquire(model, version, hooks);
    try {
      return await work();
    } finally {
      await this.release(model, version, name);
    }
  }

  private async acquire(model: string, version: string, hooks: SlotHooks): Promise<void> {
    const name = `${model}/${version}`;
    const { slots, holder, limit, ttlMs } = this.options;
    let waited = false;
    for (let attempt = 1; ; attempt++) {
      const mine = this.held.get(name);
      if (mine !== undefined) {
        mine.users++;
        break;
      }
      const taken = await slots.acquire(model, version, holder, limit, ttlMs).catch((error: unknown) => {
        this.log(`${name}: could not ask for a download slot: ${errorMessage(error)}`);
        return false;
      });
      if (taken) {
        if (this.held.has(name)) continue;
        const renewal = setInterval(() => void this.renew(model, version), Math.max(50, Math.floor(ttlMs / 3)));
        renewal.unref();
        this.held.set(name, { users: 1, renewal });
        break;
      }
      if (!waited) {
        waited = true;
        this.log(`${name}: ${limit} node(s) are downloading it; waiting for a slot`);
        hooks.onWaiting?.();
      }
      await sleep(backoffDelay(attempt, this.backoff));
    }
    if (waited) hooks.onAcquired?.();
  }

  private async renew(model: string, version: string): Promise<void> {
    const { slots, holder, ttlMs } = this.options;
    try {
      if (!(await slots.renew(model, version, holder, ttlMs))) {
        this.log(`${model}/${version}: the download slot's lease expired; the download goes on`);
      }
    } catch (error) {
      this.log(`${model}/${version}: could not renew the download slot: ${errorMessage(error)}`);
    }
  }

  private async release(model: string, version: string, name: string): Promise<void> {
    const mine = this.held.get(name);
    if (mine === undefined || --mine.users > 0) return;
    clearInterval(mine.renewal);
    this.held.delete(name);
    await this.options.slots.release(model, version, this.options.holder).catch((error: unknown) => {
      this.log(`${name}: could not free the download slot (its lease expires): ${errorMessage(error)}`);
    });
  }

  private log(line: string): void {
    this.options.log?.(line);
  }
}
