/**
 * CUTOVER_REDIS_URL, parsed in one place. Three forms:
 *
 * - `redis://[user:password@]host:port[/db]` and `rediss://…` (TLS): one server, read by ioredis itself.
 * - `redis+sentinel://[user:password@]host:port,host:port/<master-name>[?sentinelUsername=…&sentinelPassword=…]`
 *   and `rediss+sentinel://…`: the sentinels to ask for the master of `<master-name>`. The user info
 *   authenticates to the master (and its replicas); `sentinelUsername`/`sentinelPassword` to the
 *   sentinels, only where they require it. TLS (`rediss`) applies to both. Default port 26379.
 * - `redis+cluster://[user:password@]host:port,host:port` and `rediss+cluster://…`: seed nodes of a
 *   Redis Cluster (any subset; the rest is discovered). Default port 6379.
 *
 * Errors name the part that is wrong and never echo the user info or a password parameter.
 */
import { ConfigError } from "../errors.js";

export interface RedisHost {
  readonly host: string;
  readonly port: number;
}

export interface RedisCredentials {
  readonly username?: string;
  readonly password?: string;
}

export type RedisTarget =
  | { readonly kind: "single"; readonly url: string }
  | {
      readonly kind: "sentinel";
      readonly sentinels: readonly RedisHost[];
      readonly masterName: string;
      readonly tls: boolean;
      readonly credentials: RedisCredentials;
      readonly sentinelCredentials: RedisCredentials;
    }
  | {
      readonly kind: "cluster";
      readonly nodes: readonly RedisHost[];
      readonly tls: boolean;
      readonly credentials: RedisCredentials;
    };

/** The schemes CUTOVER_REDIS_URL accepts. */
export const REDIS_URL_SCHEMES = [
  "redis",
  "rediss",
  "redis+sentinel",
  "rediss+sentinel",
  "redis+cluster",
  "rediss+cluster",
] as const;

const MULTI_HOST = /^(rediss?)\+(sentinel|cluster):\/\/(.*)$/s;
const MASTER_NAME = /^[A-Za-z0-9._:-]{1,128}$/;
const SENTINEL_PARAMETERS = new Set(["sentinelUsername", "sentinelPassword"]);
/** Query parameters whose values are secrets, in every form. */
const SECRET_PARAMETERS = ["password", "sentinelPassword"];

function schemeError(): ConfigError {
  return new ConfigError(
    `the Redis URL must start with ${REDIS_URL_SCHEMES.map((scheme) => `${scheme}://`).join(", ")}`,
  );
}

function decoded(part: string, what: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw new ConfigError(`the Redis URL's ${what} is not valid percent-encoding`);
  }
}

