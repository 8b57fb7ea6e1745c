/**
 * Requests/s, failure (5xx) and rejection (4xx) rates and p99 latency per model and version over the last minutes, from the
 * nodes' heartbeat records alone (the ops dashboard, issue 14). Pure: the caller lists the records and
 * passes the clock.
 *
 * Each record carries, per version, what the node answered since it started (`served`, cumulative).
 * What a node answered between two of its records (a record is its nodeId and `updatedAt`) is their
 * difference, spread evenly over that interval, on the node's clock, across the fixed windows it
 * overlaps: 5 s heartbeats neither alias into empty and doubled windows nor depend on when the
 * records were read. A version that first appears in a later record counts from zero (a node counts a
 * version from its first answer). Resets add nothing and make the new counts the baseline: the first
 * record of a node, a new `startedAt` (a restart), a count that went down, a version that vanished
 * from the records and came back (nodes drop a version's counts once it is no longer resident), and a
 * gap longer than `maxGapMs` (default 60 s) between two of a node's records or since it was last
 * listed (nobody was watching: what it answered meanwhile cannot be placed in time, so it is not
 * spread over windows it may not belong to).
 *
 * A window is emitted once closed: it ended at least `lagMs` before now (default 6 s: one heartbeat
 * interval at the default 15 s TTL, plus a second of the caller's polling), so that the records
 * covering it have usually been read. A later record still lands in its windows and revises them;
 * callers take the whole series each time. Windows older than `keepMs`, and nodes not listed for
 * `keepMs`, are dropped.
 */
import { ConfigError } from "../../core/errors.js";
import type { NodeRecord } from "../../core/model-state.js";
import type { Traffic } from "../../core/progressive.js";
import { addShare, emptyTally, type Tally, trafficDelta, type VersionPoint, versionPoint } from "./window-tally.js";

export type { VersionPoint } from "./window-tally.js";

export interface TrafficPoint {
  /** The window's end, ms since the epoch. */
  readonly at: number;
  /** Every version with data in the window (one that answered nothing while resident: zeros). */
  readonly versions: Readonly<Record<string, VersionPoint>>;
}

export interface ModelSeries {
  readonly windowMs: number;
  /** Closed windows, oldest first, from the first with data to the last closed; empty ones in between. */
  readonly points: readonly TrafficPoint[];
}

export interface TrafficSeriesOptions {
  /** Window length, ms (default 5,000). */
  readonly windowMs?: number;
  /** How far back windows are kept, ms, a multiple of windowMs (default 600,000). */
  readonly keepMs?: number;
  /** How long after its end a window is emitted, ms (default 6,000). */
  readonly lagMs?: number;
  /** The longest gap over which a node's delta is spread (default 60 s); longer: a new baseline. */
  readonly maxGapMs?: number;
}

/** Counts by model, then version. */
type Counts = Map<string, Map<string, Traffic>>;

interface TrackedNode {
  readonly startedAt: string;
  /** The last record's `updatedAt`, ms: it names the record, with the node id. */
  at: number;
  /** When the caller last listed the node. */
  listedAt: number;
  counts: Counts;
  /** Every version the node ever counted, by model: one missing from `counts` vanished. */
  readonly seen: Map<string, Set<string>>;
}

const ZERO: Traffic = { requests: 0, failures: 0, clientErrors: 0, buckets: [] };

export class TrafficSeries {
  readonly windowMs: number;
  readonly keepMs: number;
  readonly lagMs: number;
  readonly maxGapMs: number;
  private readonly nodes = new Map<string, TrackedNode>();
  /** Tallies by model, window start, version. */
  private readonly windows = new Map<string, Map<number, Map<string, Tally>>>();

  constructor(options: TrafficSeriesOptions = {}) {
    this.windowMs = options.windowMs ?? 5_000;
    this.keepMs = options.keepMs ?? 600_000;
    this.lagMs = options.lagMs ?? 6_000;
    this.maxGapMs = options.maxGapMs ?? 60_000;
    if (!Number.isInteger(this.windowMs) || this.windowMs <= 0)
      throw new ConfigError(`traffic series: windowMs must be a positive integer, not ${this.windowMs}`);
    if (!Number.isInteger(this.keepMs) || this.keepMs < this.windowMs || this.keepMs % this.windowMs !== 0)
      throw new ConfigError(
        `traffic series: keepMs must be a multiple of windowMs (${this.windowMs}), not ${this.keepMs}`,
      );
    if (!Number.isFinite(this.lagMs) || this.lagMs < 0)
      throw new ConfigError(`traffic series: lagMs must be 0 or more, not ${this.lagMs}`);
  }

  /** Feeds the node records as listed now (call it every second or so; repeated records are no-ops). */
  observe(records: readonly NodeRecord[], now: number): void {
    for (const record of records) this.observeRecord(record, now);
    this.prune(now);
  }

