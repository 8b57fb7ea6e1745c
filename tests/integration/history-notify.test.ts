/**
 * The notification webhook (CUTOVER_NOTIFY_URL), through the in-process controller on real Redis and
 * S3: every history entry is posted, signed, and the rollout's answer never waits for the receiver.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyWebhook, WEBHOOK_HEADERS } from "../../controller/hooks/webhook-signature.js";
import type { HistoryEntry } from "../../core/model-state.js";
import {
  type ControllerHarness,
  HOOK_SECRET,
  MODEL,
  startControllerHarness,
  TOKEN,
} from "../support/controller-harness.js";
import { startWebhookReceiver } from "../support/webhook-receiver.js";

let harness: ControllerHarness;

beforeAll(async () => {
  harness = await startControllerHarness();
});
afterAll(() => harness.stop());

const auth = { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" };

describe("the history notification", () => {
  it("posts the entry of a finished rollout, signed, while the activate answer does not wait for the receiver", async () => {
    // The receiver takes each notification and answers only when the test releases it.
    const receiver = await startWebhookReceiver(() => "held");
    const lines: string[] = [];
    const controller = await harness.controller(
      "notify-a:",
      { log: (line) => lines.push(line) },
      { notifyUrl: `${receiver.url}?token=hunter2-notify` },
    );
    try {
      const response = await controller.app.request(`/v1/models/${MODEL}/activate`, {
        method: "POST",
        headers: auth,
        body: JSON.stringify({ version: "v1", allowNoNodes: true }),
      });
      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({ to: "v1", revision: 1, changed: true });

      const [delivery] = await receiver.arrived(1);
      let settled = false;
      void controller.notifier?.settled().then(() => {
        settled = true;
      });
      await new Promise((resolve) => setTimeout(resolve, 50));
      // Answered, and its notification still waiting for the receiver.
      expect(settled).toBe(false);

      const history = (await (await controller.app.request(`/v1/models/${MODEL}/history`)).json()) as {
        history: HistoryEntry[];
      };
      expect(delivery?.headers[WEBHOOK_HEADERS.event]).toBe("history");
      expect(verifyWebhook(HOOK_SECRET, delivery?.headers ?? {}, delivery?.body ?? "")).toBe(true);
      expect(JSON.parse(delivery?.body ?? "")).toEqual({ event: "history", model: MODEL, entry: history.history[0] });
      expect(history.history[0]).toMatchObject({ action: "activate", to: "v1", outcome: "promoted", revision: 1 });

      receiver.release();
      await controller.notifier?.settled();
      const metrics = await (await controller.app.request("/metrics")).text();
      expect(metrics).toContain('cutover_webhook_deliveries_total{event="history",outcome="delivered"} 1');
      expect(lines).toEqual([]);
    } finally {
      await receiver.stop();
    }
  });

  it("a receiver that refuses costs the rollout nothing: one log line with the URL redacted, and a count", async () => {
    const receiver = await startWebhookReceiver(() => 500);
    const lines: string[] = [];
    const controller = await harness.controller(
      "notify-b:",
      { log: (line) => lines.push(line), webhooks: { attempts: 2, backoff: { baseMs: 10, maxMs: 20 } } },
      { notifyUrl: `${receiver.url}?token=hunter2-notify` },
    );
    try {
      const response = await controller.app.request(`/v1/models/${MODEL}/activate`, {
        method: "POST",
        headers: auth,
        body: JSON.stringify({ version: "v1", allowNoNodes: true }),
      });
      expect(response.status).toBe(200);
      await controller.notifier?.settled();
      expect(receiver.received).toHaveLength(2);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(
        /^webhook history of demo rollout \S+ to http:\/\/127\.0\.0\.1:\d+\/hook\?token=\*\*\* failed: HTTP 500 after 2 attempts \(delivery \S+\)$/,
      );
      expect(lines[0]).not.toContain("hunter2");
      const metrics = await (await controller.app.request("/metrics")).text();
      expect(metrics).toContain('cutover_webhook_deliveries_total{event="history",outcome="rejected"} 1');
    } finally {
      await receiver.stop();
    }
  });
});
