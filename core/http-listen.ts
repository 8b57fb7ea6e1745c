/** Starting an HTTP server for a Hono app, with a port already in use reported as one clear error. */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { getRequestListener } from "@hono/node-server";
import { ConfigError } from "./errors.js";

export type HttpServer = Server;

/** A route served on `node:http` before the app: returns true when it took the request. */
export type FrontRoute = (request: IncomingMessage, response: ServerResponse) => boolean;

/** What a server gives one client: time to send a request, idle time, and connections in all. */
export interface HttpServerLimits {
  /** From a request's first byte (or the connection) until it is read whole; then 408 and close. */
  readonly requestTimeoutMs: number;
  /** Until a request's headers are read; then 408 and close. At most requestTimeoutMs. */
  readonly headersTimeoutMs: number;
  /** An idle keep-alive connection between requests (Node keeps it 1 s longer than it advertises). */
  readonly keepAliveTimeoutMs: number;
  /** Open connections; one beyond them is closed as soon as it is accepted. */
  readonly maxConnections: number;
}

/**
 * How often Node looks for requests past their timeouts: a quarter of the shorter one, at most once a
 * second (Node's default is every 30 s, which let a 30 s timeout run to a minute).
 */
function checkingInterval(limits: HttpServerLimits): number {
  return Math.max(10, Math.min(1_000, Math.floor(Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs) / 4)));
}

/**
 * Listens on `hostname:port` (0: any free port) with the app's fetch handler behind an optional front
 * route, under `limits` when given (Node's defaults otherwise); resolves with the server and the port
 * it got.
 */
export function listen(
  fetch: (request: Request) => Response | Promise<Response>,
  port: number,
  hostname: string,
  front?: FrontRoute,
  limits?: HttpServerLimits,
): Promise<{ server: HttpServer; port: number }> {
  const app = getRequestListener(fetch);
  const handler =
    front === undefined
      ? app
      : (request: IncomingMessage, response: ServerResponse) => {
          if (!front(request, response)) void app(request, response);
        };
  const server =
    limits === undefined
      ? createServer(handler)
      : createServer(
          {
            requestTimeout: limits.requestTimeoutMs,
            headersTimeout: limits.headersTimeoutMs,
            connectionsCheckingInterval: checkingInterval(limits),
          },
          handler,
        );
  if (limits !== undefined) {
    server.keepAliveTimeout = limits.keepAliveTimeoutMs;
    server.maxConnections = limits.maxConnections;
  }
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
