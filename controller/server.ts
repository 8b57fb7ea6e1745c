/** `cutover controller`: the controller as a long-running HTTP server. */

import type { ControllerConfig } from "../core/config.js";
import { closeServer, listen } from "../core/http-listen.js";
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
  const controller = await createController(config, { dashboard: true, ...tuning });
  const { server, port } = await listen(controller.app.fetch, config.port, "0.0.0.0").catch(async (error: unknown) => {
    await controller.close();
    throw error;
  });
  controller.startReconciling(config.reconcileMs, (line) => console.error(`cutover controller: ${line}`));
  return {
    port,
    async close() {
      controller.endStreams();
      await closeServer(server);
      await controller.close();
    },
  };
}
