/**
 * Download slots in Redis: one sorted set per version (holder → lease expiry on the server's clock),
 * under the model's `{model}` hash tag, changed only by the three scripts in lua/.
 */
import type { DownloadSlots } from "../download-slots.js";
import type { StateKeys } from "../state-keys.js";
import { type RedisClient, toStateError } from "./connection.js";
import { LuaScript } from "./lua-script.js";

const acquireScript = new LuaScript(new URL("./lua/acquireDownloadSlot-1.lua", import.meta.url));
const renewScript = new LuaScript(new URL("./lua/renewDownloadSlot-1.lua", import.meta.url));
const releaseScript = new LuaScript(new URL("./lua/releaseDownloadSlot-1.lua", import.meta.url));

export class RedisDownloadSlots implements DownloadSlots {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: StateKeys,
  ) {}

  async acquire(model: string, version: string, holder: string, limit: number, ttlMs: number): Promise<boolean> {
    try {
      const taken = await acquireScript.run(
        this.redis,
        [this.keys.downloadSlots(model, version)],
        [holder, limit, ttlMs],
      );
      return taken === 1;
    } catch (error) {
      throw toStateError(error, `take a download slot of ${model}/${version}`);
    }
  }

  async renew(model: string, version: string, holder: string, ttlMs: number): Promise<boolean> {
    try {
      return (await renewScript.run(this.redis, [this.keys.downloadSlots(model, version)], [holder, ttlMs])) === 1;
    } catch (error) {
      throw toStateError(error, `renew the download slot of ${model}/${version}`);
    }
  }

  async release(model: string, version: string, holder: string): Promise<void> {
    try {
      await releaseScript.run(this.redis, [this.keys.downloadSlots(model, version)], [holder]);
    } catch (error) {
      throw toStateError(error, `release the download slot of ${model}/${version}`);
    }
  }
}
