/**
 * One process of light node agents for the scale bench (forked by agent-pool.ts): each agent a
 * ScriptedNode — a real participant of the protocol with its own two Redis connections, heartbeating
 * its record, hearing its model's commands, answering prepare with staged and promote with promoted,
 * heartbeating again at each change as the node agent does — but loading no model.
 */

import { ScriptedNode } from "../support/scripted-node.js";
import { type PoolReply, poolRequestSchema } from "./agent-protocol.js";

const agents: ScriptedNode[] = [];

function reply(message: PoolReply): void {
  process.send?.(message);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

process.on("message", (raw: unknown) => {
  const request = poolRequestSchema.safeParse(raw);
  if (!request.success) {
    reply({ type: "failed", reason: `not a pool request: ${request.error.issues[0]?.message}` });
    return;
  }
  const message = request.data;
  if (message.type === "add") {
    const { settings, model, nodeIds, spreadMs } = message;
    const gap = nodeIds.length > 0 ? spreadMs / nodeIds.length : 0;
    const started = nodeIds.map(async (nodeId, i) => {
      await sleep(i * gap);
      const agent = new ScriptedNode({
        redisUrl: settings.redisUrl,
        prefix: settings.prefix,
        nodeId,
        model,
        onPrepare: "stage",
        heartbeatTtlMs: settings.heartbeatTtlMs,
        heartbeatMs: settings.heartbeatMs,
        resyncMs: settings.resyncMs,
        beatOnChange: true,
      });
      agents.push(agent);
      await agent.start();
    });
    Promise.all(started).then(
      () => reply({ type: "added", agents: agents.length }),
      (error: unknown) => reply({ type: "failed", reason: String(error) }),
    );
  } else {
    Promise.all(agents.map((agent) => agent.close())).finally(() => {
      reply({ type: "stopped" });
      process.disconnect?.();
    });
  }
});
