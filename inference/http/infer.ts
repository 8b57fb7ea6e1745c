/**
 * The infer endpoint of the Open Inference Protocol, apart from any HTTP framework: lease the
 * session, decode the request against the model card, run, encode — and the error → status mapping.
 * Two transports call it: the Hono app (inference/http/app.ts) and the `node:http` route in front of
 * it (inference/http/infer-route.ts) that serves `/infer` on a running node without building web
 * Request/Response objects per call.
 *
 * While a progressive rollout's split is in force (split-router.ts), an unpinned request is routed by
 * it (its `x-cutover-key`, or the split's sequence), counted in the step's traffic, and a share of the
 * baseline's answers is mirrored to the candidate after the answer went out (shadow-runner.ts). With
 * no split, that is one null check per request. Every request a version answered, split or not, is
 * counted in its slot's served traffic (served-traffic.ts) for the heartbeat record, and a sample of
 * what the active version answered is kept for replay on a staged candidate (replay-buffer.ts).
 */

import type * as ort from "onnxruntime-node";
import {
  BINARY_DATA_SIZE,
  binaryOutputs,
  INFERENCE_HEADER_LENGTH,
  splitInferBody,
  tensorBytes,
} from "../../core/binary-tensors.js";
import { InputError } from "../../core/errors.js";
import { isModelName, isVersionName } from "../../core/names.js";
import type { AnswerClass } from "../../core/progressive.js";
import {
  decodeInferRequest,
  encodeTensor,
  type OipTensor,
  oipType,
  requestedOutputs,
} from "../../core/tensor-codec.js";
import type { NodeMetrics } from "../metrics.js";
import type { Lease, ModelSlot } from "../model-slot.js";
import type { NodeAgent } from "../node-agent.js";
import { type ShadowReservation, ShadowRunner } from "../shadow-runner.js";
import type { AppliedSplit } from "../split-router.js";

export type OipStatus = 400 | 404 | 413 | 500 | 503;

/** An answer with a status other than 400 (InputError's): unknown model, body too large, not loaded. */
export class OipError extends Error {
  constructor(
    readonly status: OipStatus,
    message: string,
  ) {
    super(message);
  }
}

/** An output answered in binary: its bytes follow the JSON header (binary tensor data extension). */
export interface BinaryOipTensor {
  readonly name: string;
  readonly shape: number[];
  readonly datatype: OipTensor["datatype"];
  readonly parameters: { readonly [BINARY_DATA_SIZE]: number };
}

export interface InferResponse {
  readonly model_name: string;
  readonly model_version: string;
  readonly id?: string;
  readonly outputs: (OipTensor | BinaryOipTensor)[];
}

/** The response's JSON, and the bytes of its binary outputs in the order they are listed (none: plain JSON). */
export interface InferAnswer {
  readonly response: InferResponse;
  readonly binary: readonly Uint8Array[];
}

/** An infer request body as read: its bytes and the `Inference-Header-Content-Length` header, if sent. */
export interface InferRequestBody {
  readonly bytes: Uint8Array;
  readonly headerLength: string | undefined;
}

/**
 * The HTTP body of an answer: JSON alone, or (when an output is binary) the JSON header then each
 * binary output's bytes, with `Inference-Header-Content-Length` and `application/octet-stream` as
 * Triton sends them.
 */
export function answerBody(answer: InferAnswer): {
  readonly headers: Record<string, string>;
  readonly chunks: readonly Uint8Array[];
  readonly length: number;
} {
  const header = Buffer.from(JSON.stringify(answer.response));
  if (answer.binary.length === 0)
    return { headers: { "content-type": "application/json" }, chunks: [header], length: header.byteLength };
  let length = header.byteLength;
  for (const chunk of answer.binary) length += chunk.byteLength;
  return {
    headers: { "content-type": "application/octet-stream", [INFERENCE_HEADER_LENGTH]: String(header.byteLength) },
    chunks: [header, ...answer.binary],
    length,
  };
}

/** Output tensors as the response lists them: binary where asked (their bytes in `binary`), else JSON. */
function encodeOutputs(
  results: Record<string, ort.Tensor>,
  isBinary: (name: string) => boolean,
): { outputs: InferResponse["outputs"]; binary: Uint8Array[] } {
  const outputs: InferResponse["outputs"] = [];
  const binary: Uint8Array[] = [];
  for (const [name, tensor] of Object.entries(results)) {
    if (!isBinary(name)) {
      outputs.push(encodeTensor(name, tensor));
      continue;
    }
    const bytes = tensorBytes(tensor);
    const datatype = oipType(tensor.type);
    outputs.push({
      name,
      shape: tensor.dims.map(Number),
      datatype,
      parameters: { [BINARY_DATA_SIZE]: bytes.byteLength },
    });
    binary.push(bytes);
  }
  return { outputs, binary };
}

/**
 * Anything thrown once a version was chosen to answer (the request did not fit it, or its run
 * failed): the error body names the version, so a client can tell which one refused it.
 */
export class ChosenVersionError extends Error {
  override readonly name = "ChosenVersionError";
  constructor(
    readonly error: unknown,
    readonly model: string,
    readonly version: string,
  ) {
    super(error instanceof Error ? error.message : String(error), { cause: error });
  }
}

/** An error answer's body: the message, and the model and version where one was chosen. */
export interface ErrorBody {
  readonly error: string;
  readonly model_name?: string;
  readonly model_version?: string;
}

