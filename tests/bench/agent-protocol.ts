/**
 * The messages between the scale bench and its agent processes (Node IPC), parsed with a schema on
 * both sides: the bench asks a process to start more light node agents or to stop them all.
 */
import { z } from "zod";

export const agentSettingsSchema = z.object({
  redisUrl: z.string(),
  prefix: z.string(),
  heartbeatTtlMs: z.number().int().positive(),
  heartbeatMs: z.number().int().positive(),
  resyncMs: z.number().int().positive(),
});
export type AgentSettings = z.infer<typeof agentSettingsSchema>;

export const poolRequestSchema = z.discriminatedUnion("type", [
  z.object({
    type: z.literal("add"),
    settings: agentSettingsSchema,
    model: z.string(),
    nodeIds: z.array(z.string()),
    /** Starts are spread over this long, so the agents' heartbeats do not all fall at once. */
    spreadMs: z.number().int().nonnegative(),
  }),
  z.object({ type: z.literal("stop") }),
]);
export type PoolRequest = z.infer<typeof poolRequestSchema>;

export const poolReplySchema = z.discriminatedUnion("type", [
  z.object({ type: z.literal("added"), agents: z.number().int() }),
  z.object({ type: z.literal("stopped") }),
  z.object({ type: z.literal("failed"), reason: z.string() }),
]);
export type PoolReply = z.infer<typeof poolReplySchema>;
