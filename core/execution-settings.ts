/**
 * How a version runs on a node: worker instances and dynamic batching (Triton's instance_group count
 * and dynamic_batching). Two sources set them: the node's environment (CUTOVER_INSTANCES,
 * CUTOVER_MAX_BATCH, CUTOVER_BATCH_DELAY_US) and a version's model card (`execution`, written by
 * `push --instances/--max-batch/--batch-delay-us`). Both take the same bounds, from here, so a value
 * one source accepts the other accepts too.
 */
import { z } from "zod";

/**
 * Upper bounds: each instance is a thread holding its own copy of the model, a batch is that many
 * rows stacked in one tensor, and a delay beyond 1 s is a queue, not a batch window.
 */
export const EXECUTION_LIMITS = { instances: 256, maxBatch: 1024, batchDelayUs: 1_000_000 } as const;

export const instancesSchema = z.union([z.literal("auto"), z.number().int().min(0).max(EXECUTION_LIMITS.instances)], {
  error: `expected "auto" or a count from 0 to ${EXECUTION_LIMITS.instances}`,
});

const executionFields = {
  /** Worker threads per version; 0: the node's main thread; "auto": decided at warm-up. */
  instances: instancesSchema.optional(),
  /** Largest dynamic batch, in rows; 0 or 1: off. Only a batchable model batches. */
  maxBatch: z.number().int().min(0).max(EXECUTION_LIMITS.maxBatch).optional(),
  /** How long a queued batch that is not full waits for more requests, in µs. */
  batchDelayUs: z.number().int().min(0).max(EXECUTION_LIMITS.batchDelayUs).optional(),
};

/**
 * The card's `execution`; each field left out takes the node's setting. Strict: a misspelt key
 * (`instance`, `max_batch`) would otherwise be dropped without a word and the node's setting used.
 */
export const executionSettingsSchema = z.strictObject(executionFields, {
  error: (issue) =>
    issue.code === "unrecognized_keys"
      ? `unknown key(s) ${issue.keys.join(", ")}: execution takes ${Object.keys(executionFields).join(", ")}`
      : undefined,
});
export type ExecutionSettings = z.infer<typeof executionSettingsSchema>;
