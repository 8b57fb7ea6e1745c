/**
 * How a webhook delivery is signed, and how a receiver checks it (the scheme of Stripe's and Slack's
 * webhooks): `x-cutover-signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>`, where
 * the timestamp is the `x-cutover-timestamp` header (unix seconds). The timestamp is inside the MAC,
 * so a captured delivery replayed later fails the receiver's freshness check and cannot be re-dated.
 * Exported for receivers written in TypeScript; docs/OPERATIONS.md (Webhooks) has the scheme for others.
 */
import { createHmac, createSecretKey, type KeyObject, timingSafeEqual } from "node:crypto";
import { ConfigError } from "../../core/errors.js";

/** The headers every delivery carries besides content-type and user-agent. */
export const WEBHOOK_HEADERS = {
  event: "x-cutover-event",
  /** One id per delivery, the same on each of its retries: receivers de-duplicate with it. */
  delivery: "x-cutover-delivery",
  timestamp: "x-cutover-timestamp",
  signature: "x-cutover-signature",
} as const;

/** Shorter secrets are refused: HMAC is only as strong as its key, and 16 random bytes is the floor. */
export const MIN_SECRET_BYTES = 16;

const SIGNATURE_PREFIX = "sha256=";

/** The secret as a key object: it signs like the bytes, and prints as nothing when logged or inspected. */
export function hookSecretKey(secret: string | Uint8Array): KeyObject {
  const bytes = typeof secret === "string" ? Buffer.from(secret, "utf8") : Buffer.from(secret);
  if (bytes.length < MIN_SECRET_BYTES) {
    // Its length only, never its text.
    throw new ConfigError(
      `CUTOVER_HOOK_SECRET is shorter than ${MIN_SECRET_BYTES} bytes: use at least ${MIN_SECRET_BYTES} random bytes (openssl rand -hex 32)`,
    );
  }
  return createSecretKey(bytes);
}

/** The `x-cutover-signature` value of `body` sent at `timestamp` (unix seconds). */
export function signWebhook(
  secret: KeyObject | string | Uint8Array,
  timestamp: number,
  body: string | Uint8Array,
): string {
  const mac = createHmac("sha256", secret).update(`${timestamp}.`).update(body).digest("hex");
  return `${SIGNATURE_PREFIX}${mac}`;
}

/** Headers as node:http (IncomingHttpHeaders), fetch (Headers) or a plain record give them. */
export type ReceivedHeaders = Headers | Readonly<Record<string, string | readonly string[] | undefined>>;

export interface VerifyOptions {
  /** How far the timestamp may be from `now`, either way, in seconds (default 300). */
  readonly toleranceSeconds?: number;
  /** The receiver's clock, ms since the epoch (default Date.now()). */
  readonly now?: number;
}

function header(headers: ReceivedHeaders, name: string): string | undefined {
  if (headers instanceof Headers) return headers.get(name) ?? undefined;
  // node:http lower-cases names; a hand-made record may not.
  const key = name in headers ? name : Object.keys(headers).find((candidate) => candidate.toLowerCase() === name);
  const value = key === undefined ? undefined : headers[key];
  return typeof value === "string" ? value : undefined;
}

/**
 * True when the delivery was signed with `secret` over exactly `rawBody` (the bytes as received, before
 * any JSON parsing) and its timestamp is within the tolerance of `now`. The MAC is compared in constant
 * time. False for anything missing, malformed, stale or forged; it never throws on what a sender sent.
 */
export function verifyWebhook(
  secret: KeyObject | string | Uint8Array,
  headers: ReceivedHeaders,
  rawBody: string | Uint8Array,
  options: VerifyOptions = {},
): boolean {
  const timestampText = header(headers, WEBHOOK_HEADERS.timestamp);
  const signature = header(headers, WEBHOOK_HEADERS.signature);
  if (timestampText === undefined || signature === undefined || !/^\d{1,12}$/.test(timestampText)) return false;
  const timestamp = Number(timestampText);
  const nowSeconds = (options.now ?? Date.now()) / 1000;
  if (Math.abs(nowSeconds - timestamp) > (options.toleranceSeconds ?? 300)) return false;
  if (!signature.startsWith(SIGNATURE_PREFIX)) return false;
  const presentedHex = signature.slice(SIGNATURE_PREFIX.length);
  if (!/^[0-9a-f]{64}$/i.test(presentedHex)) return false;
  const expected = Buffer.from(signWebhook(secret, timestamp, rawBody).slice(SIGNATURE_PREFIX.length), "hex");
  return timingSafeEqual(expected, Buffer.from(presentedHex, "hex"));
}
