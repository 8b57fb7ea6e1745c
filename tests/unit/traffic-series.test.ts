import { describe, expect, it } from "vitest";
import { TrafficSeries } from "../../controller/dashboard/traffic-series.js";
import { ConfigError } from "../../core/errors.js";
import type { NodeRecord } from "../../core/model-state.js";
import { emptyTraffic, latencyBucket, type Traffic } from "../../core/progressive.js";

/** A window boundary (a multiple of 5 s), so that window starts read as T0 + n × 5,000. */
const T0 = 1_700_000_000_000;
const MODEL = "demo";

/** Cumulative counts: `requests`, `failures` of them, all at `ms` — or one [count, ms] per bucket. */
function traffic(requests: number, failures = 0, latencies: readonly [number, number][] = [[requests, 3]]): Traffic {
  const counted = emptyTraffic();
  counted.requests = requests;
  counted.failures = failures;
  for (const [count, ms] of latencies) counted.buckets[latencyBucket(ms)] = count;
  return counted;
}

/** Node `nodeId`'s record at T0 + `at`, with `served` for MODEL (none: a node that answered nothing). */
function record(nodeId: string, at: number, served?: Record<string, Traffic>, startedAt = "start-1"): NodeRecord {
  return {
    nodeId,
    url: `http://${nodeId}`,
    executionProvider: "cpu",
    startedAt,
    updatedAt: new Date(T0 + at).toISOString(),
    serves: [],
    models: {
      [MODEL]: {
        active: "v1",
        revision: 1,
        warm: [],
        staged: null,
        lastError: null,
        ...(served !== undefined ? { served } : {}),
      },
    },
  };
}

/** Window start (relative to T0) → `field` of `version`, for every closed window at T0 + `now`. */
function column(series: TrafficSeries, now: number, field: "rps" | "requests" | "errorRate" | "p99Ms", version = "v1") {
  const points = series.series(MODEL, T0 + now).points;
  return Object.fromEntries(points.map((point) => [point.at - T0 - 5_000, point.versions[version]?.[field] ?? null]));
}

/** Feeds `records` one after the other, each read a second after it was written. */
function feed(series: TrafficSeries, records: readonly NodeRecord[]): void {
  for (const written of records) series.observe([written], Date.parse(written.updatedAt) + 1_000);
}

