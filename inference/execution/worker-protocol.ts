/**
 * Messages between a version's worker pool (main thread) and one session worker, each parsed on
 * arrival. The worker gets its model path and session options as workerData, opens its own
 * onnxruntime session, and then runs one request (or one batch) at a time.
 */
import { z } from "zod";
import { tensorSpecSchema } from "../../core/model-card.js";
import { type WireTensor, wireTensorsSchema } from "./wire-tensor.js";

const providerChain = z.array(z.string().min(1)).min(1);

export const workerSetupSchema = z.object({
  modelPath: z.string().min(1),
  /** The providers the session is created with; the first is the one it runs on. */
  executionProviders: providerChain,
  /**
   * Chains tried in order when the first cannot load the model (the node's provider fallback, done
   * where the session opens: never on the main thread); the opened message says which took it.
   */
  fallbacks: z.array(providerChain).optional(),
  intraOpThreads: z.number().int().positive().optional(),
  /** Added to the worker thread's nice value before it opens its session (thread-priority.ts). */
  nice: z.number().int().min(0).max(19).optional(),
});
export type WorkerSetup = z.infer<typeof workerSetupSchema>;

export type ToWorker =
  | {
      readonly kind: "run";
      readonly id: number;
      readonly feeds: Record<string, WireTensor>;
      readonly outputs?: string[];
    }
  | { readonly kind: "release" }
  /** Ends the worker as a crash would: a run in progress is never answered (tests, operators). */
  | { readonly kind: "exit"; readonly code: number };

export const toWorkerSchema = z.discriminatedUnion("kind", [
  z.object({
    kind: z.literal("run"),
    id: z.number().int(),
    feeds: wireTensorsSchema,
    outputs: z.array(z.string()).optional(),
  }),
  z.object({ kind: z.literal("release") }),
  z.object({ kind: z.literal("exit"), code: z.number().int() }),
]);

export const fromWorkerSchema = z.discriminatedUnion("kind", [
  z.object({
    kind: z.literal("opened"),
    /** The worker's kernel thread id and nice value after lowering it, or why it was left alone. */
    priority: z.union([
      z.object({ threadId: z.number().int(), nice: z.number().int() }),
      z.object({ unchanged: z.string() }),
    ]),
    /** The provider chain that took the model, and why each one tried before it did not. */
    executionProviders: providerChain,
    skipped: z.array(z.string()),
    /** The model's inputs and outputs as its session reads them (checked against its cutover.json). */
    signature: z.object({ inputs: z.array(tensorSpecSchema), outputs: z.array(tensorSpecSchema) }),
  }),
  z.object({ kind: z.literal("open-failed"), message: z.string() }),
  z.object({ kind: z.literal("ran"), id: z.number().int(), outputs: wireTensorsSchema, computeMs: z.number() }),
  z.object({ kind: z.literal("run-failed"), id: z.number().int(), message: z.string() }),
]);
export type FromWorker = z.infer<typeof fromWorkerSchema>;
