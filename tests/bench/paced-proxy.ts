/**
 * A TCP proxy that paces every connection's responses to a fixed rate (a leaky bucket, no bursts), for
 * the bench: a stand-in for an object store whose connections each carry a limited rate (S3: commonly
 * ~100–200 MB/s per connection), which loopback to s3rver does not have.
 */
import { connect, createServer, type Socket } from "node:net";

export interface PacedProxy {
  readonly endpoint: string;
  close(): Promise<void>;
}

export async function startPacedProxy(targetPort: number, bytesPerSecond: number): Promise<PacedProxy> {
  const bytesPerMs = bytesPerSecond / 1000;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(targetPort, "127.0.0.1");
    sockets.add(client);
    sockets.add(upstream);
    let linkFreeAt = 0;
    // Paused while the pace says so or the client has not drained what it was sent, whichever is longer.
    let holds = 0;
    const hold = () => {
      holds++;
      upstream.pause();
    };
    const free = () => {
      if (--holds === 0) upstream.resume();
    };
    client.pipe(upstream);
    upstream.on("data", (chunk: Buffer) => {
      if (!client.write(chunk)) {
        hold();
        client.once("drain", free);
      }
      const now = performance.now();
      linkFreeAt = Math.max(linkFreeAt, now) + chunk.length / bytesPerMs;
      const wait = linkFreeAt - now;
      if (wait > 1) {
        hold();
        setTimeout(free, wait);
      }
    });
    const close = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    for (const socket of [client, upstream]) {
      socket.on("error", close);
      socket.on("close", close);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (typeof address !== "object" || address === null) throw new Error("paced proxy has no port");
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
