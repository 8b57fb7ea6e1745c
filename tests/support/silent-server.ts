/**
 * A server that accepts TCP connections and never answers: an overloaded Redis, a half-open link,
 * an SSM endpoint behind a black hole. It reads and discards what clients send, so their writes
 * succeed, and counts the connections it accepted.
 */
import { createServer, type Socket } from "node:net";

export interface SilentServer {
  readonly port: number;
  /** `redis://127.0.0.1:<port>`. */
  readonly redisUrl: string;
  /** `http://127.0.0.1:<port>`. */
  readonly httpUrl: string;
  /** Connections accepted so far. */
  accepted(): number;
  /** Drops every connection and stops listening. */
  stop(): Promise<void>;
}

export async function startSilentServer(): Promise<SilentServer> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server = createServer((socket) => {
    accepted++;
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => undefined);
    socket.resume();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (typeof address !== "object" || address === null) throw new Error("the silent server has no port");
  const { port } = address;
  return {
    port,
    redisUrl: `redis://127.0.0.1:${port}`,
    httpUrl: `http://127.0.0.1:${port}`,
    accepted: () => accepted,
    async stop() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
