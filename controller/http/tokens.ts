/**
 * Bearer tokens for changes (`CUTOVER_TOKENS=name:token,name:token`). Comparison is constant-time
 * over SHA-256 digests, and every configured token is compared, so timing says nothing about which
 * token, or how much of one, matched. The matching token's name is recorded as `by`.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { ConfigError } from "../../core/errors.js";

export interface NamedToken {
  readonly name: string;
  readonly digest: Buffer;
}

function digest(value: string): Buffer {
  return createHash("sha256").update(value).digest();
}

/**
 * Parses `name:token,name:token`; names are 1-64 of letters, digits, . _ - @; tokens at least 16 chars.
 * Errors name an entry by its position, never by its text: a malformed entry may be a bare token.
 */
export function parseTokens(spec: string): NamedToken[] {
  const entries = spec
    .split(",")
    .map((item) => item.trim())
    .filter(Boolean);
  const tokens = entries.map((item, index) => {
    const entry = `entry ${index + 1} of ${entries.length}`;
    const colon = item.indexOf(":");
    const name = item.slice(0, colon);
    const token = item.slice(colon + 1);
    if (colon <= 0 || !/^[A-Za-z0-9._@-]{1,64}$/.test(name)) {
      throw new ConfigError(
        `CUTOVER_TOKENS: ${entry} is not name:token (a name of 1-64 letters, digits, . _ - @, a colon, then the token)`,
      );
    }
    if (token.length < 16) throw new ConfigError(`CUTOVER_TOKENS: the token of ${entry} is shorter than 16 characters`);
    return { name, digest: digest(token) };
  });
  const seen = new Map<string, number>();
  tokens.forEach((token, index) => {
    const first = seen.get(token.name);
    if (first !== undefined) {
      throw new ConfigError(`CUTOVER_TOKENS: entries ${first + 1} and ${index + 1} have the same name`);
    }
    seen.set(token.name, index);
  });
  return tokens;
}

/** The name of the token that matches `presented`, or undefined. */
export function matchToken(tokens: readonly NamedToken[], presented: string): string | undefined {
  const candidate = digest(presented);
  let match: string | undefined;
  for (const token of tokens) {
    if (timingSafeEqual(token.digest, candidate) && match === undefined) match = token.name;
  }
  return match;
}