/** `user:password@rest` → credentials and rest; the last `@` before the path ends the user info. */
function splitUserInfo(afterScheme: string): { credentials: RedisCredentials; rest: string } {
  const pathStart = afterScheme.search(/[/?#]/);
  const authorityEnd = pathStart === -1 ? afterScheme.length : pathStart;
  const at = afterScheme.lastIndexOf("@", authorityEnd - 1);
  if (at === -1) return { credentials: {}, rest: afterScheme };
  const userInfo = afterScheme.slice(0, at);
  const colon = userInfo.indexOf(":");
  const username = decoded(colon === -1 ? userInfo : userInfo.slice(0, colon), "user name");
  const password = colon === -1 ? "" : decoded(userInfo.slice(colon + 1), "password");
  return {
    credentials: { ...(username !== "" ? { username } : {}), ...(password !== "" ? { password } : {}) },
    rest: afterScheme.slice(at + 1),
  };
}

/**
 * How a part of the URL is quoted in an error: verbatim when the URL holds no `@` (so no user info,
 * however badly encoded, can be in it), not at all otherwise.
 */
type Quote = (part: string) => string;

function quoter(url: string): Quote {
  return url.includes("@") ? () => "" : (part) => ` (${JSON.stringify(part)})`;
}

function parseHost(entry: string, index: number, defaultPort: number, quote: Quote): RedisHost {
  const bracketed = /^\[([0-9A-Fa-f:.]+)\](?::(\d*))?$/.exec(entry);
  const plain = /^([A-Za-z0-9._-]+)(?::(\d*))?$/.exec(entry);
  const match = bracketed ?? plain;
  if (match === null) {
    throw new ConfigError(`the Redis URL's host ${index + 1}${quote(entry)} is not host or host:port`);
  }
  const portText = match[2];
  const port = portText === undefined || portText === "" ? defaultPort : Number(portText);
  if (!Number.isInteger(port) || port < 1 || port > 65_535) {
    throw new ConfigError(`the Redis URL's host ${index + 1}${quote(entry)} has a port outside 1-65535`);
  }
  return { host: match[1] ?? "", port };
}

function parseHosts(list: string, defaultPort: number, quote: Quote): RedisHost[] {
  if (list === "") throw new ConfigError("the Redis URL names no host");
  return list.split(",").map((entry, index) => parseHost(entry.trim(), index, defaultPort, quote));
}

function parseQuery(query: string, allowed: ReadonlySet<string>, form: string, quote: Quote): Map<string, string> {
  const parameters = new Map<string, string>();
  for (const [name, value] of new URLSearchParams(query)) {
    if (!allowed.has(name)) {
      const accepted = allowed.size === 0 ? "no query parameters" : `only ${[...allowed].join(" and ")}`;
      throw new ConfigError(`a ${form} URL takes ${accepted}; got a parameter${quote(name)} it does not know`);
    }
    parameters.set(name, value);
  }
  return parameters;
}

function parseMultiHost(tls: boolean, form: "sentinel" | "cluster", afterScheme: string, quote: Quote): RedisTarget {
  if (afterScheme.includes("#")) throw new ConfigError("the Redis URL must not have a #fragment");
  const { credentials, rest } = splitUserInfo(afterScheme);
  const queryStart = rest.indexOf("?");
  const beforeQuery = queryStart === -1 ? rest : rest.slice(0, queryStart);
  const query = queryStart === -1 ? "" : rest.slice(queryStart + 1);
  const slash = beforeQuery.indexOf("/");
  const hostList = slash === -1 ? beforeQuery : beforeQuery.slice(0, slash);
  const path = slash === -1 ? "" : beforeQuery.slice(slash + 1);
  if (form === "cluster") {
    if (path !== "") throw new ConfigError("a redis+cluster URL takes no path: a cluster has database 0 only");
    parseQuery(query, new Set(), "redis+cluster", quote);
    return { kind: "cluster", nodes: parseHosts(hostList, 6379, quote), tls, credentials };
  }
  const masterName = decoded(path, "master name");
  if (!MASTER_NAME.test(masterName)) {
    throw new ConfigError(
      "a redis+sentinel URL ends with /<master-name>: 1-128 chars of letters, digits and . _ : - (the name in `sentinel monitor`)",
    );
  }
  const parameters = parseQuery(query, SENTINEL_PARAMETERS, "redis+sentinel", quote);
  const sentinelUsername = parameters.get("sentinelUsername");
  const sentinelPassword = parameters.get("sentinelPassword");
  return {
    kind: "sentinel",
    sentinels: parseHosts(hostList, 26379, quote),
    masterName,
    tls,
    credentials,
    sentinelCredentials: {
      ...(sentinelUsername ? { username: sentinelUsername } : {}),
      ...(sentinelPassword ? { password: sentinelPassword } : {}),
    },
  };
}

/** Parses CUTOVER_REDIS_URL; a ConfigError (that never quotes a credential) when it is not one of the forms. */
export function parseRedisUrl(url: string): RedisTarget {
  const multi = MULTI_HOST.exec(url);
  if (multi !== null) {
    const form = multi[2] === "cluster" ? "cluster" : "sentinel";
    return parseMultiHost(multi[1] === "rediss", form, multi[3] ?? "", quoter(url));
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw /^rediss?:/.test(url) ? new ConfigError("the Redis URL does not parse as a URL") : schemeError();
  }
  if (parsed.protocol !== "redis:" && parsed.protocol !== "rediss:") throw schemeError();
  if (parsed.hostname === "") throw new ConfigError("the Redis URL names no host");
  return { kind: "single", url };
}

/**
 * A redis+sentinel or redis+cluster URL (either TLS form) with its password and secret parameters
 * replaced by `***`; undefined for any other string, which the caller redacts as a plain URL.
 */
export function redactMultiHostRedisUrl(url: string): string | undefined {
  const multi = MULTI_HOST.exec(url);
  if (multi === null) return undefined;
  const afterScheme = multi[3] ?? "";
  // The last `@` anywhere: a password with an unencoded / ? or # must not slip past (at worst a `@`
  // in a query value hides the hosts too).
  const at = afterScheme.lastIndexOf("@");
  let redacted = afterScheme;
  if (at !== -1) {
    const userInfo = afterScheme.slice(0, at);
    const colon = userInfo.indexOf(":");
    const shown = /[/?#]/.test(userInfo) ? "***" : colon === -1 ? userInfo : `${userInfo.slice(0, colon)}:***`;
    redacted = `${shown}@${afterScheme.slice(at + 1)}`;
  }
  const queryStart = redacted.indexOf("?");
  if (queryStart !== -1) {
    const parameters = new URLSearchParams(redacted.slice(queryStart + 1));
    for (const name of SECRET_PARAMETERS) if (parameters.has(name)) parameters.set(name, "***");
    redacted = `${redacted.slice(0, queryStart)}?${parameters.toString()}`;
  }
  return `${multi[1]}+${multi[2]}://${redacted}`;
}

/** The query parameters whose values {@link redactMultiHostRedisUrl} and `redactUrl` hide. */
export const REDIS_SECRET_PARAMETERS: readonly string[] = SECRET_PARAMETERS;
