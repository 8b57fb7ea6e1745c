/**
 * `POST /v2/models/{model}[/versions/{version}]/infer` on `node:http`, in front of the Hono app:
 * every other request goes to Hono. The hot path reads the body straight from the socket, calls the
 * shared InferEndpoint and writes the JSON answer — no web Request, Response, Headers or routing
 * per call (they were a fifth of a small model's request; docs/benchmarks.md). Same statuses and
 * bodies as the Hono route.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { INFERENCE_HEADER_LENGTH } from "../../core/binary-tensors.js";
import { InputError } from "../../core/errors.js";
import { SPLIT_KEY_HEADER } from "../../core/progressive.js";
import {
  answerBody,
  errorAnswer,
  type InferAnswer,
  type InferEndpoint,
  type InferRequestBody,
  OipError,
} from "./infer.js";

/** The paths Hono's infer routes match (no trailing slash), with any query. */
const INFER_PATH = /^\/v2\/models\/([^/?#]+)(?:\/versions\/([^/?#]+))?\/infer(?:\?.*)?$/;

/**
 * The request body, at most `max` bytes (checked against Content-Length before reading), with its
 * `Inference-Header-Content-Length` (binary tensor data).
 */
export function readNodeBody(request: IncomingMessage, max: number): Promise<InferRequestBody> {
  const tooLarge = () => new OipError(413, `request body over ${max} bytes`);
  const declared = request.headers["content-length"];
  if (declared !== undefined && Number(declared) > max) return Promise.reject(tooLarge());
  const headerLength = request.headers[INFERENCE_HEADER_LENGTH];
  const header = Array.isArray(headerLength) ? headerLength.join(",") : headerLength;
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
      resolve({ bytes: (chunks.length === 1 ? chunks[0] : undefined) ?? Buffer.concat(chunks), headerLength: header }),
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
  /** A 200: JSON alone as before, or the JSON header and binary outputs written without joining them. */
  const answer = (response: ServerResponse, result: InferAnswer) => {
    if (result.binary.length === 0) return send(response, 200, result.response);
    const { headers, chunks, length } = answerBody(result);
    response.writeHead(200, { ...headers, "content-length": length });
    response.cork();
    for (const chunk of chunks) response.write(chunk);
    response.uncork();
    response.end();
  };
  return (request, response) => {
    if (request.method !== "POST") return false;
    const match = INFER_PATH.exec(request.url ?? "");
    if (match === null) return false;
    const model = decode(match[1]) ?? "";
    const version = decode(match[2]);
    const key = request.headers[SPLIT_KEY_HEADER];
    endpoint
      .infer(model, version, () => readNodeBody(request, maxRequestBytes), Array.isArray(key) ? key.join(",") : key)
      .then(
        (result) => answer(response, result),
        (error: unknown) => {
          const { status, body } = errorAnswer(error, (inner) => log(`POST ${request.url} failed`, inner));
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
