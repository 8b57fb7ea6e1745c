/**
 * `POST /v2/models/{model}[/versions/{version}]/infer` on `node:http`, in front of the Hono app:
 * every other request goes to Hono. The hot path reads the body straight from the socket, calls the
 * shared InferEndpoint and writes the JSON answer — no web Request, Response, Headers or routing
 * per call (they were a fifth of a small model's request; docs/benchmarks.md). Same statuses and
 * bodies as the Hono route.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { InputError } from "../../core/errors.js";
import { errorAnswer, type InferEndpoint, OipError } from "./infer.js";

/** The paths Hono's infer routes match (no trailing slash), with any query. */
const INFER_PATH = /^\/v2\/models\/([^/?#]+)(?:\/versions\/([^/?#]+))?\/infer(?:\?.*)?$/;

/** The request body as text, at most `max` bytes: checked against Content-Length before reading. */
export function readNodeBody(request: IncomingMessage, max: number): Promise<string> {
  const tooLarge = () => new OipError(413, `request body over ${max} bytes`);
  const declared = request.headers["content-length"];
  if (declared !== undefined && Number(declared) > max) return Promise.reject(tooLarge());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) {
        request.removeAllListeners("data");
        request.resume();
        reject(tooLarge());
      } else chunks.push(chunk);
    });
    request.once("end", () =>
      resolve(chunks.length === 1 ? (chunks[0]?.toString("utf8") ?? "") : Buffer.concat(chunks).toString("utf8")),
    );
    const unreadable = () => reject(new InputError("the request body could not be read"));
    request.once("error", unreadable);
    request.once("close", () => {
      if (!request.complete) unreadable();
    });
  });
}

function decode(part: string | undefined): string | undefined {
  if (part === undefined) return undefined;
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}

/**
 * A front listener: answers infer calls itself and returns true, returns false for anything else
 * (the caller hands those to Hono).
 */
export function inferRoute(
  endpoint: InferEndpoint,
  maxRequestBytes: number,
  log: (message: string, error: unknown) => void,
): (request: IncomingMessage, response: ServerResponse) => boolean {
  const send = (response: ServerResponse, status: number, body: unknown, close = false) => {
    const text = JSON.stringify(body);
    response.writeHead(status, {
      "content-type": "application/json",
      "content-length": Buffer.byteLength(text),
      ...(close ? { connection: "close" } : {}),
    });
    response.end(text);
  };
  return (request, response) => {
    if (request.method !== "POST") return false;
    const match = INFER_PATH.exec(request.url ?? "");
    if (match === null) return false;
    const model = decode(match[1]) ?? "";
    const version = decode(match[2]);
    endpoint
      .infer(model, version, () => readNodeBody(request, maxRequestBytes))
      .then(
        (answer) => send(response, 200, answer),
        (error: unknown) => {
          const { status, body } = errorAnswer(error, () => log(`POST ${request.url} failed`, error));
          // A body cut off at the limit was not read to its end: the connection cannot carry another request.
          send(response, status, body, status === 413);
        },
      )
      .catch((error: unknown) => {
        // Writing the answer failed (a bug, never a bad request): the connection goes, the node stays up.
        log(`POST ${request.url}: could not answer`, error);
        response.destroy();
      });
    return true;
  };
}
