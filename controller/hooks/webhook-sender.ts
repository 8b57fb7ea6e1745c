/**
 * Delivers one webhook: a JSON POST, signed when there is a secret, retried with capped jittered
 * backoff when the failure may pass (no connection, no answer in time, 429, 5xx) and not when the
 * receiver refused it (other 4xx, 3xx). Every attempt of one delivery carries the same delivery id and
 * body, and a fresh timestamp and signature, so a retry after a long wait is not mistaken for a replay.
 * `deliver` never throws: what happened is in its outcome.
 */
import { type KeyObject, randomUUID } from "node:crypto";
import { type BackoffOptions, backoffDelay } from "../../core/backoff.js";
import { ConfigError, errorMessage } from "../../core/errors.js";
import { packageVersion } from "../../core/package-version.js";
import { type AttemptResult, attemptDelivery } from "./webhook-attempt.js";
import { hookSecretKey, signWebhook, WEBHOOK_HEADERS } from "./webhook-signature.js";

/** How a delivery failed; `rejected`: the last attempt got a status outside 2xx. */
export type DeliveryFailure = "rejected" | "timeout" | "unreachable" | "cancelled" | "invalid";

export interface DeliveryOutcome {
  readonly ok: boolean;
  /** The last attempt's HTTP status, when it got one. */
  readonly status?: number;
  /** Attempts made (0 when the URL or payload could not be sent at all). */
  readonly attempts: number;
  /** One line: why it failed; absent when it succeeded. */
  readonly error?: string;
  readonly failure?: DeliveryFailure;
  /** From the first attempt to the outcome, backoff included. */
  readonly ms: number;
  readonly deliveryId: string;
}

/** Timeouts, attempts and backoff: defaults for a receiver that answers in well under a second. */
export interface DeliveryTuning {
  /** Deadline of one attempt, in ms (default 5000). */
  readonly timeoutMs?: number;
  /** Attempts in all, the first included (default 3). */
  readonly attempts?: number;
  /** Delay before each retry (default 0.5 s scale, 5 s cap, full jitter). */
  readonly backoff?: BackoffOptions;
}

export interface DeliveryOptions extends DeliveryTuning {
  /** Signs each attempt; without it the delivery goes unsigned. */
  readonly secret?: KeyObject;
  /** Stops waiting and retrying (the controller is closing). */
  readonly signal?: AbortSignal;
  /** Source of jitter (tests). */
  readonly random?: () => number;
}

export const DEFAULT_DELIVERY = { timeoutMs: 5_000, attempts: 3, backoff: { baseMs: 500, maxMs: 5_000 } } as const;

/** `cutover/<version>`, or `cutover` when the version cannot be read. */
export function webhookUserAgent(): string {
  const version = packageVersion();
  return version === "unknown" ? "cutover" : `cutover/${version}`;
}

function retryable(result: AttemptResult): boolean {
  if (result.kind === "cancelled") return false;
  if (result.kind !== "status") return true;
  return result.status === 429 || result.status >= 500;
}

function failureOf(result: AttemptResult, timeoutMs: number): { failure: DeliveryFailure; error: string } {
  switch (result.kind) {
    case "status":
      return {
        failure: "rejected",
        error:
          result.status >= 300 && result.status < 400
            ? `HTTP ${result.status} (redirects are not followed)`
            : `HTTP ${result.status}`,
      };
    case "timeout":
      return { failure: "timeout", error: `no answer within ${timeoutMs} ms` };
    case "network":
      return { failure: "unreachable", error: result.message };
    case "cancelled":
      return { failure: "cancelled", error: "cancelled: the sender was closed" };
  }
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(finish, ms);
    function finish() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", finish);
      resolve();
    }
    signal?.addEventListener("abort", finish, { once: true });
  });
}

/**
 * POSTs `payload` as JSON to `url` as `event`, with the cutover headers (WEBHOOK_HEADERS), until an
 * attempt gets a 2xx, a refusal that retrying cannot change, or the attempts run out.
 */