/** The HTTP status of anything an endpoint threw: an OipError's, 400 for bad input, else 500. */
export function statusOf(error: unknown): OipStatus {
  const inner = error instanceof ChosenVersionError ? error.error : error;
  if (inner instanceof OipError) return inner.status;
  if (inner instanceof InputError) return 400;
  return 500;
}

/**
 * The status and `{"error": …}` body for anything an endpoint threw (with `model_name` and
 * `model_version` once a version was chosen); unexpected errors are given to `log`.
 */
export function errorAnswer(error: unknown, log: (error: unknown) => void): { status: OipStatus; body: ErrorBody } {
  const chosen = error instanceof ChosenVersionError ? { model_name: error.model, model_version: error.version } : {};
  const inner = error instanceof ChosenVersionError ? error.error : error;
  if (inner instanceof OipError || inner instanceof InputError)
    return { status: statusOf(inner), body: { error: inner.message, ...chosen } };
  log(inner);
  return { status: 500, body: { error: "internal error (see the node's log)", ...chosen } };
}

export class InferEndpoint {
  private readonly shadows: ShadowRunner;

  constructor(
    private readonly agent: NodeAgent,
    private readonly metrics: NodeMetrics,
  ) {
    this.shadows = new ShadowRunner(metrics);
  }

  /** The lease for a model (and pinned version): 404 unknown, 503 nothing loaded yet. */
  lease(model: string, version: string | undefined): Lease {
    return this.leaseIn(this.agent.slots.get(model), model, version);
  }

  /** {@link lease} from the model's slot, already looked up. */
  private leaseIn(slot: ModelSlot | undefined, model: string, version: string | undefined): Lease {
    if (!isModelName(model)) throw new OipError(404, `unknown model ${model}`);
    if (version !== undefined && !isVersionName(version)) throw new OipError(404, `unknown version ${version}`);
    const leased = slot?.acquire(version);
    if (leased !== undefined) return leased;
    if (version !== undefined) throw new OipError(404, `${model} version ${version} is not loaded on this node`);
    if (slot === undefined) throw new OipError(404, `unknown model ${model}`);
    throw new OipError(503, `${model} has no version loaded yet`);
  }

  /**
   * One infer call. `readBody` gives the body (or throws OipError 413 / InputError); it is read
   * before the lease is taken, so a slow client holds no session while it sends. `key` is the
   * request's split key (SPLIT_KEY_HEADER), if it sent one.
   */
  async infer(
    model: string,
    version: string | undefined,
    readBody: () => Promise<InferRequestBody>,
    key?: string,
  ): Promise<InferAnswer> {
    const started = performance.now();
    let body: ReturnType<typeof splitInferBody>;
    let raw: InferRequestBody;
    let held: Lease;
    // The split in force when the request is leased routes and counts it (a newer seq counts from zero).
    let split: AppliedSplit | null = null;
    let slot: ModelSlot | undefined;
    try {
      raw = await readBody();
      body = splitInferBody(raw.bytes, raw.headerLength);
      slot = this.agent.slots.get(model);
      // A pinned request is never split: it names the version that answers it.
      split = version === undefined ? (slot?.split ?? null) : null;
      held =
        split?.routesToCandidate(key) && slot !== undefined
          ? slot.lease(split.candidate)
          : this.leaseIn(slot, model, version);
    } catch (error) {
      // No version served it: counted with version "" (a label per name asked for would let any
      // client grow the metric without bound).
      const status = statusOf(error);
      const outcome = error instanceof OipError && status !== 413 ? "not_serving" : "client_error";
      if (this.agent.slots.has(model)) this.metrics.inferred(model, "", outcome, status);
      throw error;
    }
    const { card, session, version: served } = held.loaded;
    let outcome: AnswerClass = "ok";
    let status: OipStatus | 200 = 200;
    let shadow: ShadowReservation | null = null;
    try {
      const { request, feeds } = decodeInferRequest(body.json, card.inputs, body.binary);
      const isBinary = binaryOutputs(request);
      const wanted = requestedOutputs(request, card.outputs);
      if (slot !== undefined && split !== null && held.loaded !== split.candidate && split.mirrors()) {
        shadow = this.shadows.reserve(slot, split, {
          feeds,
          outputs: wanted,
          copyInputs: session.mode === "workers",
        });
      }
      const results = wanted === undefined ? await session.run(feeds) : await session.run(feeds, wanted);
      const { outputs, binary } = encodeOutputs(results, isBinary);
      // Starts with setImmediate: the node:http route writes the answer in a microtask, before it.
      shadow?.start(results);
      shadow = null;
      // What the active version served is what a staged candidate will be replayed on.
      if (slot !== undefined && held.loaded === slot.active)
        slot.replay.record({ bytes: raw.bytes, headerLength: raw.headerLength, version: served, outputs: results });
      return {
        response: {
          model_name: model,
          model_version: served,
          ...(request.id !== undefined ? { id: request.id } : {}),
          outputs,
        },
        binary,
      };
    } catch (error) {
      status = statusOf(error);
      outcome = status >= 500 ? "server_error" : "client_error";
      throw new ChosenVersionError(error, model, served);
    } finally {
      held.end();
      shadow?.cancel();
      const seconds = (performance.now() - started) / 1000;
      this.metrics.inferred(model, served, outcome, status, seconds);
      slot?.served.answered(served, outcome, seconds * 1000);
      split?.traffic.answered(served, outcome, seconds * 1000);
    }
  }
}
