/**
 * One HTTP attempt of a webhook delivery, over node:http or node:https with a deadline of its own (as
 * the CLI's client does: fetch's defaults would wait minutes for a receiver that never answers).
 * Redirects are not followed: a 3xx is the receiver's answer. The answer's status decides; its body is
 * read and thrown away as it arrives, up to a bound, so a receiver that streams forever costs neither
 * memory nor more than the deadline.
 */
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";

/** Response bytes read (and discarded) before the connection is cut. */
const MAX_RESPONSE_BYTES = 64 * 1024;

export type AttemptResult =
  | { readonly kind: "status"; readonly status: number }
  | { readonly kind: "timeout" }
  | { readonly kind: "network"; readonly message: string }
  | { readonly kind: "cancelled" };

/**
 * POSTs `body` to `url` and resolves with the answer's status, or why there was none; never rejects.
 * The deadline covers connecting, sending and the status line; the body being discarded after it is
 * cut at the same deadline.
 */
export function attemptDelivery(
  url: URL,
  headers: Readonly<Record<string, string>>,
  body: Buffer,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<AttemptResult> {
  return new Promise<AttemptResult>((resolve) => {
    let settled = false;
    const settle = (result: AttemptResult) => {
      if (settled) return;
      settled = true;
      resolve(result);
    };
    if (signal?.aborted) {
      settle({ kind: "cancelled" });
      return;
    }
    const send = url.protocol === "https:" ? httpsRequest : httpRequest;
    const request = send(
      url,
      { method: "POST", headers: { ...headers, "content-length": String(body.length) } },
      (response: IncomingMessage) => {
        settle({ kind: "status", status: response.statusCode ?? 0 });
        let received = 0;
        response.on("data", (chunk: Buffer) => {
          received += chunk.length;
          if (received > MAX_RESPONSE_BYTES) request.destroy();
        });
        // The outcome is settled: an error while discarding the rest changes nothing.
        response.on("error", () => undefined);
        response.on("end", done);
      },
    );
    const onAbort = () => {
      settle({ kind: "cancelled" });
      request.destroy();
    };
    const deadline = setTimeout(() => {
      settle({ kind: "timeout" });
      request.destroy();
    }, timeoutMs);
    function done() {
      clearTimeout(deadline);
      signal?.removeEventListener("abort", onAbort);
    }
    signal?.addEventListener("abort", onAbort, { once: true });
    request.on("error", (error: Error) => settle({ kind: "network", message: error.message }));
    request.on("close", done);
    request.end(body);
  });
}
