/**
 * The node's HTTP server against clients that hold connections: real sockets to a real node, with
 * the timeouts shortened (CUTOVER_NODE_*_TIMEOUT_MS, CUTOVER_NODE_MAX_CONNECTIONS).
 */
import { connect, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { HttpServerLimits } from "../../core/http-listen.js";
import { type ControllerHarness, MODEL, startControllerHarness, TOKEN } from "../support/controller-harness.js";
import { FEATURES, startTestNode, type TestNode } from "../support/node-harness.js";

let harness: ControllerHarness;
const nodes: TestNode[] = [];

beforeAll(async () => {
  harness = await startControllerHarness();
});
afterAll(async () => {
  await Promise.all(nodes.map((node) => node.close().catch(() => undefined)));
  await harness.stop();
});

/** A node serving v1 of the demo model under `http` limits. */
async function servingNode(prefix: string, http: HttpServerLimits): Promise<TestNode> {
  const controller = await harness.controller(prefix);
  const node = await startTestNode(harness, prefix, `${prefix}n1`, { http });
  nodes.push(node);
  const response = await controller.app.request(`/v1/models/${MODEL}/activate`, {
    method: "POST",
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify({ version: "v1", timeoutMs: 20_000 }),
  });
  expect(response.status).toBe(200);
  return node;
}

const INFER_BODY = JSON.stringify({ inputs: [{ name: "features", shape: [1, 4], datatype: "FP32", data: FEATURES }] });
const inferRequest = (body = INFER_BODY) =>
  `POST /v2/models/${MODEL}/infer HTTP/1.1\r\nHost: node\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;

/**
 * One raw connection (no client pool between the test and the node, so the test decides exactly
 * which connections are open): what the node sent, when it closed, and one request at a time.
 */
class RawConnection {
  received = "";
  closedAt: number | undefined;
  readonly openedAt = Date.now();
  readonly closed: Promise<void>;
  private readonly socket: Socket;
  private waiting: (() => void) | undefined;

  constructor(port: number) {
    this.socket = connect(port, "127.0.0.1");
    this.socket.setEncoding("utf8");
    this.socket.on("data", (chunk: string) => {
      this.received += chunk;
      this.waiting?.();
    });
    this.socket.on("error", () => undefined);
    this.closed = new Promise((resolve) =>
      this.socket.once("close", () => {
        this.closedAt = Date.now();
        this.waiting?.();
        resolve();
      }),
    );
  }

  write(text: string): void {
    if (!this.socket.destroyed) this.socket.write(text);
  }

  /** Sends an infer request and reads its response (status and JSON body); undefined if the connection closed. */
  async infer(): Promise<{ status: number; body: Record<string, unknown> } | undefined> {
    const from = this.received.length;
    this.write(inferRequest());
    for (;;) {
      const text = this.received.slice(from);
      const end = text.indexOf("\r\n\r\n");
      const length = /content-length: (\d+)/i.exec(text)?.[1];
      if (end >= 0 && length !== undefined && text.length >= end + 4 + Number(length)) {
        this.received = this.received.slice(0, from + end + 4 + Number(length));
        return {
          status: Number(text.slice(9, 12)),
          body: JSON.parse(text.slice(end + 4, end + 4 + Number(length))) as Record<string, unknown>,
        };
      }
      if (this.closedAt !== undefined) return undefined;
      await new Promise<void>((resolve) => {
        this.waiting = resolve;
      });
    }
  }

  close(): Promise<void> {
    this.socket.destroy();
    return this.closed;
  }
}

describe("a node's HTTP server cuts off clients that hold a connection without finishing a request", () => {
  const limits: HttpServerLimits = {
    requestTimeoutMs: 1_500,
    headersTimeoutMs: 600,
    keepAliveTimeoutMs: 5_000,
    maxConnections: 64,
  };
  let node: TestNode;
  beforeAll(async () => {
    node = await servingNode("limits:", limits);
  });

  it("a body trickled a byte at a time is cut off with 408 after the request timeout; others are served meanwhile", async () => {
    const slow = new RawConnection(node.node.port);
    slow.write(
      `POST /v2/models/${MODEL}/infer HTTP/1.1\r\nHost: node\r\nContent-Type: application/json\r\nContent-Length: 10000\r\n\r\n{`,
    );
    const trickle = setInterval(() => slow.write(" "), 100);
    const other = new RawConnection(node.node.port);
    try {
      expect((await other.infer())?.status).toBe(200);
      await slow.closed;
    } finally {
      clearInterval(trickle);
      await other.close();
    }
    const heldMs = (slow.closedAt ?? 0) - slow.openedAt;
    expect(slow.received).toMatch(/^HTTP\/1\.1 408 /);
    expect(heldMs).toBeGreaterThanOrEqual(limits.requestTimeoutMs - 100);
    expect(heldMs).toBeLessThan(limits.requestTimeoutMs + 1_500);
  });

  it("a connection that sends part of its headers, or nothing, is closed with 408 after the headers timeout", async () => {
    const partial = new RawConnection(node.node.port);
    partial.write(`POST /v2/models/${MODEL}/infer HTTP/1.1\r\nHost: node\r\n`);
    const silent = new RawConnection(node.node.port);
    await Promise.all([partial.closed, silent.closed]);
    for (const connection of [partial, silent]) {
      const heldMs = (connection.closedAt ?? 0) - connection.openedAt;
      expect(connection.received).toMatch(/^HTTP\/1\.1 408 /);
      expect(heldMs).toBeGreaterThanOrEqual(limits.headersTimeoutMs - 100);
      expect(heldMs).toBeLessThan(limits.requestTimeoutMs);
    }
  });

  it("a request read in time is answered, however long the connection then stays idle within keep-alive", async () => {
    const connection = new RawConnection(node.node.port);
    expect((await connection.infer())?.status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, limits.requestTimeoutMs + 300));
    expect(connection.closedAt).toBeUndefined();
    expect((await connection.infer())?.status).toBe(200);
    await connection.close();
  });
});

describe("a node's connection cap", () => {
  it("refuses connections beyond CUTOVER_NODE_MAX_CONNECTIONS at once, keeps serving the open ones, and counts the refusals", async () => {
    const node = await servingNode("cap:", {
      requestTimeoutMs: 10_000,
      headersTimeoutMs: 5_000,
      keepAliveTimeoutMs: 10_000,
      maxConnections: 3,
    });
    const held = [1, 2, 3].map(() => new RawConnection(node.node.port));
    for (const connection of held) expect((await connection.infer())?.status).toBe(200);

    const refused = new RawConnection(node.node.port);
    await refused.closed;
    expect(refused.received).toBe("");
    expect((refused.closedAt ?? 0) - refused.openedAt).toBeLessThan(1_000);
    for (const connection of held) expect((await connection.infer())?.body.model_version).toBe("v1");

    // A slot freed is a slot again.
    await held[0]?.close();
    await expect
      .poll(
        async () => {
          const next = new RawConnection(node.node.port);
          const answer = await next.infer();
          if (answer !== undefined) held.push(next);
          return answer?.status;
        },
        { timeout: 5_000, interval: 100 },
      )
      .toBe(200);
    await Promise.all(held.map((connection) => connection.close()));
    // The node frees the slots as it sees the closes; until then /metrics may be refused too.
    const metrics = () =>
      fetch(`${node.url}/metrics`).then(
        (response) => response.text(),
        () => "",
      );
    await expect.poll(metrics, { timeout: 5_000 }).toMatch(/^cutover_http_refused_connections_total [1-9]/m);
  });
});
