/**
 * The dashboard's live feed over HTTP (server-sent events) from a controller on a real Redis and S3
 * server: the first events, a rollout's state and a node record as they change, Redis killed and
 * started again (`unavailable`, then `fleet`), and streams ended when the controller closes. Also:
 * the page and its files are served with the CSP; the Lambda's app serves neither.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Controller } from "../../controller/controller.js";
import { DASHBOARD_CSP } from "../../controller/dashboard/dashboard-routes.js";
import { closeServer, type HttpServer, listen } from "../../core/http-listen.js";
import { type ControllerHarness, MODEL, startControllerHarness, TOKEN } from "../support/controller-harness.js";
import type { ScriptedNode } from "../support/scripted-node.js";

let harness: ControllerHarness;
const nodes: ScriptedNode[] = [];

beforeAll(async () => {
  harness = await startControllerHarness();
});
afterAll(async () => {
  for (const node of nodes) await node.close();
  await harness.stop();
});

interface SseEvent {
  readonly event: string;
  readonly data: unknown;
}

/** Reads server-sent events from a stream until `until` says stop (or the stream ends). */
class EventReader {
  readonly events: SseEvent[] = [];
  ended = false;
  private buffer = "";
  private waiters: (() => void)[] = [];

  constructor(response: Response) {
    const body = response.body;
    if (body === null) throw new Error("no body");
    void (async () => {
      const decoder = new TextDecoder();
      for await (const chunk of body) {
        this.buffer += decoder.decode(chunk as Uint8Array, { stream: true });
        let end = this.buffer.indexOf("\n\n");
        while (end !== -1) {
          this.parse(this.buffer.slice(0, end));
          this.buffer = this.buffer.slice(end + 2);
          end = this.buffer.indexOf("\n\n");
        }
      }
    })()
      .catch(() => undefined)
      .finally(() => {
        this.ended = true;
        this.wake();
      });
  }

  private parse(block: string): void {
    const lines = block.split("\n");
    const event = lines.find((line) => line.startsWith("event: "))?.slice(7);
    const data = lines
      .filter((line) => line.startsWith("data: "))
      .map((line) => line.slice(6))
      .join("\n");
    if (event === undefined) return;
    this.events.push({ event, data: JSON.parse(data) });
    this.wake();
  }

  private wake(): void {
    for (const waiter of this.waiters.splice(0)) waiter();
  }