  /** Closed windows of one model, oldest first, at most keepMs of them; windows with no data are empty. */
  series(model: string, now: number): ModelSeries {
    const closedEnd = this.closedEnd(now);
    const first = closedEnd - this.keepMs;
    const windows = this.windows.get(model);
    const starts = [...(windows?.keys() ?? [])].filter((start) => start >= first && start + this.windowMs <= closedEnd);
    if (windows === undefined || starts.length === 0) return { windowMs: this.windowMs, points: [] };
    const points: TrafficPoint[] = [];
    for (let start = Math.min(...starts); start + this.windowMs <= closedEnd; start += this.windowMs) {
      const versions: Record<string, VersionPoint> = {};
      for (const [version, tally] of windows.get(start) ?? []) versions[version] = versionPoint(tally, this.windowMs);
      points.push({ at: start + this.windowMs, versions });
    }
    return { windowMs: this.windowMs, points };
  }

  /** The models with windows kept, sorted. */
  models(): string[] {
    return [...this.windows.keys()].sort();
  }

  private observeRecord(record: NodeRecord, now: number): void {
    const at = Date.parse(record.updatedAt);
    if (Number.isNaN(at)) return;
    const node = this.nodes.get(record.nodeId);
    const lastListed = node?.listedAt;
    if (node !== undefined) node.listedAt = now;
    if (node !== undefined && node.startedAt === record.startedAt) {
      // The same record again, or one older than the last seen: nothing new.
      if (at <= node.at) return;
      const counts = servedCounts(record);
      const gap = Math.max(at - node.at, now - (lastListed ?? now));
      if (gap <= this.maxGapMs) this.addDeltas(node, counts, at, now);
      node.at = at;
      node.counts = counts;
      for (const [model, versions] of counts) remember(node.seen, model, versions.keys());
      return;
    }
    const counts = servedCounts(record);
    const seen = new Map<string, Set<string>>();
    for (const [model, versions] of counts) remember(seen, model, versions.keys());
    this.nodes.set(record.nodeId, { startedAt: record.startedAt, at, listedAt: now, counts, seen });
  }

  /** Spreads what `node` counted since its last record over [its last updatedAt, `at`]. */
  private addDeltas(node: TrackedNode, counts: Counts, at: number, now: number): void {
    for (const [model, versions] of counts) {
      for (const [version, traffic] of versions) {
        const before = node.counts.get(model)?.get(version) ?? (node.seen.get(model)?.has(version) ? null : ZERO);
        // A version that vanished and came back counts from zero again: a baseline.
        if (before === null) continue;
        const delta = trafficDelta(traffic, before);
        if (delta !== null) this.spread(model, version, delta, [node.at, at], now);
      }
    }
  }

  /** Adds to each window kept its share of `delta`, counted evenly over [from, to]. */
  private spread(model: string, version: string, delta: Traffic, [from, to]: [number, number], now: number): void {
    const oldest = this.oldestStart(now);
    let windows = this.windows.get(model);
    if (windows === undefined) {
      windows = new Map();
      this.windows.set(model, windows);
    }
    const firstStart = Math.max(Math.floor(from / this.windowMs) * this.windowMs, oldest);
    for (let start = firstStart; start < to; start += this.windowMs) {
      const overlap = Math.min(to, start + this.windowMs) - Math.max(from, start);
      if (overlap <= 0) continue;
      let tallies = windows.get(start);
      if (tallies === undefined) {
        tallies = new Map();
        windows.set(start, tallies);
      }
      let tally = tallies.get(version);
      if (tally === undefined) {
        tally = emptyTally();
        tallies.set(version, tally);
      }
      addShare(tally, delta, overlap / (to - from));
    }
  }

  private prune(now: number): void {
    const oldest = this.oldestStart(now);
    for (const [model, windows] of this.windows) {
      for (const start of windows.keys()) if (start < oldest) windows.delete(start);
      if (windows.size === 0) this.windows.delete(model);
    }
    for (const [nodeId, node] of this.nodes) if (node.listedAt < now - this.keepMs) this.nodes.delete(nodeId);
  }

  /** The end of the last closed window at `now`. */
  private closedEnd(now: number): number {
    return Math.floor((now - this.lagMs) / this.windowMs) * this.windowMs;
  }

  /** The start of the oldest window kept at `now`. */
  private oldestStart(now: number): number {
    return this.closedEnd(now) - this.keepMs;
  }
}

/** The `served` counts of every model in a record (models without any: absent). */
function servedCounts(record: NodeRecord): Counts {
  const counts: Counts = new Map();
  for (const [model, status] of Object.entries(record.models)) {
    if (status.served !== undefined) counts.set(model, new Map(Object.entries(status.served)));
  }
  return counts;
}

function remember(seen: Map<string, Set<string>>, model: string, versions: Iterable<string>): void {
  let set = seen.get(model);
  if (set === undefined) {
    set = new Set();
    seen.set(model, set);
  }
  for (const version of versions) set.add(version);
}
