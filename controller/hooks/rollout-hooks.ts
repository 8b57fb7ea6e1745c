/**
 * The webhooks of a progressive rollout (`rollout.progressive.hooks`, core/progressive.ts): the rollout
 * calls `run` at each of its moments — `pre-traffic` before the candidate takes any request, `step`
 * after each step's weight is in force, `complete` once the candidate takes everything, `rollback` once
 * traffic is back on the baseline — and every hook declared for that moment gets the payload, all of
 * them at once. A failed `pre-traffic` delivery means the rollout must not start (`failed`, `reason`);
 * for the others the rollout goes on, the failure being logged and counted.
 */
import type { AnalysisResult, Hook } from "../../core/progressive.js";
import { redactWebhookUrl } from "../../core/redact.js";
import { type DeliveryOutcome, failureText, type WebhookSender } from "./webhook-sender.js";

export type HookEvent = Hook["event"];

/** The JSON body of every rollout hook delivery; the rollout's state machine fills it. */
export interface HookPayload {
  readonly event: HookEvent;
  readonly model: string;
  readonly rolloutId: string;
  /** The baseline: the version active when the rollout began (null when there was none). */
  readonly from: string | null;
  /** The candidate. */
  readonly to: string;
  /** The candidate's share of requests now, in percent: 0 before traffic and after a rollback, 100 on completion. */
  readonly weight: number;
  /** The step in force, an index into `steps`. */
  readonly step: number;
  /** The strategy's candidate weights in percent, ascending. */
  readonly steps: readonly number[];
  /** When it happened (ISO 8601). */
  readonly at: string;
  /** The analysis that decided (step, complete, rollback), when one ran. */
  readonly analysis?: AnalysisResult;
}

export interface HookOutcome extends DeliveryOutcome {
  /** The hook's URL with its credentials masked (redactWebhookUrl): safe for logs, answers and history. */
  readonly url: string;
}

export interface HookRun {
  readonly event: HookEvent;
  /** One per hook declared for the event, in declaration order. */
  readonly outcomes: readonly HookOutcome[];
  /** Some delivery failed: for `pre-traffic`, the rollout must not start. */
  readonly failed: boolean;
  /** One line naming the first failed hook's URL (redacted) and why; null when none failed. */
  readonly reason: string | null;
}

/** One line for failed outcomes, or null when every delivery succeeded (or there was none). */
export function hookFailureReason(event: HookEvent, outcomes: readonly HookOutcome[]): string | null {
  const failures = outcomes.filter((outcome) => !outcome.ok);
  const [first] = failures;
  if (first === undefined) return null;
  const more = failures.length > 1 ? ` (and ${failures.length - 1} more of ${outcomes.length} ${event} hooks)` : "";
  return `${event} hook ${first.url} failed: ${failureText(first)}${more}`;
}

export class RolloutHooks {
  constructor(
    private readonly sender: WebhookSender,
    private readonly log: (line: string) => void,
  ) {}

  /**
   * Delivers the payload with its `event` to every hook declared for `event` and resolves once all have an
   * outcome (at most attempts × timeout plus backoff, 5 s × 3 and up to 1.5 s of waits by default).
   * Hooks of other events are skipped; with none, it resolves at once, not failed. Each failed
   * delivery is logged here (one line, the URL redacted), so the caller need not. Never throws.
   */
  async run(event: HookEvent, hooks: readonly Hook[], payload: Omit<HookPayload, "event">): Promise<HookRun> {
    // The event last: it is the one `run` was called for, whatever the payload object holds.
    const body: HookPayload = { ...payload, event };
    const outcomes = await Promise.all(
      hooks
        .filter((hook) => hook.event === event)
        .map(async (hook): Promise<HookOutcome> => {
          const outcome = await this.sender.send(hook.url, event, body);
          return { ...outcome, url: redactWebhookUrl(hook.url) };
        }),
    );
    for (const outcome of outcomes) {
      if (!outcome.ok) {
        this.log(
          `webhook ${event} of ${payload.model} rollout ${payload.rolloutId} to ${outcome.url} failed: ${failureText(outcome)} (delivery ${outcome.deliveryId})`,
        );
      }
    }
    const reason = hookFailureReason(event, outcomes);
    return { event, outcomes, failed: reason !== null, reason };
  }
}