  /** The first event from `from` on that matches, waiting up to `ms`. */
  async next(match: (event: SseEvent) => boolean, from = 0, ms = 15_000): Promise<SseEvent> {
    const deadline = Date.now() + ms;
    for (;;) {
      const found = this.events.slice(from).find(match);
      if (found !== undefined) return found;
      if (this.ended) throw new Error(`the stream ended; events: ${this.events.map((e) => e.event).join(", ")}`);
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(`no matching event in ${ms} ms; events: ${this.events.map((e) => e.event).join(", ")}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, left);
      });
    }
  }
}

type Fleet = {
  models: { model: string; state: { active: string | null; revision: number } }[];
  nodes: { nodeId: string }[];
};

async function serve(prefix: string): Promise<{ controller: Controller; server: HttpServer; url: string }> {
  const controller = await harness.controller(prefix, { dashboard: true });
  const { server, port } = await listen(controller.app.fetch, 0, "127.0.0.1");
  return { controller, server, url: `http://127.0.0.1:${port}` };
}

describe("the live feed", () => {
  it("sends the fleet at once, then each change: a node joining, a rollout promoted", { timeout: 60_000 }, async () => {
    const prefix = "feed-changes:";
    const { controller, server, url } = await serve(prefix);
    const abort = new AbortController();
    try {
      const response = await fetch(`${url}/v1/events`, { signal: abort.signal });
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toContain("text/event-stream");
      const reader = new EventReader(response);
      const first = (await reader.next((e) => e.event === "fleet")).data as Fleet;
      expect(first.models.find((m) => m.model === MODEL)?.state.revision).toBe(0);
      expect(first.nodes).toEqual([]);
      await reader.next((e) => e.event === "traffic");

      nodes.push(await harness.node(prefix, "feed-n1", { onPrepare: "stage" }));
      const mark = reader.events.length;
      await reader.next(
        (e) => e.event === "fleet" && (e.data as Fleet).nodes.some((n) => n.nodeId === "feed-n1"),
        mark,
      );

      const activated = await fetch(`${url}/v1/models/${MODEL}/activate`, {
        method: "POST",
        headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
        body: JSON.stringify({ version: "v1" }),
      });
      expect(activated.status).toBe(200);
      const promoted = (
        await reader.next(
          (e) => e.event === "fleet" && (e.data as Fleet).models.some((m) => m.state.active === "v1"),
          mark,
        )
      ).data as Fleet;
      expect(promoted.models.find((m) => m.model === MODEL)?.state.revision).toBe(1);
    } finally {
      abort.abort();
      controller.endStreams();
      await closeServer(server);
      await controller.close();
    }
  });

  it("Redis killed: `unavailable` with STATE_UNREACHABLE; started again: `fleet` again", {
    timeout: 60_000,
  }, async () => {
    const { controller, server, url } = await serve("feed-redis:");
    const abort = new AbortController();
    try {
      const reader = new EventReader(await fetch(`${url}/v1/events`, { signal: abort.signal }));
      await reader.next((e) => e.event === "fleet");
      await harness.redis.kill();
      let mark = reader.events.length;
      const down = await reader.next((e) => e.event === "unavailable", mark);
      expect((down.data as { code: string }).code).toBe("STATE_UNREACHABLE");
      mark = reader.events.length;
      await harness.redis.start();
      const back = (await reader.next((e) => e.event === "fleet", mark, 30_000)).data as Fleet;
      expect(back.models.some((m) => m.model === MODEL)).toBe(true);
      expect(reader.ended).toBe(false);
    } finally {
      abort.abort();
      controller.endStreams();
      await closeServer(server);
      await controller.close();
    }
  });

  it("closing the controller ends its streams, so the server can close", { timeout: 30_000 }, async () => {
    const { controller, server, url } = await serve("feed-close:");
    const reader = new EventReader(await fetch(`${url}/v1/events`));
    await reader.next((e) => e.event === "fleet");
    controller.endStreams();
    await closeServer(server);
    await controller.close();
    await expect.poll(() => reader.ended).toBe(true);
  });

  it("a page opened while Redis is down is told so at once, after the last fleet it had", {
    timeout: 60_000,
  }, async () => {
    const { controller, server, url } = await serve("feed-outage:");
    const aborts = [new AbortController(), new AbortController()];
    try {
      const first = new EventReader(await fetch(`${url}/v1/events`, { signal: aborts[0]?.signal }));
      await first.next((e) => e.event === "fleet");
      await harness.redis.kill();
      await first.next((e) => e.event === "unavailable");
      const late = new EventReader(await fetch(`${url}/v1/events`, { signal: aborts[1]?.signal }));
      await late.next((e) => e.event === "unavailable", 0, 5_000);
      expect(late.events.map((e) => e.event).slice(0, 3)).toEqual(["fleet", "traffic", "unavailable"]);
    } finally {
      await harness.redis.start();
      for (const abort of aborts) abort.abort();
      controller.endStreams();
      await closeServer(server);
      await controller.close();
    }
  });

  it("beyond its cap the controller answers 503 STREAM_REFUSED; a slot freed is usable again", {
    timeout: 30_000,
  }, async () => {
    const controller = await harness.controller("feed-cap:", { dashboard: true, dashboardStreams: 1 });
    const { server, port } = await listen(controller.app.fetch, 0, "127.0.0.1");
    const url = `http://127.0.0.1:${port}`;
    const abort = new AbortController();
    try {
      const held = new EventReader(await fetch(`${url}/v1/events`, { signal: abort.signal }));
      await held.next((e) => e.event === "fleet");
      const refused = await fetch(`${url}/v1/events`);
      expect(refused.status).toBe(503);
      expect(((await refused.json()) as { error: { code: string } }).error.code).toBe("STREAM_REFUSED");
      abort.abort();
      await expect
        .poll(async () => {
          const again = await fetch(`${url}/v1/events`);
          await again.body?.cancel();
          return again.status;
        })
        .toBe(200);
    } finally {
      controller.endStreams();
      await closeServer(server);
      await controller.close();
    }
  });

  it("the page and its files carry the CSP; the Lambda's app (no dashboard) serves neither", async () => {
    const withPage = await harness.controller("feed-page:", { dashboard: true });
    const page = await withPage.app.request("/");
    expect(page.status).toBe(200);
    expect(page.headers.get("content-security-policy")).toBe(DASHBOARD_CSP);
    expect(page.headers.get("x-content-type-options")).toBe("nosniff");
    const script = await withPage.app.request("/ui/app/main.js");
    expect(script.headers.get("content-type")).toContain("text/javascript");
    expect(script.headers.get("content-security-policy")).toBe(DASHBOARD_CSP);
    await withPage.close();

    const lambdaLike = await harness.controller("feed-lambda:");
    for (const path of ["/", "/ui/app/main.js", "/v1/events"]) {
      const answer = await lambdaLike.app.request(path);
      expect(answer.status).toBe(404);
      expect(((await answer.json()) as { error: { code: string } }).error.code).toBe("NOT_FOUND");
    }
    await lambdaLike.close();
  });
});
