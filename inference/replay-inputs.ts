/**
 * The kept requests (replay-buffer.ts) as a staged candidate takes them, decoded exactly as the infer
 * endpoint decodes a request: inputs against its card, requested outputs against its outputs. A kept
 * request the active version itself would no longer take is stale — kept before a forced,
 * incompatible swap — and is not replayed; one the active version takes and the candidate refuses is a
 * refusal (its caller would get a 400 from the candidate). The outputs the active version answered a
 * request with go with it, to be compared with the candidate's, when it is the version still active
 * (one kept before a swap was answered by another version).
 */
import type * as ort from "onnxruntime-node";
import { splitInferBody } from "../core/binary-tensors.js";
import { errorMessage } from "../core/errors.js";
import type { ModelCard } from "../core/model-card.js";
import { decodeInferRequest, requestedOutputs } from "../core/tensor-codec.js";
import type { ReplaySample } from "./replay-buffer.js";

type Signature = Pick<ModelCard, "inputs" | "outputs">;

/** A kept request to run on the candidate: its inputs, and what the active version answered, if known. */
export interface ReplayCase {
  readonly feeds: Record<string, ort.Tensor>;
  readonly expected?: Readonly<Record<string, ort.Tensor>>;
}

export interface ReplayInputs {
  /** Each request both versions take, to run on the candidate. */
  readonly cases: ReplayCase[];
  /** Why the candidate refuses each request the active version takes. */
  readonly refusals: string[];
}

/** Decodes `body` for `card`, as the endpoint would: its feeds, or an error. */
function decodeFor(sample: ReplaySample, card: Signature): Record<string, ort.Tensor> {
  const body = splitInferBody(sample.bytes, sample.headerLength);
  const { request, feeds } = decodeInferRequest(body.json, card.inputs, body.binary);
  requestedOutputs(request, card.outputs);
  return feeds;
}

export function replayInputs(
  samples: readonly ReplaySample[],
  active: { readonly version: string; readonly card: Signature },
  candidate: Signature,
): ReplayInputs {
  const cases: ReplayCase[] = [];
  const refusals: string[] = [];
  for (const sample of samples) {
    try {
      decodeFor(sample, active.card);
    } catch {
      continue;
    }
    try {
      const feeds = decodeFor(sample, candidate);
      const { outputs } = sample;
      cases.push(outputs !== undefined && sample.version === active.version ? { feeds, expected: outputs } : { feeds });
    } catch (error) {
      refusals.push(errorMessage(error));
    }
  }
  return { cases, refusals };
}
