/**
 * A page that stops reading the live feed: once 64 events wait for it, the controller destroys its
 * connection (ending the stream would wait for writes nobody reads), forgets the listener, and can
 * still shut down at once. A raw TCP client that sends the request and never reads, against the feed
 * over the in-memory state, with a node record of 200 KB that changes on every 10 ms poll.
 */
import { connect } from "node:net";
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { dashboardRoutes } from "../../controller/dashboard/dashboard-routes.js";
import { FleetFeed } from "../../controller/dashboard/fleet-feed.js";
import { TrafficSeries } from "../../controller/dashboard/traffic-series.js";
import { closeServer, type HttpServer, listen } from "../../core/http-listen.js";
import { MemoryFleetState } from "../../core/memory/memory-fleet-state.js";
import type { NodeRecord } from "../../core/model-state.js";

/** Connections the server holds open (a paused client cannot see its own socket close). */
function connections(server: HttpServer): Promise<number> {
  return new Promise((resolve, reject) =>
    server.getConnections((error, count) => (error ? reject(error) : resolve(count))),
  );
}

function bigRecord(round: number): NodeRecord {
  const now = new Date().toISOString();
  return {
    nodeId: "n1",
    url: "http://127.0.0.1:1",
    executionProvider: "cpu",
    startedAt: now,
    updatedAt: now,
    serves: [],
    models: {
      demo: { active: "v1", revision: 1, warm: [], staged: null, lastError: `${round}:${"x".repeat(200_000)}` },
    },
  };
}

describe("a client that stops reading the feed", () => {
  it("is disconnected after 64 unread events; the listener is dropped; the server closes at once", {
    timeout: 30_000,
  }, async () => {
    const fleet = new MemoryFleetState();
    const feed = new FleetFeed({ fleet, listStored: async () => [], traffic: new TrafficSeries(), intervalMs: 10 });
    const app = new Hono();
    app.route("/", dashboardRoutes({ feed, assets: new Map() }));
    const { server, port } = await listen(app.fetch, 0, "127.0.0.1");
    let round = 0;
    const writer = setInterval(() => void fleet.heartbeat(bigRecord(round++), 60_000), 10);
    try {
      const socket = connect(port, "127.0.0.1");
      socket.on("error", () => undefined);
      socket.write("GET /v1/events HTTP/1.1\r\nHost: x\r\n\r\n");
      // Never read: the kernel's buffers fill, then the stream's writes wait.
      socket.pause();
      await expect.poll(() => feed.listening, { timeout: 5_000 }).toBe(1);
      await expect.poll(() => connections(server), { timeout: 15_000 }).toBe(0);
      expect(feed.listening).toBe(0);
      expect(round).toBeGreaterThan(64);
      socket.destroy();
    } finally {
      clearInterval(writer);
      feed.close();
    }
    const started = Date.now();
    await closeServer(server);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it("a stalled client does not hold a shutdown: closing the feed destroys its connection", {
    timeout: 30_000,
  }, async () => {
    const fleet = new MemoryFleetState();
    // A slow poll: few events, so the client stays under the 64-event cut while its buffers are full.
    const feed = new FleetFeed({ fleet, listStored: async () => [], traffic: new TrafficSeries(), intervalMs: 5 });
    const app = new Hono();
    app.route("/", dashboardRoutes({ feed, assets: new Map() }));
    const { server, port } = await listen(app.fetch, 0, "127.0.0.1");
    let round = 0;
    const writer = setInterval(() => void fleet.heartbeat(bigRecord(round++), 60_000), 5);
    const socket = connect(port, "127.0.0.1");
    socket.on("error", () => undefined);
    socket.write("GET /v1/events HTTP/1.1\r\nHost: x\r\n\r\n");
    socket.pause();
    await expect.poll(() => feed.listening, { timeout: 5_000 }).toBe(1);
    // Let some writes back up (fewer than 64 events), then shut down.
    await new Promise((resolve) => setTimeout(resolve, 60));
    clearInterval(writer);
    feed.close();
    const started = Date.now();
    await closeServer(server);
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(await connections(server)).toBe(0);
    socket.destroy();
  });
});
