/** The types a version's worker pool shares with its callers and helpers. */
import type * as ort from "onnxruntime-node";
import type { WorkerSetup } from "./worker-protocol.js";

export type Feeds = Record<string, ort.Tensor>;
export type Results = ort.InferenceSession.ReturnType;

/** What the pool announces for metrics; every callback is optional. */
export interface ExecutionObserver {
  /** One request done: seconds waiting for an instance, seconds in all. */
  request?(queueSeconds: number, totalSeconds: number): void;
  /** One run on an instance: how many requests it carried, the worker's compute seconds. */
  run?(requests: number, computeSeconds: number): void;
  /** One request run on the main thread: its seconds (no queue, one request a run). */
  inline?(seconds: number): void;
  /** A worker died and was replaced. */
  restart?(): void;
  /** The version runs in `mode` on `instances` (after its warm-up). */
  placed?(mode: "inline" | "workers", instances: number): void;
  /** The version's sessions were released. */
  released?(): void;
}

export interface WorkerPoolOptions {
  /** "model/version", for logs and errors. */
  readonly label: string;
  readonly setup: WorkerSetup;
  readonly instances: number;
  readonly batchable: boolean;
  readonly maxBatch: number;
  readonly batchDelayUs: number;
  readonly observer?: ExecutionObserver;
  readonly log?: (line: string) => void;
}

/** A worker died under this request; answered as a 500 (never an InputError). */
export class WorkerLostError extends Error {
  override readonly name = "WorkerLostError";
}

/** A request waiting for, or running on, an instance. */
export interface Pending {
  readonly feeds: Feeds;
  readonly outputs: string[] | undefined;
  readonly batch: { key: string; rows: number } | null;
  readonly queuedAt: number;
  readonly resolve: (results: Results) => void;
  readonly reject: (error: Error) => void;
}