describe("the traffic series of the dashboard, from node records", () => {
  it("steady traffic on two nodes heartbeating out of phase gives their summed rps in every window", () => {
    const series = new TrafficSeries();
    // Node a answers 100 requests/s and writes at 0, 5, 10 s…; node b 50/s, at 2.5, 7.5 s…
    const nodes = [
      { id: "a", rps: 100, offset: 0 },
      { id: "b", rps: 50, offset: 2_500 },
    ];
    for (let now = 0; now <= 60_000; now += 1_000) {
      const listed = nodes
        .filter((node) => now >= node.offset)
        .map((node) => {
          const at = node.offset + Math.floor((now - node.offset) / 5_000) * 5_000;
          return record(node.id, at, { v1: traffic((node.rps * at) / 1_000) });
        });
      series.observe(listed, T0 + now);
    }
    const rps = column(series, 60_000, "rps");
    // Closed at 60 s (6 s lag): the windows ending by 50 s. The first has b's baseline in it: 100 + 25.
    expect(Object.keys(rps).map(Number)).toEqual([
      0, 5_000, 10_000, 15_000, 20_000, 25_000, 30_000, 35_000, 40_000, 45_000,
    ]);
    expect(rps[0]).toBeCloseTo(125, 6);
    for (const start of Object.keys(rps).slice(1)) expect(rps[start]).toBeCloseTo(150, 6);
    expect(series.models()).toEqual([MODEL]);
  });

  it("spreads a delta evenly over the node's interval across the windows it overlaps; a window is emitted once closed", () => {
    const series = new TrafficSeries();
    // 100 requests between 3 s and 13 s: 2 s in [0, 5), 5 s in [5, 10), 3 s in [10, 15).
    feed(series, [record("a", 3_000, { v1: traffic(0) }), record("a", 13_000, { v1: traffic(100) })]);
    expect(column(series, 21_000, "requests")).toEqual({ 0: 20, 5000: 50, 10000: 30 });
    expect(column(series, 21_000, "rps")).toEqual({ 0: 4, 5000: 10, 10000: 6 });
    // [10, 15) closes 6 s after its end.
    expect(column(series, 20_999, "requests")).toEqual({ 0: 20, 5000: 50 });
    // A record read late still lands in its windows, revising them.
    series.observe([record("a", 18_000, { v1: traffic(150) })], T0 + 30_000);
    expect(column(series, 30_000, "requests")).toEqual({ 0: 20, 5000: 50, 10000: 30 + 20, 15000: 30 });
  });

  it("a record seen again adds nothing; nor does an older one read after a newer", () => {
    const series = new TrafficSeries();
    const first = record("a", 0, { v1: traffic(0) });
    const second = record("a", 5_000, { v1: traffic(500) });
    const third = record("a", 10_000, { v1: traffic(1_000) });
    for (let now = 1_000; now <= 30_000; now += 1_000) series.observe([first], T0 + now);
    for (let now = 6_000; now <= 30_000; now += 1_000) series.observe([second], T0 + now);
    series.observe([third], T0 + 31_000);
    series.observe([second, third, first], T0 + 32_000);
    expect(column(series, 32_000, "requests")).toEqual({ 0: 500, 5000: 500, 10000: null, 15000: null, 20000: null });
  });

  it("a restart (new startedAt), a count going down, and a version that vanished and came back are baselines", () => {
    const series = new TrafficSeries();
    feed(series, [
      record("a", 0, { v1: traffic(0) }),
      record("a", 5_000, { v1: traffic(500) }),
      // Restarted: 20 counted since, none of it added.
      record("a", 10_000, { v1: traffic(20) }, "start-2"),
      record("a", 15_000, { v1: traffic(520) }, "start-2"),
      // Counts went down without a new startedAt: a reset too.
      record("a", 20_000, { v1: traffic(10) }, "start-2"),
      record("a", 25_000, { v1: traffic(510) }, "start-2"),
      // v1 no longer resident, then back: it starts from zero on the node, a baseline here.
      record("a", 30_000, {}, "start-2"),
      record("a", 35_000, { v1: traffic(300) }, "start-2"),
      record("a", 40_000, { v1: traffic(800) }, "start-2"),
    ]);
    expect(column(series, 51_000, "requests")).toEqual({
      0: 500,
      5000: null,
      10000: 500,
      15000: null,
      20000: 500,
      25000: null,
      30000: null,
      35000: 500,
      40000: null,
    });
  });

  it("the p99 comes from the summed bucket deltas, and the failure rate from the failures", () => {
    const series = new TrafficSeries();
    // In [0, 5): node a 985 answers at 3 ms, 10 of them 5xx; node b 15 at 300 ms. Rank 990 of 1,000 is
    // the 5th of 15 in (200, 500]: 200 + 300 × 5/15.
    feed(series, [record("a", 0, { v1: traffic(0) }), record("b", 0, { v1: traffic(0) })]);
    series.observe(
      [
        record("a", 5_000, { v1: traffic(985, 10, [[985, 3]]) }),
        record("b", 5_000, { v1: traffic(15, 0, [[15, 300]]) }),
      ],
      T0 + 6_000,
    );
    const [point] = series.series(MODEL, T0 + 11_000).points;
    expect(point?.versions.v1).toEqual({ rps: 200, errorRate: 0.01, clientErrorRate: 0, p99Ms: 300, requests: 1_000 });
    // All in (2, 5]: interpolated at 99 % of the bucket.
    const alone = new TrafficSeries();
    feed(alone, [record("a", 0, { v1: traffic(0) }), record("a", 5_000, { v1: traffic(1_000) })]);
    expect(column(alone, 11_000, "p99Ms")).toEqual({ 0: 4.97 });
  });

  it("keeps keepMs of windows, and forgets a node not listed for keepMs (its next record is a baseline)", () => {
    const series = new TrafficSeries({ keepMs: 30_000 });
    for (let at = 0; at <= 120_000; at += 5_000)
      series.observe([record("a", at, { v1: traffic(at / 10) })], T0 + at + 1_000);
    const windows = Object.keys(column(series, 121_000, "requests")).map(Number);
    // Closed at 121 s: windows ending by 115 s, the last 30 s of them.
    expect(windows).toEqual([85_000, 90_000, 95_000, 100_000, 105_000, 110_000]);
    // Nothing listed for more than keepMs: the windows age out, the node is forgotten.
    series.observe([], T0 + 160_000);
    expect(series.models()).toEqual([]);
    series.observe([record("a", 165_000, { v1: traffic(16_500) })], T0 + 166_000);
    series.observe([record("a", 170_000, { v1: traffic(17_000) })], T0 + 171_000);
    expect(column(series, 181_000, "requests")).toEqual({ 165000: 500, 170000: null });
  });

  it("a gap longer than maxGapMs (nobody watching, or a node silent) is a baseline: nothing is spread over it", () => {
    const series = new TrafficSeries();
    // 10 requests/s for 20 s, watched.
    for (let at = 0; at <= 20_000; at += 5_000)
      series.observe([record("a", at, { v1: traffic(at / 100) })], T0 + at + 1_000);
    // Nobody watches for 30 minutes, in which the node answers 60,000 requests; then 10/s again.
    const later = 1_820_000;
    series.observe([record("a", later, { v1: traffic(60_200) })], T0 + later + 1_000);
    series.observe([record("a", later + 5_000, { v1: traffic(60_250) })], T0 + later + 6_000);
    const requests = column(series, later + 12_000, "requests");
    // The 60,000 are not smeared over the last ten minutes: only the 50 after the gap show.
    expect(Object.values(requests).filter((value) => value !== null && value > 0)).toEqual([50]);
  });

  it("two versions during a split: each its own rps and failure rate; a version first counted counts from zero", () => {
    const series = new TrafficSeries();
    feed(series, [
      record("a", 0, { v1: traffic(0) }),
      // The split began: v2's first answers are in its first record.
      record("a", 5_000, { v1: traffic(450), v2: traffic(50, 5) }),
      record("a", 10_000, { v1: traffic(900, 9), v2: traffic(100, 5) }),
    ]);
    expect(column(series, 16_000, "rps", "v1")).toEqual({ 0: 90, 5000: 90 });
    expect(column(series, 16_000, "rps", "v2")).toEqual({ 0: 10, 5000: 10 });
    expect(column(series, 16_000, "errorRate", "v1")).toEqual({ 0: 0, 5000: 0.02 });
    expect(column(series, 16_000, "errorRate", "v2")).toEqual({ 0: 0.1, 5000: 0 });
  });

  it("a resident version that answered nothing reads as zeros; a node record without served adds nothing", () => {
    const series = new TrafficSeries();
    feed(series, [
      record("a", 0, { v1: traffic(10) }),
      record("a", 5_000, { v1: traffic(10) }),
      record("b", 0),
      record("b", 5_000),
    ]);
    expect(series.series(MODEL, T0 + 11_000).points).toEqual([
      {
        at: T0 + 5_000,
        versions: { v1: { rps: 0, errorRate: null, clientErrorRate: null, p99Ms: null, requests: 0 } },
      },
    ]);
    expect(new TrafficSeries().series("unknown", T0)).toEqual({ windowMs: 5_000, points: [] });
  });

  it("checks its options", () => {
    expect(() => new TrafficSeries({ windowMs: 0 })).toThrow(ConfigError);
    expect(() => new TrafficSeries({ windowMs: 5_000, keepMs: 12_000 })).toThrow(/keepMs/);
    expect(() => new TrafficSeries({ lagMs: -1 })).toThrow(/lagMs/);
  });
});
