/** Starting an HTTP server for a Hono app, with a port already in use reported as one clear error. */
import type { AddressInfo } from "node:net";
import { serve } from "@hono/node-server";
import { ConfigError } from "./errors.js";

export type HttpServer = ReturnType<typeof serve>;

/** Listens on `hostname:port` (0: any free port); resolves with the server and the port it got. */
export function listen(
  fetch: (request: Request) => Response | Promise<Response>,
  port: number,
  hostname: string,
): Promise<{ server: HttpServer; port: number }> {
  return new Promise((resolve, reject) => {
    const server = serve({ fetch, port, hostname }, (info: AddressInfo) => {
      server.off("error", fail);
      resolve({ server, port: info.port });
    });
    const fail = (error: NodeJS.ErrnoException) => {
      server.close();
      reject(
        error.code === "EADDRINUSE"
          ? new ConfigError(`port ${port} on ${hostname} is already in use (set CUTOVER_PORT or --port)`, {
              cause: error,
            })
          : error,
      );
    };
    server.once("error", fail);
  });
}

/** Closes a server; resolves once open connections are done. */
export function closeServer(server: HttpServer): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}
