/**
 * A Lua script kept in its own file, named `verbNoun-<numKeys>.lua` (or `verbNoun-<numKeys>+.lua`: at
 * least that many, e.g. one more key per model), run with EVALSHA and sent again with EVAL only when
 * the server does not know it (after a restart or a SCRIPT FLUSH).
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { fileURLToPath } from "node:url";
import type { RedisClient } from "./connection.js";

export class LuaScript {
  readonly name: string;
  /** The keys it takes; with {@link variadic}, the fewest it takes. */
  readonly numberOfKeys: number;
  readonly variadic: boolean;
  private readonly lua: string;
  private readonly sha: string;

  /** `url` points at the .lua file, e.g. `new URL("./lua/beginRollout-2.lua", import.meta.url)`. */
  constructor(url: URL) {
    const file = basename(fileURLToPath(url));
    const match = /^([A-Za-z]+)-(\d+)(\+?)\.lua$/.exec(file);
    if (match === null) throw new Error(`Lua script file ${file} is not named verbNoun-<numKeys>[+].lua`);
    this.name = match[1] ?? file;
    this.numberOfKeys = Number(match[2]);
    this.variadic = match[3] === "+";
    this.lua = readFileSync(url, "utf8");
    this.sha = createHash("sha1").update(this.lua).digest("hex");
  }

  async run(redis: RedisClient, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
    if (this.variadic ? keys.length < this.numberOfKeys : keys.length !== this.numberOfKeys) {
      const takes = this.variadic ? `at least ${this.numberOfKeys}` : String(this.numberOfKeys);
      throw new Error(`${this.name} takes ${takes} keys, got ${keys.length}`);
    }
    try {
      return await redis.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith("NOSCRIPT")) throw error;
      return redis.eval(this.lua, keys.length, ...keys, ...args);
    }
  }
}
