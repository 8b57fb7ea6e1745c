/** Credentials never reach a log line or an error message: what prints a URL prints it through here. */
import { REDIS_SECRET_PARAMETERS, redactMultiHostRedisUrl } from "./redis/redis-url.js";

/**
 * The URL with its password replaced by `***` (`redis://:***@host:6379`), in the user info and in a
 * `password` or `sentinelPassword` query parameter (ioredis reads both); the user name stays. The
 * multi-host Redis forms (`redis+sentinel://`, `redis+cluster://`, core/redis/redis-url.ts) are
 * redacted the same way. A string that does not parse as a URL is returned as `<unparsable URL>`,
 * since it may hold anything.
 */
export function redactUrl(url: string): string {
  const multiHost = redactMultiHostRedisUrl(url);
  if (multiHost !== undefined) return multiHost;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return "<unparsable URL>";
  }
  if (parsed.password !== "") parsed.password = "***";
  for (const name of REDIS_SECRET_PARAMETERS) {
    if (parsed.searchParams.has(name)) parsed.searchParams.set(name, "***");
  }
  return parsed.toString();
}

/** A path segment that looks like a credential: long, letters and digits mixed (Slack's, Discord's webhook tokens). */
function looksLikeToken(segment: string): boolean {
  return segment.length >= 20 && /[0-9]/.test(segment) && /[A-Za-z]/.test(segment);
}

/**
 * A webhook URL for messages: as {@link redactUrl}, and the user name too (a bare token often stands
 * there), every query value (`?token=`, `?api_key=`, `?code=`) and every path segment that looks like
 * a token (20 or more characters mixing letters and digits, as chat tools put in their webhook paths)
 * replaced by `***`. The host and the rest of the path stay: they tell an operator which receiver failed.
 */
export function redactWebhookUrl(url: string): string {
  const redacted = redactUrl(url);
  let parsed: URL;
  try {
    parsed = new URL(redacted);
  } catch {
    return redacted;
  }
  if (parsed.username !== "") parsed.username = "***";
  for (const key of new Set(parsed.searchParams.keys())) parsed.searchParams.set(key, "***");
  parsed.pathname = parsed.pathname
    .split("/")
    .map((segment) => (looksLikeToken(segment) ? "***" : segment))
    .join("/");
  parsed.hash = "";
  return parsed.toString();
}
