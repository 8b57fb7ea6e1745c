/**
 * The dashboard's live feed: one poll of the fleet state per controller, shared by every open page.
 * While at least one page listens it reads the models and the nodes every `intervalMs` (1 s) and
 * sends `fleet` when anything changed, `traffic` when the requests/p99 series changed, and
 * `unavailable` (then `fleet` again) when the state cannot be read; a page that subscribes during
 * an outage gets the last `fleet` and then `unavailable`. Once started, the traffic series is fed
 * whether or not a page listens: while nobody does, only the node records are read, every
 * `idleIntervalMs` (5 s, the heartbeat interval at the default TTL), so a page opened later gets the
 * minutes before it, counted as an analysis counts them.
 * The store's model listing (a LIST of S3) is refreshed in the background at most every
 * `storedEveryMs`: a slow or hung store never holds up the feed (the first poll waits for it 2 s at
 * most). Node records go out without their traffic counts (`served`, a split's `traffic`): the
 * `traffic` event carries what they add up to.
 */
import { CutoverError, ErrorCode, errorMessage } from "../../core/errors.js";
import type { FleetStateStore } from "../../core/fleet-state.js";
import type { NodeRecord } from "../../core/model-state.js";
import { type ModelSummary, summarizeModels } from "../model-summaries.js";
import type { ModelSeries, TrafficSeries } from "./traffic-series.js";

export interface FleetSnapshot {
  readonly at: string;
  readonly models: readonly ModelSummary[];
  readonly nodes: readonly NodeRecord[];
}

export interface TrafficSnapshot {
  readonly models: Readonly<Record<string, ModelSeries>>;
}

export type FeedEvent =
  | { readonly type: "fleet"; readonly data: FleetSnapshot }
  | { readonly type: "traffic"; readonly data: TrafficSnapshot }
  | { readonly type: "unavailable"; readonly data: { readonly code: string; readonly message: string } };

export type FeedListener = (event: FeedEvent) => void;

/** How long the first poll waits for the store's model listing. */
const FIRST_LISTING_MS = 2_000;

/** A node record as the page gets it: without the counts that change with every request. */
function withoutCounts(node: NodeRecord): NodeRecord {
  const models: NodeRecord["models"] = {};
  for (const [model, entry] of Object.entries(node.models)) {
    const { served: _served, split, ...rest } = entry;
    models[model] = split === undefined ? rest : { ...rest, split: { ...split, traffic: {} } };
  }
  return { ...node, models };
}

export interface FleetFeedOptions {
  readonly fleet: FleetStateStore;
  /** Model names in the artifact store. */
  readonly listStored: () => Promise<string[]>;
  readonly traffic: TrafficSeries;
  readonly intervalMs?: number;
  /** How often the node records are read for the traffic series while no page listens (default 5 s). */
  readonly idleIntervalMs?: number;
  readonly storedEveryMs?: number;
  /** Pages that may listen at once (default 64); one more is refused with STREAM_REFUSED. */
  readonly maxListeners?: number;
  readonly now?: () => number;
}

export class FleetFeed {
  private readonly listeners = new Map<FeedListener, () => void>();
  private readonly intervalMs: number;
  private readonly idleIntervalMs: number;
  private readonly storedEveryMs: number;
  private readonly maxListeners: number;
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;
  private polling = false;
  private closed = false;
  private recording = false;
  private stored: string[] | undefined;
  private storedAt = Number.NEGATIVE_INFINITY;
  private listing: Promise<void> | undefined;
  private waitedForListing = false;
  private last: {
    fleet?: FeedEvent;
    fleetJson?: string;
    traffic?: FeedEvent;
    trafficJson?: string;
    unavailable?: FeedEvent;
  } = {};

  constructor(private readonly options: FleetFeedOptions) {
    this.intervalMs = options.intervalMs ?? 1_000;
    this.idleIntervalMs = options.idleIntervalMs ?? 5_000;
    this.storedEveryMs = options.storedEveryMs ?? 15_000;
    this.maxListeners = options.maxListeners ?? 64;
    this.now = options.now ?? Date.now;
  }

