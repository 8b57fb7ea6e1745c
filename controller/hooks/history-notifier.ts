/**
 * The notification webhook (CUTOVER_NOTIFY_URL): every history entry the controller records is POSTed
 * as event `history`, for chat and paging tools. A rollout never waits for it and never fails by it:
 * `notify` returns at once and the delivery runs beside; a failure is one log line and a count in
 * `cutover_webhook_deliveries_total`. Deliveries run in parallel, so a receiver may see two entries out
 * of order: `entry.finishedAt` and `entry.revision` order them.
 */
import type { HistoryEntry } from "../../core/model-state.js";
import { redactWebhookUrl } from "../../core/redact.js";
import { failureText, type WebhookSender } from "./webhook-sender.js";

export const HISTORY_EVENT = "history";

/** The JSON body of a notification. */
export interface HistoryPayload {
  readonly event: typeof HISTORY_EVENT;
  readonly model: string;
  readonly entry: HistoryEntry;
}

/**
 * Deliveries in flight beyond which a new entry is dropped (logged, counted as `dropped`): a receiver
 * that is down costs each delivery up to attempts × timeout, and memory must not grow with the backlog.
 */
const MAX_IN_FLIGHT = 100;

export class HistoryNotifier {
  private readonly inFlight = new Set<Promise<void>>();
  private readonly shownUrl: string;

  constructor(
    private readonly sender: WebhookSender,
    private readonly url: string,
    private readonly log: (line: string) => void,
    /** Told of an entry dropped because too many deliveries were in flight (the metric). */
    private readonly onDropped: () => void = () => undefined,
  ) {
    this.shownUrl = redactWebhookUrl(url);
  }

  /** Starts delivering `entry` and returns at once; never throws. */
  notify(model: string, entry: HistoryEntry): void {
    if (this.inFlight.size >= MAX_IN_FLIGHT) {
      this.log(
        `webhook history of ${model} rollout ${entry.rolloutId} to ${this.shownUrl} dropped: ${MAX_IN_FLIGHT} deliveries still in flight`,
      );
      this.onDropped();
      return;
    }
    const payload: HistoryPayload = { event: HISTORY_EVENT, model, entry };
    const delivery: Promise<void> = this.sender
      .send(this.url, HISTORY_EVENT, payload)
      .then((outcome) => {
        if (!outcome.ok && outcome.failure !== "cancelled") {
          this.log(
            `webhook history of ${model} rollout ${entry.rolloutId} to ${this.shownUrl} failed: ${failureText(outcome)} (delivery ${outcome.deliveryId})`,
          );
        }
      })
      .catch(() => undefined)
      .finally(() => {
        this.inFlight.delete(delivery);
      });
    this.inFlight.add(delivery);
  }

  /** Resolves once every delivery started so far has its outcome (tests, and a graceful close). */
  async settled(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
  }
}
