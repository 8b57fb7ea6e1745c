/**
 * A webhook receiver on loopback: a real HTTP server that keeps every delivery (headers and the raw
 * body, as a receiver must verify it) and answers each as the test scripts it — a status, never, or
 * once the test releases it.
 */
import { createServer, type IncomingHttpHeaders, type ServerResponse } from "node:http";

export interface ReceivedDelivery {
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  /** When the whole body had arrived (performance.now()). */
  readonly at: number;
}

/** A status to answer with; `never`: read the request and never answer; `held`: 200 once released. */
export type ReceiverAnswer = number | "never" | "held";

export interface WebhookReceiver {
  /** `http://127.0.0.1:<port>/hook`. */
  readonly url: string;
  readonly received: readonly ReceivedDelivery[];
  /** Resolves once `count` deliveries (attempts) have arrived. */
  arrived(count: number): Promise<readonly ReceivedDelivery[]>;
  /** Answers every held request with 200. */
  release(): void;
  stop(): Promise<void>;
}

/** Starts a receiver; `answer` is called with each request's index, from 0. */
export async function startWebhookReceiver(answer: (index: number) => ReceiverAnswer): Promise<WebhookReceiver> {
  const received: ReceivedDelivery[] = [];
  const held: ServerResponse[] = [];
  let released = false;
  let waiters: { count: number; resolve: () => void }[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      received.push({ headers: request.headers, body: Buffer.concat(chunks).toString("utf8"), at: performance.now() });
      waiters = waiters.filter((waiter) => {
        if (received.length < waiter.count) return true;
        waiter.resolve();
        return false;
      });
      const scripted = answer(received.length - 1);
      if (scripted === "never") return;
      if (scripted === "held" && !released) {
        held.push(response);
        return;
      }
      response.writeHead(scripted === "held" ? 200 : scripted, { "content-type": "text/plain" }).end("ok");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (typeof address !== "object" || address === null) throw new Error("the webhook receiver has no port");
  return {
    url: `http://127.0.0.1:${address.port}/hook`,
    received,
    arrived(count) {
      if (received.length >= count) return Promise.resolve(received);
      return new Promise((resolve) => waiters.push({ count, resolve: () => resolve(received) }));
    },
    release() {
      released = true;
      for (const response of held.splice(0)) response.writeHead(200).end("ok");
    },
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
