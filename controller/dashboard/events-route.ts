/**
 * `GET /v1/events`: the live feed as server-sent events (`fleet`, `traffic`, `unavailable`, each a
 * JSON object; fleet-feed.ts says when each is sent). Open like the other reads. A comment line every
 * 15 s keeps proxies from closing an idle stream; a page that stops reading (64 events queued) is
 * cut off and reconnects by itself (EventSource does), so a stalled client holds no growing buffer.
 * The stream ends when the controller closes.
 */
import type { Context } from "hono";
import { streamSSE } from "hono/streaming";
import type { FeedEvent, FleetFeed } from "./fleet-feed.js";

const KEEPALIVE_MS = 15_000;
const MAX_QUEUED = 64;
/** How long EventSource waits before reconnecting (ms). */
const RETRY_MS = 2_000;

export function streamFleetEvents(c: Context, feed: FleetFeed): Response {
  // Subscribed before the stream starts: a refusal (too many pages) becomes the route's error answer.
  const early: FeedEvent[] = [];
  let deliver: ((event: FeedEvent) => void) | undefined;
  let end: () => void = () => undefined;
  const ended = new Promise<void>((resolve) => (end = resolve));
  const unsubscribe = feed.subscribe(
    (event) => (deliver === undefined ? early.push(event) : deliver(event)),
    () => end(),
  );
  return streamSSE(c, async (stream) => {
    let queued = 0;
    let chain = Promise.resolve();
    const write = (send: () => Promise<void>): void => {
      if (stream.closed) return;
      if (++queued > MAX_QUEUED) {
        end();
        return;
      }
      chain = chain
        .then(send)
        .then(() => void queued--)
        .catch(() => end());
    };
    stream.onAbort(() => end());
    const keepalive = setInterval(() => write(async () => void (await stream.write(": keepalive\n\n"))), KEEPALIVE_MS);
    try {
      await stream.write(`retry: ${RETRY_MS}\n\n`);
      deliver = (event) => write(() => stream.writeSSE({ event: event.type, data: JSON.stringify(event.data) }));
      for (const event of early.splice(0)) deliver(event);
      await ended;
    } finally {
      clearInterval(keepalive);
      unsubscribe();
    }
  });
}
