/**
 * A TCP proxy in front of a test server that can cut connections mid-response, to test what a
 * client does when a download breaks, or cut a client off entirely (a partition). It records every HTTP request head it forwards, so tests can
 * see the Range headers of the retries.
 */
import { connect, createServer, type Server, type Socket } from "node:net";

export interface CuttingProxy {
  readonly port: number;
  readonly endpoint: string;
  /** Request heads seen, in order. */
  readonly requests: string[];
  /** Drops every connection and refuses new ones until `unblock` (a network partition). */
  block(): void;
  unblock(): void;
  /** The next `count` requests whose head matches `pattern` are cut after `bytes` bytes of response. */
  cutNext(count: number, bytes: number, pattern: RegExp): void;
  /** Requests whose head matches `pattern` wait (are not sent on) until `release` (a slow store). */
  hold(pattern: RegExp): void;
  release(): void;
  close(): Promise<void>;
}

export async function startCuttingProxy(targetPort: number): Promise<CuttingProxy> {
  const requests: string[] = [];
  const sockets = new Set<Socket>();
  let cutsLeft = 0;
  let cutAfter = 0;
  let cutPattern = /$^/;
  let blocked = false;
  let holdPattern: RegExp | undefined;
  const held: (() => void)[] = [];

  const server: Server = createServer((client) => {
    if (blocked) {
      client.destroy();
      return;
    }
    sockets.add(client);
    const upstream = connect(targetPort, "127.0.0.1");
    sockets.add(upstream);
    let cutBudget: number | undefined;
    client.on("data", (chunk: Buffer) => {
      const text = chunk.toString("latin1");
      // HTTP/1.1 without pipelining: a chunk that opens with a request line starts a new exchange.
      if (/^[A-Z]+ \S+ HTTP\/1\.1\r\n/.test(text)) {
        const head = text.split("\r\n\r\n")[0] ?? "";
        requests.push(head);
        if (cutsLeft > 0 && cutPattern.test(head)) {
          cutsLeft--;
          cutBudget = cutAfter;
        }
        if (holdPattern?.test(head)) {
          held.push(() => upstream.write(chunk));
          return;
        }
      }
      upstream.write(chunk);
    });
    upstream.on("data", (chunk: Buffer) => {
      if (cutBudget === undefined) {
        client.write(chunk);
        return;
      }
      if (chunk.length < cutBudget) {
        cutBudget -= chunk.length;
        client.write(chunk);
        return;
      }
      client.write(chunk.subarray(0, cutBudget));
      client.destroy();
      upstream.destroy();
    });
    const closeBoth = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on("error", closeBoth);
    upstream.on("error", closeBoth);
    client.on("close", closeBoth);
    upstream.on("close", closeBoth);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  if (typeof address !== "object" || address === null) throw new Error("proxy has no port");
  return {
    port: address.port,
    endpoint: `http://127.0.0.1:${address.port}`,
    requests,
    block() {
      blocked = true;
      for (const socket of sockets) socket.destroy();
    },
    unblock() {
      blocked = false;
    },
    hold(pattern) {
      holdPattern = pattern;
    },
    release() {
      holdPattern = undefined;
      for (const send of held.splice(0)) send();
    },
    cutNext(count, bytes, pattern) {
      cutsLeft = count;
      cutAfter = bytes;
      cutPattern = pattern;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
