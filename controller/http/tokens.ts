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

/** Parses `name:token,name:token`; names are 1-64 of letters, digits, . _ - @; tokens at least 16 chars. */
export function parseTokens(spec: string): NamedToken[] {
  const tokens = spec
    .split(",")
    .map((item) => item.trim())
    .filter(Boolean)
    .map((item) => {
      const colon = item.indexOf(":");
      const name = item.slice(0, colon);
      const token = item.slice(colon + 1);
      if (colon <= 0 || !/^[A-Za-z0-9._@-]{1,64}$/.test(name)) {
        throw new ConfigError(
          `CUTOVER_TOKENS: entries are name:token; ${JSON.stringify(name || item.slice(0, 8))} is not a valid name`,
        );
      }
      if (token.length < 16)
        throw new ConfigError(`CUTOVER_TOKENS: the token of ${name} is shorter than 16 characters`);
      return { name, digest: digest(token) };
    });
  const names = new Set(tokens.map((token) => token.name));
  if (names.size !== tokens.length) throw new ConfigError("CUTOVER_TOKENS: a name appears twice");
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
