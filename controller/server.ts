/** `cutover controller`: the controller as a long-running HTTP server. */
import { serve } from "@hono/node-server";
import type { ControllerConfig } from "../core/config.js";
import { type ControllerTuning, createController } from "./controller.js";

export interface RunningController {
  readonly port: number;
  close(): Promise<void>;
}

/** Starts the server; resolves once it listens. */
export async function startControllerServer(
  config: ControllerConfig,
  tuning: ControllerTuning = {},
): Promise<RunningController> {
  const controller = await createController(config, tuning);
  const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const started = serve({ fetch: controller.app.fetch, port: config.port, hostname: "0.0.0.0" }, () =>
      resolve(started),
    );
  });
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : config.port;
  return {
    port,
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await controller.close();
    },
  };
}
