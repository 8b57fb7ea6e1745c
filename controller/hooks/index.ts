/** Webhooks: rollout hooks, the history notification, and how deliveries are signed and verified. */
export { HISTORY_EVENT, HistoryNotifier, type HistoryPayload } from "./history-notifier.js";
export {
  type HookEvent,
  type HookOutcome,
  type HookPayload,
  type HookRun,
  hookFailureReason,
  RolloutHooks,
} from "./rollout-hooks.js";
export {
  DEFAULT_DELIVERY,
  type DeliveryFailure,
  type DeliveryOptions,
  type DeliveryOutcome,
  type DeliveryTuning,
  deliver,
  failureText,
  WebhookSender,
  type WebhookSenderOptions,
  webhookUserAgent,
} from "./webhook-sender.js";
export {
  hookSecretKey,
  MIN_SECRET_BYTES,
  type ReceivedHeaders,
  signWebhook,
  type VerifyOptions,
  verifyWebhook,
  WEBHOOK_HEADERS,
} from "./webhook-signature.js";