  /**
   * Adds a listener; it gets the latest `fleet` and `traffic` at once when known (otherwise after the
   * first poll); `onClose` runs when the feed closes. Returns the function that removes it.
   */
  subscribe(listener: FeedListener, onClose: () => void = () => undefined): () => void {
    if (this.closed) throw new CutoverError(ErrorCode.StreamRefused, "the controller is shutting down");
    if (this.listeners.size >= this.maxListeners) {
      throw new CutoverError(
        ErrorCode.StreamRefused,
        `the controller already streams its live feed to ${this.maxListeners} pages`,
      );
    }
    const wasIdle = this.listeners.size === 0;
    this.listeners.set(listener, onClose);
    if (this.last.fleet !== undefined) listener(this.last.fleet);
    if (this.last.traffic !== undefined) listener(this.last.traffic);
    if (this.last.unavailable !== undefined) listener(this.last.unavailable);
    if (!this.polling && (this.timer === undefined || wasIdle)) {
      // The first page does not wait out the idle interval.
      clearTimeout(this.timer);
      this.schedule(0);
    }
    return () => {
      this.listeners.delete(listener);
    };
  }

  get listening(): number {
    return this.listeners.size;
  }

  /** Starts recording traffic from the node records, whether or not a page listens. */
  start(): void {
    this.recording = true;
    if (this.timer === undefined && !this.polling) this.schedule(0);
  }

  /** Stops polling and tells every listener (their streams end). */
  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    for (const onClose of this.listeners.values()) onClose();
    this.listeners.clear();
  }

  private schedule(ms: number): void {
    if (this.closed || (this.listeners.size === 0 && !this.recording)) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void (this.listeners.size > 0 ? this.poll() : this.record());
    }, ms);
    this.timer.unref();
  }

  /** While no page listens: the node records into the traffic series, nothing else. */
  private async record(): Promise<void> {
    this.polling = true;
    try {
      this.options.traffic.observe(await this.options.fleet.listNodes(), this.now());
    } catch {
      // The next read tries again; a page that opens meanwhile is told of the outage by its own poll.
    } finally {
      this.polling = false;
      this.schedule(this.listeners.size > 0 ? 0 : this.idleIntervalMs);
    }
  }

  private async poll(): Promise<void> {
    this.polling = true;
    try {
      const [stored, nodes] = await Promise.all([this.storedNames(), this.options.fleet.listNodes()]);
      const models = await summarizeModels(this.options.fleet, stored, nodes);
      const now = this.now();
      this.last.unavailable = undefined;
      const shown = nodes.map(withoutCounts);
      // The snapshot's own `at` is left out of the comparison.
      const fleetJson = JSON.stringify([models, shown]);
      if (fleetJson !== this.last.fleetJson) {
        this.last.fleetJson = fleetJson;
        this.last.fleet = { type: "fleet", data: { at: new Date(now).toISOString(), models, nodes: shown } };
        this.emit(this.last.fleet);
      }
      this.options.traffic.observe(nodes, now);
      const series: Record<string, ModelSeries> = {};
      for (const { model } of models) series[model] = this.options.traffic.series(model, now);
      const trafficJson = JSON.stringify(series);
      if (trafficJson !== this.last.trafficJson) {
        this.last.trafficJson = trafficJson;
        this.last.traffic = { type: "traffic", data: { models: series } };
        this.emit(this.last.traffic);
      }
    } catch (error) {
      if (this.last.unavailable === undefined) {
        // The next successful poll sends `fleet` again, whether or not it changed.
        this.last.fleetJson = undefined;
        const code = error instanceof CutoverError ? error.code : "INTERNAL";
        this.last.unavailable = { type: "unavailable", data: { code, message: errorMessage(error) } };
        this.emit(this.last.unavailable);
      }
    } finally {
      this.polling = false;
      this.schedule(this.listeners.size > 0 ? this.intervalMs : this.idleIntervalMs);
    }
  }

  /**
   * The store's model names as last listed; a listing older than `storedEveryMs` is refreshed in the
   * background (one at a time). Only the first poll waits for one, 2 s at most; a store that fails or
   * hangs leaves the last names (none at first): models with state show whatever the store does.
   */
  private async storedNames(): Promise<string[]> {
    const now = this.now();
    if (this.listing === undefined && now - this.storedAt >= this.storedEveryMs) {
      this.storedAt = now;
      this.listing = this.options
        .listStored()
        .then(
          (names) => {
            this.stored = names;
          },
          () => undefined,
        )
        .finally(() => {
          this.listing = undefined;
        });
    }
    if (!this.waitedForListing && this.listing !== undefined) {
      this.waitedForListing = true;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        this.listing,
        new Promise<void>((resolve) => (timer = setTimeout(resolve, FIRST_LISTING_MS))),
      ]);
      clearTimeout(timer);
    }
    return this.stored ?? [];
  }

  private emit(event: FeedEvent): void {
    for (const listener of this.listeners.keys()) listener(event);
  }
}
