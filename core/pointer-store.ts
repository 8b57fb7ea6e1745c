/**
 * The durable home of a model's active pointer when Redis is not trusted to keep it
 * (`CUTOVER_STATE=ssm`). Redis keeps the working copy nodes read, the lock, the bus, heartbeats and
 * history; the controller writes the pointer here first, under the Redis rollout lock, and copies it
 * back into Redis whenever Redis has fallen behind (lost its data, or a controller died between
 * the two writes).
 */
import { z } from "zod";

export const pointerSchema = z.object({
  active: z.string().nullable(),
  previous: z.string().nullable(),
  revision: z.number().int().nonnegative(),
  updatedAt: z.string().nullable(),
  updatedBy: z.string().nullable(),
});
export type Pointer = z.infer<typeof pointerSchema>;

export interface PointerStore {
  /** Where it lives, for messages. */
  readonly location: string;
  /** The model's pointer, or undefined when it has never been written. */
  read(model: string): Promise<Pointer | undefined>;
  /** Overwrites the pointer; callers hold the model's rollout lock. */
  write(model: string, pointer: Pointer): Promise<void>;
}
