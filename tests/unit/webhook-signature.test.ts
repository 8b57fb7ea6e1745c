import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { type HookOutcome, hookFailureReason } from "../../controller/hooks/rollout-hooks.js";
import {
  hookSecretKey,
  signWebhook,
  verifyWebhook,
  WEBHOOK_HEADERS,
} from "../../controller/hooks/webhook-signature.js";
import { redactWebhookUrl } from "../../core/redact.js";

const SECRET = "receiver-secret-0123456789abcdef";
const BODY = JSON.stringify({ event: "history", model: "demo", entry: { rolloutId: "r1" } });
const NOW = Date.parse("2026-11-28T12:00:00Z");
const SIGNED_AT = NOW / 1000 - 10;

function headersFor(body: string, timestamp = SIGNED_AT, secret = SECRET): Record<string, string> {
  return {
    [WEBHOOK_HEADERS.timestamp]: String(timestamp),
    [WEBHOOK_HEADERS.signature]: signWebhook(secret, timestamp, body),
  };
}

describe("webhook signatures: HMAC-SHA256 over `<timestamp>.<body>`", () => {
  it("verifies with the secret it was signed with, from node:http headers, fetch Headers or any-case records", () => {
    const headers = headersFor(BODY);
    expect(verifyWebhook(SECRET, headers, BODY, { now: NOW })).toBe(true);
    expect(verifyWebhook(SECRET, headers, Buffer.from(BODY), { now: NOW })).toBe(true);
    expect(verifyWebhook(SECRET, new Headers(headers), BODY, { now: NOW })).toBe(true);
    const shouted = Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toUpperCase(), value]));
    expect(verifyWebhook(SECRET, shouted, BODY, { now: NOW })).toBe(true);
    expect(verifyWebhook(hookSecretKey(SECRET), headers, BODY, { now: NOW })).toBe(true);
  });

  it("is the documented scheme: sha256= and the hex HMAC of timestamp, a dot, the raw body", () => {
    const mac = createHmac("sha256", SECRET).update(`${SIGNED_AT}.${BODY}`).digest("hex");
    expect(signWebhook(SECRET, SIGNED_AT, BODY)).toBe(`sha256=${mac}`);
  });

  it("fails with another secret, a changed body, a changed timestamp, or a malformed header", () => {
    const headers = headersFor(BODY);
    expect(verifyWebhook("another-secret-0123456789abcdef", headers, BODY, { now: NOW })).toBe(false);
    expect(verifyWebhook(SECRET, headers, BODY.replace("r1", "r2"), { now: NOW })).toBe(false);
    expect(verifyWebhook(SECRET, headers, `${BODY} `, { now: NOW })).toBe(false);
    const redated = { ...headers, [WEBHOOK_HEADERS.timestamp]: String(SIGNED_AT + 1) };
    expect(verifyWebhook(SECRET, redated, BODY, { now: NOW })).toBe(false);
    const signature = headers[WEBHOOK_HEADERS.signature] ?? "";
    for (const bad of [signature.slice(0, -2), signature.replace("sha256=", "sha1="), "", "sha256=zz"]) {
      expect(verifyWebhook(SECRET, { ...headers, [WEBHOOK_HEADERS.signature]: bad }, BODY, { now: NOW })).toBe(false);
    }
    expect(verifyWebhook(SECRET, { [WEBHOOK_HEADERS.signature]: signature }, BODY, { now: NOW })).toBe(false);
    expect(verifyWebhook(SECRET, { ...headers, [WEBHOOK_HEADERS.timestamp]: "12.5" }, BODY, { now: NOW })).toBe(false);
  });

  it("fails for an old timestamp (a replay) and one too far ahead, within the tolerance either way", () => {
    const old = headersFor(BODY, SIGNED_AT - 600);
    expect(verifyWebhook(SECRET, old, BODY, { now: NOW })).toBe(false);
    expect(verifyWebhook(SECRET, old, BODY, { now: NOW, toleranceSeconds: 900 })).toBe(true);
    const ahead = headersFor(BODY, NOW / 1000 + 301);
    expect(verifyWebhook(SECRET, ahead, BODY, { now: NOW })).toBe(false);
    expect(verifyWebhook(SECRET, headersFor(BODY, NOW / 1000 - 300), BODY, { now: NOW })).toBe(true);
  });

  it("a secret shorter than 16 bytes is refused by its length, never echoed; the key prints as nothing", () => {
    const short = "hunter2-short";
    let error: unknown;
    try {
      hookSecretKey(short);
    } catch (caught) {
      error = caught;
    }
    expect(error).toMatchObject({
      code: "INVALID_CONFIG",
      message: expect.stringMatching(/^CUTOVER_HOOK_SECRET is shorter than 16 bytes/),
    });
    expect(String((error as Error).message)).not.toContain("hunter2");
    // 17 bytes in 6 characters: the floor is in bytes.
    expect(() => hookSecretKey("€€€€€é")).not.toThrow();
    const key = hookSecretKey(SECRET);
    expect(JSON.stringify({ key })).not.toContain("0123456789");
    expect(String(key)).not.toContain("0123456789");
  });
});

describe("webhook URLs in messages", () => {
  it("userinfo, every query value and token-like path segments are masked; host and path stay", () => {
    expect(redactWebhookUrl("https://hooks.example.com/cutover/pre-traffic")).toBe(
      "https://hooks.example.com/cutover/pre-traffic",
    );
    expect(redactWebhookUrl("https://bot:hunter2@hooks.example.com/x?token=hunter2&team=ml")).toBe(
      "https://***:***@hooks.example.com/x?token=***&team=***",
    );
    expect(redactWebhookUrl("https://hooks.slack.com/services/T0001/B0001/AbCdEf0123456789GhIjKlMn")).toBe(
      "https://hooks.slack.com/services/T0001/B0001/***",
    );
    expect(redactWebhookUrl("not a url hunter2")).toBe("<unparsable URL>");
  });

  it("a pre-traffic outcome list with one failure is failed, its reason naming the URL redacted", () => {
    const outcome = (url: string, ok: boolean): HookOutcome => ({
      url: redactWebhookUrl(url),
      ok,
      attempts: ok ? 1 : 3,
      ms: 12,
      deliveryId: "d",
      ...(ok ? { status: 200 } : { status: 503, failure: "rejected" as const, error: "HTTP 503" }),
    });
    const outcomes = [
      outcome("https://ci.example.com/gate?key=hunter2", false),
      outcome("https://ok.example.com/gate", true),
    ];
    const reason = hookFailureReason("pre-traffic", outcomes);
    expect(reason).toBe("pre-traffic hook https://ci.example.com/gate?key=*** failed: HTTP 503 after 3 attempts");
    expect(reason).not.toContain("hunter2");
    expect(hookFailureReason("pre-traffic", [outcomes[1] as HookOutcome])).toBeNull();
    expect(hookFailureReason("pre-traffic", [])).toBeNull();
  });
});
