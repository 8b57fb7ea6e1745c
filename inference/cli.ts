/** `cutover node`: runs an inference node until SIGINT/SIGTERM, then drains and leaves the fleet. */
import { hostname } from "node:os";
import type { Command } from "commander";
import { parseNodeConfig } from "../core/config.js";
import { redactUrl } from "../core/redact.js";
import { startNode } from "./server.js";

export function registerNodeCommand(
  program: Command,
  env: Readonly<Record<string, string | undefined>>,
  serverVersion: string,
): void {
  program
    .command("node")
    .description("run an inference node: Open Inference Protocol v2 over HTTP, following the fleet state in Redis")
    .action(async () => {
      const config = parseNodeConfig(env, hostname());
      const log = (line: string) => process.stderr.write(`${new Date().toISOString()} ${line}\n`);
      const running = await startNode(config, { serverVersion, log });
      log(
        `cutover node ${config.nodeId} listening on :${running.port} (models ${config.models.join(",") || "all"}, ` +
          `providers ${config.executionProviders.join(",")}, Redis ${redactUrl(config.redisUrl)})`,
      );
      await new Promise<void>((resolve) => {
        const stop = () => {
          log("draining and leaving the fleet");
          void running.close().then(resolve);
        };
        process.once("SIGINT", stop);
        process.once("SIGTERM", stop);
      });
    });
}
