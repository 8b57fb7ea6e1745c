/**
 * Webhook deliveries against real HTTP receivers on loopback: headers and signature, retries (same
 * delivery id), per-attempt timeouts, no retry on a refusal, and rollout hooks' pre-traffic verdict.
 */
import { createServer } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { RolloutHooks } from "../../controller/hooks/rollout-hooks.js";
import { type DeliveryOutcome, deliver, WebhookSender } from "../../controller/hooks/webhook-sender.js";
import { hookSecretKey, verifyWebhook, WEBHOOK_HEADERS } from "../../controller/hooks/webhook-signature.js";
import { freePort } from "../support/free-port.js";
import { type ReceiverAnswer, startWebhookReceiver, type WebhookReceiver } from "../support/webhook-receiver.js";

const SECRET = "delivery-test-secret-0123456789";
const FAST = { backoff: { baseMs: 10, maxMs: 20 } } as const;
const PAYLOAD = { event: "step", model: "demo", rolloutId: "r-1", weight: 10 };

const receivers: WebhookReceiver[] = [];
afterEach(async () => {
  await Promise.all(receivers.splice(0).map((receiver) => receiver.stop()));
});

async function receiver(answers: readonly ReceiverAnswer[]): Promise<WebhookReceiver> {
  const started = await startWebhookReceiver((index) => answers[Math.min(index, answers.length - 1)] ?? 200);
  receivers.push(started);
  return started;
}

