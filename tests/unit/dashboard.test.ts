/**
 * The dashboard's server side without a browser: the files it serves (every module the page
 * imports is among them, nothing else from the package is), and the live feed's listeners (one poll
 * shared by all of them, none while nobody listens, a cap that refuses one more).
 */
import { describe, expect, it } from "vitest";
import { loadDashboardAssets } from "../../controller/dashboard/dashboard-assets.js";
import { FleetFeed } from "../../controller/dashboard/fleet-feed.js";
import { TrafficSeries } from "../../controller/dashboard/traffic-series.js";
import { type CutoverError, ErrorCode } from "../../core/errors.js";
import { MemoryFleetState } from "../../core/memory/memory-fleet-state.js";

describe("the dashboard's files", () => {
  const assets = loadDashboardAssets();

  it("serve the page, its stylesheet, every module the page imports, and uPlot", () => {
    const page = new TextDecoder().decode(assets.get("/")?.body);
    const referenced = [...page.matchAll(/(?:src|href)="(\/ui\/[^"]+)"/g)].map((match) => match[1] ?? "");
    expect(referenced).toEqual(expect.arrayContaining(["/ui/app/main.js", "/ui/style.css", "/ui/vendor/uplot.css"]));
    const pending = [...referenced];
    const seen = new Set<string>();
    while (pending.length > 0) {
      const path = pending.pop() ?? "";
      if (seen.has(path)) continue;
      seen.add(path);
      const asset = assets.get(path);
      expect(asset, `${path} is referenced but not served`).toBeDefined();
      if (!path.endsWith(".js") || path.startsWith("/ui/vendor/")) continue;
      const source = new TextDecoder().decode(asset?.body);
      for (const match of source.matchAll(/^import [^"]*"([^"]+)";$/gm)) {
        pending.push(new URL(match[1] ?? "", `http://x${path}`).pathname);
      }
    }
    expect(seen).toContain("/ui/vendor/uplot.js");
    expect(assets.get("/ui/app/main.js")?.contentType).toBe("text/javascript; charset=utf-8");
  });

  it("serve nothing but page files: no type declarations, no checker config, no source maps", () => {
    for (const path of assets.keys()) {
      expect(path).toMatch(/^\/$|^\/ui\/[\w/.-]+\.(js|css)$/);
      expect(path).not.toMatch(/\.d\.ts$|tsconfig/);
    }
  });
});

describe("the live feed", () => {
  class CountingFleet extends MemoryFleetState {
    reads = 0;
    override async listNodes(now?: number) {
      this.reads++;
      return super.listNodes(now);
    }
  }

  it("polls once for all listeners, stops when the last leaves, and refuses one beyond its cap", async () => {
    const fleet = new CountingFleet();
    const feed = new FleetFeed({
      fleet,
      listStored: async () => ["demo"],
      traffic: new TrafficSeries(),
      intervalMs: 20,
      maxListeners: 2,
    });
    const seen: string[][] = [[], []];
    const leave = [0, 1].map((i) => feed.subscribe((event) => seen[i]?.push(event.type)));
    await expect.poll(() => seen.every((types) => types.includes("fleet") && types.includes("traffic"))).toBe(true);
    expect(() => feed.subscribe(() => undefined)).toThrow(
      expect.objectContaining({ code: ErrorCode.StreamRefused }) as CutoverError,
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    // Two listeners, one poll every 20 ms: about 10 reads in 200 ms, not 20.
    expect(fleet.reads).toBeLessThan(16);
    for (const unsubscribe of leave) unsubscribe();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const after = fleet.reads;
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(fleet.reads - after).toBeLessThanOrEqual(1);
    // A late listener gets the last fleet at once, before the next poll.
    const late: string[] = [];
    feed.subscribe((event) => late.push(event.type));
    expect(late).toEqual(["fleet", "traffic"]);
    feed.close();
  });

  it("once started, records traffic with no page open (node records only): a page opened later sees the minutes before it, 4xx included", async () => {
    const fleet = new CountingFleet();
    let listings = 0;
    const feed = new FleetFeed({
      fleet,
      listStored: async () => {
        listings++;
        return ["demo"];
      },
      traffic: new TrafficSeries({ windowMs: 1_000, keepMs: 60_000, lagMs: 0 }),
      idleIntervalMs: 10,
    });
    const started = Date.now() - 10_000;
    const record = (secondsIn: number, requests: number, clientErrors: number) => ({
      nodeId: "n1",
      url: "http://n1",
      executionProvider: "cpu",
      startedAt: new Date(started).toISOString(),
      updatedAt: new Date(started + secondsIn * 1_000).toISOString(),
      serves: ["demo"],
      models: {
        demo: {
          active: "v1",
          revision: 1,
          warm: [],
          staged: null,
          lastError: null,
          served: { v1: { requests, failures: 0, clientErrors, buckets: new Array<number>(14).fill(0) } },
        },
      },
    });
    feed.start();
    await fleet.heartbeat(record(1, 0, 0), 60_000);
    await expect.poll(() => fleet.reads).toBeGreaterThan(1);
    await fleet.heartbeat(record(3, 200, 20), 60_000);
    const reads = fleet.reads;
    await expect.poll(() => fleet.reads).toBeGreaterThan(reads + 1);
    expect(listings).toBe(0);
    const events: { type: string; data: unknown }[] = [];
    feed.subscribe((event) => events.push(event));
    await expect.poll(() => events.some((event) => event.type === "traffic")).toBe(true);
    const traffic = events.find((event) => event.type === "traffic")?.data as {
      models: Record<
        string,
        { points: { versions: Record<string, { requests: number; clientErrorRate: number | null }> }[] }
      >;
    };
    const points = traffic.models.demo?.points ?? [];
    const counted = points.reduce((sum, point) => sum + (point.versions.v1?.requests ?? 0), 0);
    expect(counted).toBeCloseTo(200, 6);
    expect(
      points
        .filter((point) => (point.versions.v1?.requests ?? 0) > 0)
        .map((point) => point.versions.v1?.clientErrorRate),
    ).toSatisfy((rates: unknown[]) => rates.length > 0 && rates.every((rate) => rate === 0.1));
    feed.close();
  });

  it("a store listing that never answers holds up only the first poll, 2 s at most", { timeout: 30_000 }, async () => {
    const fleet = new MemoryFleetState();
    const now = new Date().toISOString();
    await fleet.heartbeat(
      {
        nodeId: "n1",
        url: "http://n1",
        executionProvider: "cpu",
        startedAt: now,
        updatedAt: now,
        serves: [],
        models: {},
      },
      60_000,
    );
    let listings = 0;
    const feed = new FleetFeed({
      fleet,
      listStored: () => {
        listings++;
        return new Promise<string[]>(() => undefined);
      },
      traffic: new TrafficSeries(),
      intervalMs: 20,
    });
    const fleets: number[] = [];
    const started = Date.now();
    feed.subscribe((event) => {
      if (event.type === "fleet") fleets.push(Date.now() - started);
    });
    // 2 s, and whatever a busy machine adds: never the listing's (unbounded) time.
    await expect.poll(() => fleets.length, { timeout: 15_000 }).toBeGreaterThan(0);
    expect(fleets[0]).toBeGreaterThanOrEqual(1_900);
    // The hung listing is not asked again while it runs: one at a time.
    await fleet.heartbeat(
      {
        nodeId: "n2",
        url: "http://n2",
        executionProvider: "cpu",
        startedAt: now,
        updatedAt: now,
        serves: [],
        models: {},
      },
      60_000,
    );
    const second = Date.now();
    await expect.poll(() => fleets.length, { timeout: 10_000 }).toBe(2);
    // The next polls do not wait for the listing again (20 ms apart, not 2 s).
    expect(Date.now() - second).toBeLessThan(1_500);
    expect(listings).toBe(1);
    feed.close();
  });
});