export async function deliver(
  url: string,
  event: string,
  payload: unknown,
  options: DeliveryOptions = {},
): Promise<DeliveryOutcome> {
  const started = performance.now();
  const deliveryId = randomUUID();
  const elapsed = () => Math.round(performance.now() - started);
  let target: URL;
  let body: Buffer;
  try {
    target = new URL(url);
    if (target.protocol !== "http:" && target.protocol !== "https:") throw new Error("not an http(s) URL");
    body = Buffer.from(JSON.stringify(payload), "utf8");
  } catch (error) {
    return { ok: false, attempts: 0, failure: "invalid", error: errorMessage(error), ms: elapsed(), deliveryId };
  }
  const timeoutMs = options.timeoutMs ?? DEFAULT_DELIVERY.timeoutMs;
  const attempts = Math.max(1, options.attempts ?? DEFAULT_DELIVERY.attempts);
  const backoff = options.backoff ?? DEFAULT_DELIVERY.backoff;
  const userAgent = webhookUserAgent();
  let result: AttemptResult = { kind: "cancelled" };
  let attempt = 0;
  while (attempt < attempts) {
    if (attempt > 0) await pause(backoffDelay(attempt, backoff, options.random), options.signal);
    if (options.signal?.aborted) {
      result = { kind: "cancelled" };
      break;
    }
    attempt += 1;
    const timestamp = Math.floor(Date.now() / 1000);
    const headers: Record<string, string> = {
      "content-type": "application/json",
      "user-agent": userAgent,
      [WEBHOOK_HEADERS.event]: event,
      [WEBHOOK_HEADERS.delivery]: deliveryId,
      [WEBHOOK_HEADERS.timestamp]: String(timestamp),
    };
    if (options.secret !== undefined) headers[WEBHOOK_HEADERS.signature] = signWebhook(options.secret, timestamp, body);
    result = await attemptDelivery(target, headers, body, timeoutMs, options.signal);
    if (result.kind === "status" && result.status >= 200 && result.status < 300) {
      return { ok: true, status: result.status, attempts: attempt, ms: elapsed(), deliveryId };
    }
    if (!retryable(result)) break;
  }
  return {
    ok: false,
    ...(result.kind === "status" ? { status: result.status } : {}),
    attempts: attempt,
    ...failureOf(result, timeoutMs),
    ms: elapsed(),
    deliveryId,
  };
}

/** Why a delivery failed, in a few words: `HTTP 503 after 3 attempts`, `no answer within 5000 ms after 1 attempt`. */
export function failureText(outcome: DeliveryOutcome): string {
  const error = outcome.error ?? "failed";
  if (outcome.attempts === 0) return error;
  return `${error} after ${outcome.attempts} attempt${outcome.attempts === 1 ? "" : "s"}`;
}

export interface WebhookSenderOptions extends DeliveryTuning {
  /** CUTOVER_HOOK_SECRET: at least 16 bytes; unset, deliveries go unsigned. */
  readonly secret?: string;
  /** Told of every delivery's outcome (the controller's metric). */
  readonly onOutcome?: (event: string, outcome: DeliveryOutcome) => void;
}

/**
 * The controller's webhook deliveries: the secret and tuning checked once, every outcome reported to
 * `onOutcome`, and `close` cancelling what is still waiting or retrying.
 */
export class WebhookSender {
  readonly signed: boolean;
  private readonly secret: KeyObject | undefined;
  private readonly closing = new AbortController();

  constructor(private readonly options: WebhookSenderOptions = {}) {
    const { timeoutMs, attempts, backoff } = options;
    if (timeoutMs !== undefined && !(Number.isInteger(timeoutMs) && timeoutMs >= 1)) {
      throw new ConfigError(`webhooks: timeoutMs must be a positive integer, not ${timeoutMs}`);
    }
    if (attempts !== undefined && !(Number.isInteger(attempts) && attempts >= 1 && attempts <= 10)) {
      throw new ConfigError(`webhooks: attempts must be an integer from 1 to 10, not ${attempts}`);
    }
    if (backoff !== undefined && !(backoff.baseMs >= 0 && backoff.maxMs >= backoff.baseMs)) {
      throw new ConfigError("webhooks: backoff needs 0 ≤ baseMs ≤ maxMs");
    }
    this.secret = options.secret === undefined ? undefined : hookSecretKey(options.secret);
    this.signed = this.secret !== undefined;
  }

  /** Delivers `payload` to `url` as `event`; never throws. */
  async send(url: string, event: string, payload: unknown): Promise<DeliveryOutcome> {
    const { timeoutMs, attempts, backoff } = this.options;
    const outcome = await deliver(url, event, payload, {
      timeoutMs,
      attempts,
      backoff,
      secret: this.secret,
      signal: this.closing.signal,
    });
    try {
      this.options.onOutcome?.(event, outcome);
    } catch {
      // A metric that cannot be counted must not turn a delivery into a failure.
    }
    return outcome;
  }

  /** Cancels deliveries in flight: they end at once with `cancelled`. */
  close(): void {
    this.closing.abort();
  }
}
