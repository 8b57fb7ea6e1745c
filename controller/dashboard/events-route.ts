/**
 * `GET /v1/events`: the live feed as server-sent events (`fleet`, `traffic`, `unavailable`, each a
 * JSON object; fleet-feed.ts says when each is sent). Open like the other reads. A comment line every
 * 15 s keeps proxies from closing an idle stream. A page that stops reading (64 writes pending) has its
 * connection destroyed — ending the stream would wait for the writes it does not read — and so does
 * every stream when the controller closes, so a stalled client never holds a shutdown. The browser's
 * EventSource reconnects after a dropped connection; the page itself retries after an HTTP error.
 */
import type { HttpBindings } from "@hono/node-server";
import type { Context } from "hono";
import { streamSSE } from "hono/streaming";
import type { FeedEvent, FleetFeed } from "./fleet-feed.js";

const KEEPALIVE_MS = 15_000;
const MAX_QUEUED = 64;
/** How long EventSource waits before reconnecting (ms). */
const RETRY_MS = 2_000;

export function streamFleetEvents(c: Context, feed: FleetFeed): Response {
  // The node:http response under the stream, when served by @hono/node-server (not in app.request()).
  const outgoing = (c.env as Partial<HttpBindings> | undefined)?.outgoing;
  const early: FeedEvent[] = [];
  let deliver: ((event: FeedEvent) => void) | undefined;
  let end: () => void = () => undefined;
  const ended = new Promise<void>((resolve) => (end = resolve));
  const cut = () => {
    outgoing?.destroy();
    end();
  };
  // Subscribed before the stream starts: a refusal (too many pages) becomes the route's error answer.
  const unsubscribe = feed.subscribe((event) => (deliver === undefined ? early.push(event) : deliver(event)), cut);
  return streamSSE(c, async (stream) => {
    let queued = 0;
    let chain = Promise.resolve();
    const write = (send: () => Promise<unknown>): void => {
      if (stream.closed) return;
      if (++queued > MAX_QUEUED) {
        cut();
        return;
      }
      chain = chain
        .then(send)
        .then(() => void queued--)
        .catch(() => cut());
    };
    stream.onAbort(() => end());
    const keepalive = setInterval(() => write(() => stream.write(": keepalive\n\n")), KEEPALIVE_MS);
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
