/** Credentials never reach a log line or an error message: what prints a URL prints it through here. */

/**
 * The URL with its password replaced by `***` (`redis://:***@host:6379`), in the user info and in a
 * `password` query parameter (ioredis reads both); the user name stays. A string that does not parse
 * as a URL is returned as `<unparsable URL>`, since it may hold anything.
 */
export function redactUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return "<unparsable URL>";
  }
  if (parsed.password !== "") parsed.password = "***";
  if (parsed.searchParams.has("password")) parsed.searchParams.set("password", "***");
  return parsed.toString();
}