describe("deliver", () => {
  it("posts signed JSON with the cutover headers; after a 500 the second attempt succeeds with the same delivery id", async () => {
    const hook = await receiver([500, 200]);
    const outcome = await deliver(hook.url, "step", PAYLOAD, { ...FAST, secret: hookSecretKey(SECRET) });
    expect(outcome).toMatchObject({ ok: true, status: 200, attempts: 2 });
    expect(outcome.error).toBeUndefined();
    const [first, second] = hook.received;
    expect(hook.received).toHaveLength(2);
    for (const attempt of [first, second]) {
      expect(attempt?.headers).toMatchObject({
        "content-type": "application/json",
        [WEBHOOK_HEADERS.event]: "step",
        [WEBHOOK_HEADERS.delivery]: outcome.deliveryId,
      });
      expect(attempt?.headers["user-agent"]).toMatch(/^cutover(\/\d+\.\d+\.\d+\S*)?$/);
      expect(JSON.parse(attempt?.body ?? "")).toEqual(PAYLOAD);
      expect(verifyWebhook(SECRET, attempt?.headers ?? {}, attempt?.body ?? "")).toBe(true);
      expect(verifyWebhook("another-secret-0123456789abc", attempt?.headers ?? {}, attempt?.body ?? "")).toBe(false);
    }
  });

  it("429 and 503 are retried; without a secret the delivery goes unsigned", async () => {
    const hook = await receiver([429, 503, 204]);
    const outcome = await deliver(hook.url, "complete", PAYLOAD, { ...FAST, attempts: 3 });
    expect(outcome).toMatchObject({ ok: true, status: 204, attempts: 3 });
    expect(hook.received[0]?.headers[WEBHOOK_HEADERS.signature]).toBeUndefined();
    expect(hook.received[0]?.headers[WEBHOOK_HEADERS.timestamp]).toMatch(/^\d+$/);
  });

  it("a receiver that never answers times out on each attempt, and the outcome says so", async () => {
    const hook = await receiver(["never"]);
    const outcome = await deliver(hook.url, "step", PAYLOAD, { ...FAST, timeoutMs: 200, attempts: 2 });
    expect(outcome).toMatchObject({
      ok: false,
      attempts: 2,
      failure: "timeout",
      error: "no answer within 200 ms",
    });
    expect(outcome.status).toBeUndefined();
    expect(hook.received).toHaveLength(2);
    expect(outcome.ms).toBeGreaterThanOrEqual(400);
    expect(outcome.ms).toBeLessThan(3_000);
  });

  it("400 is not retried, nor is a redirect followed", async () => {
    const refusing = await receiver([400]);
    const refused = await deliver(refusing.url, "step", PAYLOAD, FAST);
    expect(refused).toMatchObject({ ok: false, status: 400, attempts: 1, failure: "rejected", error: "HTTP 400" });

    const redirecting = await receiver([302]);
    const redirected = await deliver(redirecting.url, "step", PAYLOAD, FAST);
    expect(redirected).toMatchObject({
      ok: false,
      status: 302,
      attempts: 1,
      error: "HTTP 302 (redirects are not followed)",
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect([refusing.received.length, redirecting.received.length]).toEqual([1, 1]);
  });

  it("nothing listening: every attempt fails to connect; a URL that is not http(s) is not tried", async () => {
    const url = `http://127.0.0.1:${await freePort()}/hook`;
    const outcome = await deliver(url, "step", PAYLOAD, { ...FAST, attempts: 2 });
    expect(outcome).toMatchObject({ ok: false, attempts: 2, failure: "unreachable" });
    expect(outcome.error).toMatch(/ECONNREFUSED/);
    expect(await deliver("ftp://example.com/x", "step", PAYLOAD)).toMatchObject({ attempts: 0, failure: "invalid" });
  });

  it("the status decides: an answer that streams without end is cut, not buffered, and the delivery succeeded", async () => {
    let cut = false;
    const server = createServer((request, response) => {
      request.resume();
      response.writeHead(200);
      const chunk = Buffer.alloc(16 * 1024, 120);
      const timer = setInterval(() => response.write(chunk), 1);
      response.on("close", () => {
        clearInterval(timer);
        cut = true;
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = server.address();
    const port = typeof address === "object" && address !== null ? address.port : 0;
    try {
      const outcome = await deliver(`http://127.0.0.1:${port}/hook`, "step", PAYLOAD, { timeoutMs: 2_000 });
      expect(outcome).toMatchObject({ ok: true, status: 200, attempts: 1 });
      await expect.poll(() => cut, { timeout: 2_000 }).toBe(true);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});

describe("WebhookSender", () => {
  it("close cancels a delivery waiting for an answer; every outcome is reported", async () => {
    const hook = await receiver(["never"]);
    const seen: [string, DeliveryOutcome][] = [];
    const sender = new WebhookSender({ timeoutMs: 10_000, onOutcome: (event, outcome) => seen.push([event, outcome]) });
    const pending = sender.send(hook.url, "rollback", PAYLOAD);
    await hook.arrived(1);
    sender.close();
    const outcome = await pending;
    expect(outcome).toMatchObject({ ok: false, failure: "cancelled", attempts: 1 });
    expect(outcome.ms).toBeLessThan(5_000);
    expect(seen.map(([event, reported]) => [event, reported.failure])).toEqual([["rollback", "cancelled"]]);
  });

  it("options are checked where it is made", () => {
    expect(() => new WebhookSender({ secret: "short" })).toThrow(/CUTOVER_HOOK_SECRET is shorter than 16 bytes/);
    expect(() => new WebhookSender({ attempts: 0 })).toThrow(/attempts must be an integer from 1 to 10/);
    expect(new WebhookSender({ secret: SECRET }).signed).toBe(true);
    expect(new WebhookSender().signed).toBe(false);
  });
});

describe("RolloutHooks", () => {
  it("delivers to every hook of the event at once; one failed pre-traffic hook fails the run, its URL redacted", async () => {
    const passing = await receiver(["held"]);
    const refusing = await receiver([403]);
    const lines: string[] = [];
    const hooks = new RolloutHooks(new WebhookSender({ ...FAST, secret: SECRET }), (line) => lines.push(line));
    const payload = {
      model: "demo",
      rolloutId: "r-7",
      from: "v1",
      to: "v2",
      weight: 0,
      step: 0,
      steps: [10, 50],
      at: new Date().toISOString(),
    };
    const running = hooks.run(
      "pre-traffic",
      [
        { event: "pre-traffic", url: passing.url },
        { event: "pre-traffic", url: `${refusing.url}?token=hunter2-gate-token` },
        { event: "complete", url: passing.url },
      ],
      payload,
    );
    // Both are delivered while the first still waits for its answer: in parallel, not one after the other.
    await passing.arrived(1);
    await refusing.arrived(1);
    passing.release();
    const run = await running;

    expect(run.failed).toBe(true);
    expect(run.reason).toBe(`pre-traffic hook ${refusing.url}?token=*** failed: HTTP 403 after 1 attempt`);
    expect(run.outcomes.map((outcome) => [outcome.url, outcome.ok])).toEqual([
      [passing.url, true],
      [`${refusing.url}?token=***`, false],
    ]);
    expect(passing.received).toHaveLength(1);
    expect(JSON.parse(passing.received[0]?.body ?? "")).toEqual({ event: "pre-traffic", ...payload });
    expect(lines).toHaveLength(1);
    expect(lines.join("\n")).toMatch(/^webhook pre-traffic of demo rollout r-7 to .*\?token=\*\*\* failed: HTTP 403/);
    expect(`${lines.join("\n")}${run.reason}`).not.toContain("hunter2");

    const none = await hooks.run("rollback", [{ event: "step", url: passing.url }], { ...payload, weight: 0 });
    expect(none).toEqual({ event: "rollback", outcomes: [], failed: false, reason: null });
  });
});
