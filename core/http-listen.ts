/** Starting an HTTP server for a Hono app, with a port already in use reported as one clear error. */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { getRequestListener } from "@hono/node-server";
import { ConfigError } from "./errors.js";

export type HttpServer = Server;

/** A route served on `node:http` before the app: returns true when it took the request. */
export type FrontRoute = (request: IncomingMessage, response: ServerResponse) => boolean;

/**
 * Listens on `hostname:port` (0: any free port) with the app's fetch handler behind an optional front
 * route; resolves with the server and the port it got.
 */
export function listen(
  fetch: (request: Request) => Response | Promise<Response>,
  port: number,
  hostname: string,
  front?: FrontRoute,
): Promise<{ server: HttpServer; port: number }> {
  const app = getRequestListener(fetch);
  const server = createServer(
    front === undefined
      ? app
      : (request, response) => {
          if (!front(request, response)) void app(request, response);
        },
  );
  return new Promise((resolve, reject) => {
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
    server.listen(port, hostname, () => {
      server.off("error", fail);
      resolve({ server, port: (server.address() as AddressInfo).port });
    });
  });
}

/** Closes a server; resolves once open connections are done. */
export function closeServer(server: HttpServer): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}
