import { readFileSync } from "node:fs";
import { createServer } from "node:net";

/**
 * The first port of the kernel's ephemeral range (Linux: ip_local_port_range; 32768 elsewhere). Ports
 * handed out for tests come from below it: a port from the range itself (what `listen(0)` gives) may be
 * taken as the local port of an outgoing connection between the moment it is chosen and the moment a
 * child process binds it, and then that process fails with EADDRINUSE (seen with load generators running).
 */
function ephemeralStart(): number {
  try {
    const first = Number(readFileSync("/proc/sys/net/ipv4/ip_local_port_range", "utf8").trim().split(/\s+/)[0]);
    return Number.isInteger(first) && first > 12_000 ? first : 32_768;
  } catch {
    return 32_768;
  }
}

const PORTS_FROM = 10_000;
const PORTS_BELOW = ephemeralStart();

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once("error", () => resolve(false));
    // All addresses: the processes under test listen on 0.0.0.0 or 127.0.0.1.
    server.listen(port, () => server.close(() => resolve(true)));
  });
}

/** A TCP port, below the ephemeral range, that was free a moment ago on every address. */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = PORTS_FROM + Math.floor(Math.random() * (PORTS_BELOW - PORTS_FROM));
    if (await bindable(port)) return port;
  }
  throw new Error(`no free port found between ${PORTS_FROM} and ${PORTS_BELOW}`);
}

/** `count` consecutive ports, all free a moment ago (held open together while they are chosen). */
export async function consecutiveFreePorts(count: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = PORTS_FROM + Math.floor(Math.random() * (PORTS_BELOW - PORTS_FROM - count));
    const held: ReturnType<typeof createServer>[] = [];
    const ok = await (async () => {
      for (let port = base; port < base + count; port++) {
        const server = createServer();
        const bound = await new Promise<boolean>((resolve) => {
          server.once("error", () => resolve(false));
          server.listen(port, "127.0.0.1", () => resolve(true));
        });
        if (!bound) return false;
        held.push(server);
      }
      return true;
    })();
    await Promise.all(held.map((server) => new Promise((resolve) => server.close(resolve))));
    if (ok) return base;
  }
  throw new Error(`no ${count} consecutive free ports found`);
}

/** Resolves when something accepts TCP connections on the port, or rejects after `timeoutMs`. */
export async function waitForPort(port: number, timeoutMs = 15_000): Promise<void> {
  const { connect } = await import("node:net");
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = connect(port, "127.0.0.1");
      socket.once("connect", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on port ${port} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
