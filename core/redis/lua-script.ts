/**
 * A Lua script kept in its own file, named `verbNoun-<numKeys>.lua`, run with EVALSHA and sent again
 * with EVAL only when the server does not know it (after a restart or a SCRIPT FLUSH).
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { basename } from "node:path";
import { fileURLToPath } from "node:url";
import type { RedisClient } from "./connection.js";

export class LuaScript {
  readonly name: string;
  readonly numberOfKeys: number;
  private readonly lua: string;
  private readonly sha: string;

  /** `url` points at the .lua file, e.g. `new URL("./lua/beginRollout-2.lua", import.meta.url)`. */
  constructor(url: URL) {
    const file = basename(fileURLToPath(url));
    const match = /^([A-Za-z]+)-(\d+)\.lua$/.exec(file);
    if (match === null) throw new Error(`Lua script file ${file} is not named verbNoun-<numKeys>.lua`);
    this.name = match[1] ?? file;
    this.numberOfKeys = Number(match[2]);
    this.lua = readFileSync(url, "utf8");
    this.sha = createHash("sha1").update(this.lua).digest("hex");
  }

  async run(redis: RedisClient, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
    if (keys.length !== this.numberOfKeys) {
      throw new Error(`${this.name} takes ${this.numberOfKeys} keys, got ${keys.length}`);
    }
    try {
      return await redis.evalsha(this.sha, this.numberOfKeys, ...keys, ...args);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith("NOSCRIPT")) throw error;
      return redis.eval(this.lua, this.numberOfKeys, ...keys, ...args);
    }
  }
}
