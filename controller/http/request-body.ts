/**
 * Request bodies of the controller's API: small JSON objects, read up to a cap and parsed with a
 * schema. A body over the cap is refused with BODY_TOO_LARGE (413) as soon as its Content-Length says
 * so, or, sent chunked, once the cap is passed: the rest is never read.
 */
import type { z } from "zod";
import { CutoverError, ErrorCode, InputError } from "../../core/errors.js";

/** The largest body a change (activate, rollback) may carry; they are a few hundred bytes. */
export const MAX_BODY_BYTES = 16 * 1024;

function tooLarge(maxBytes: number): CutoverError {
  return new CutoverError(ErrorCode.BodyTooLarge, `the request body is over ${maxBytes} bytes`);
}

/**
 * The body's bytes, at most `maxBytes`. Reading stops at the first chunk past the cap; the stream is
 * left unread rather than cancelled, so the connection stays usable for the 413 (the server closes
 * it after answering).
 */
async function readCapped(request: Request, maxBytes: number): Promise<Uint8Array> {
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > maxBytes) throw tooLarge(maxBytes);
  if (request.body === null) return new Uint8Array();
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > maxBytes) throw tooLarge(maxBytes);
      chunks.push(value);
    }
  } finally {
    reader.releaseLock();
  }
  return Buffer.concat(chunks);
}

/** The body parsed as JSON with `schema`: INVALID_INPUT naming the first problem, BODY_TOO_LARGE over the cap. */
export async function parseJsonBody<T>(request: Request, schema: z.ZodType<T>, maxBytes = MAX_BODY_BYTES): Promise<T> {
  const bytes = await readCapped(request, maxBytes);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw new InputError("the request body is not JSON");
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new InputError(`invalid request body: ${issue?.path.join(".") || "(root)"}: ${issue?.message}`);
  }
  return parsed.data;
}
