/**
 * The infer endpoint of the Open Inference Protocol, apart from any HTTP framework: lease the
 * session, decode the request against the model card, run, encode — and the error → status mapping.
 * Two transports call it: the Hono app (inference/http/app.ts) and the `node:http` route in front of
 * it (inference/http/infer-route.ts) that serves `/infer` on a running node without building web
 * Request/Response objects per call.
 */
import { InputError } from "../../core/errors.js";
import { isModelName, isVersionName } from "../../core/names.js";
import { decodeInferRequest, encodeTensor, type OipTensor } from "../../core/tensor-codec.js";
import type { NodeMetrics } from "../metrics.js";
import type { Lease } from "../model-slot.js";
import type { NodeAgent } from "../node-agent.js";

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

export interface InferResponse {
  readonly model_name: string;
  readonly model_version: string;
  readonly id?: string;
  readonly outputs: OipTensor[];
}

/** The status and `{"error": …}` body for anything an endpoint threw; unexpected errors are logged. */
export function errorAnswer(error: unknown, log: () => void): { status: OipStatus; body: { error: string } } {
  if (error instanceof OipError) return { status: error.status, body: { error: error.message } };
  if (error instanceof InputError) return { status: 400, body: { error: error.message } };
  log();
  return { status: 500, body: { error: "internal error (see the node's log)" } };
}

export class InferEndpoint {
  constructor(
    private readonly agent: NodeAgent,
    private readonly metrics: NodeMetrics,
  ) {}

  /** The lease for a model (and pinned version): 404 unknown, 503 nothing loaded yet. */
  lease(model: string, version: string | undefined): Lease {
    if (!isModelName(model)) throw new OipError(404, `unknown model ${model}`);
    if (version !== undefined && !isVersionName(version)) throw new OipError(404, `unknown version ${version}`);
    const slot = this.agent.slots.get(model);
    const leased = slot?.acquire(version);
    if (leased !== undefined) return leased;
    if (version !== undefined) throw new OipError(404, `${model} version ${version} is not loaded on this node`);
    if (slot === undefined) throw new OipError(404, `unknown model ${model}`);
    throw new OipError(503, `${model} has no version loaded yet`);
  }

  /**
   * One infer call. `readBody` gives the body's text (or throws OipError 413 / InputError); it is
   * read before the lease is taken, so a slow client holds no session while it sends.
   */
  async infer(model: string, version: string | undefined, readBody: () => Promise<string>): Promise<InferResponse> {
    const started = performance.now();
    let body: unknown;
    let held: Lease;
    try {
      const text = await readBody();
      try {
        body = JSON.parse(text);
      } catch {
        throw new InputError("the request body is not JSON");
      }
      held = this.lease(model, version);
    } catch (error) {
      // No version served it: counted with version "" (a label per name asked for would let any
      // client grow the metric without bound).
      const outcome = error instanceof OipError && error.status !== 413 ? "not_serving" : "client_error";
      if (this.agent.slots.has(model)) this.metrics.inferred(model, "", outcome);
      throw error;
    }
    const { card, session, version: served } = held.loaded;
    let outcome = "client_error";
    try {
      const { request, feeds } = decodeInferRequest(body, card.inputs);
      const wanted = request.outputs?.map((output) => output.name);
      const unknown = wanted?.filter((name) => !card.outputs.some((spec) => spec.name === name)) ?? [];
      if (unknown.length > 0) throw new InputError(`unknown output(s): ${unknown.join(", ")}`);
      outcome = "server_error";
      const results = wanted === undefined ? await session.run(feeds) : await session.run(feeds, wanted);
      outcome = "ok";
      return {
        model_name: model,
        model_version: served,
        ...(request.id !== undefined ? { id: request.id } : {}),
        outputs: Object.entries(results).map(([name, tensor]) => encodeTensor(name, tensor)),
      };
    } finally {
      held.end();
      this.metrics.inferred(model, served, outcome, (performance.now() - started) / 1000);
    }
  }
}
