/**
 * Collects what nodes report about one rollout (staged, failed, promoted) from the report channel,
 * and lets the coordinator wait until a condition over those reports holds, or a deadline passes.
 */
import type { Bus, Unsubscribe } from "../core/bus.js";
import {
  type FailedMessage,
  type PromotedMessage,
  parseReport,
  type StagedMessage,
  type WeightedMessage,
} from "../core/messages.js";
import type { NodeRecord } from "../core/model-state.js";

export type NodeReport = StagedMessage | FailedMessage;

export class RolloutReports {
  readonly prepared = new Map<string, NodeReport>();
  readonly promoted = new Map<string, PromotedMessage>();
  /** A progressive rollout's split confirmations: each node's latest (highest seq). */
  readonly weighted = new Map<string, WeightedMessage>();
  /** Reports that did not parse; kept for the record, never acted on. */
  malformed = 0;
  private listeners = new Set<() => void>();
  private unsubscribe: Unsubscribe | undefined;

  private constructor(private readonly rolloutId: string) {}

  /** Subscribes before anything is published, so no report can be missed. */
  static async open(bus: Bus, channel: string, rolloutId: string): Promise<RolloutReports> {
    const reports = new RolloutReports(rolloutId);
    reports.unsubscribe = await bus.subscribe(channel, (payload) => reports.record(payload));
    return reports;
  }

  private record(payload: string): void {
    let report: ReturnType<typeof parseReport>;
    try {
      report = parseReport(payload);
    } catch {
      this.malformed++;
      return;
    }
    if (report.rolloutId !== this.rolloutId) return;
    if (report.type === "promoted") this.promoted.set(report.nodeId, report);
    else if (report.type === "weighted") {
      const seen = this.weighted.get(report.nodeId);
      if (seen === undefined || seen.seq <= report.seq) this.weighted.set(report.nodeId, report);
    } else if (!this.prepared.has(report.nodeId) || report.type === "failed") this.prepared.set(report.nodeId, report);
    for (const listener of this.listeners) listener();
  }

  /**
   * Resolves true as soon as `done()` holds (checked on every report and every `recheckMs`), false
   * at the deadline. `onTick` runs on each recheck (lock renewal, live-node refresh).
   */
  waitFor(done: () => boolean, timeoutMs: number, recheckMs: number, onTick?: () => Promise<void>): Promise<boolean> {
    if (done()) return Promise.resolve(true);
    return new Promise((resolve, reject) => {
      let settled = false;
      const finish = (value: boolean, error?: unknown) => {
        if (settled) return;
        settled = true;
        clearTimeout(deadline);
        clearInterval(ticker);
        this.listeners.delete(check);
        if (error === undefined) resolve(value);
        else reject(error);
      };
      const check = () => {
        if (done()) finish(true);
      };
      const deadline = setTimeout(() => finish(done()), timeoutMs);
      const ticker = setInterval(() => {
        void (onTick?.() ?? Promise.resolve()).then(check, (error: unknown) => finish(false, error));
      }, recheckMs);
      this.listeners.add(check);
    });
  }

  /**
   * Reads what nodes' heartbeat records say about this rollout — staged for it, or already serving the
   * target at the promoted revision — for the nodes whose message did not arrive (pub/sub is only a
   * wake-up signal: a report lost in a Redis reconnect must not fail the rollout).
   */
  absorbHeartbeats(records: readonly NodeRecord[], model: string, target: string, promotedRevision?: number): void {
    let changed = false;
    for (const record of records) {
      const status = record.models[model];
      if (status === undefined) continue;
      const { nodeId } = record;
      // Staged for this rollout, or already splitting its requests (a progressive rollout's later step).
      const staged =
        (status.staged?.rolloutId === this.rolloutId && status.staged.state === "staged") ||
        status.split?.rolloutId === this.rolloutId;
      if (!this.prepared.has(nodeId) && staged) {
        this.prepared.set(nodeId, {
          type: "staged",
          nodeId,
          model,
          version: target,
          rolloutId: this.rolloutId,
          loadMs: 0,
          warmupMs: 0,
          ...(status.staged?.warmup !== undefined ? { warmup: status.staged.warmup } : {}),
          ...(status.staged?.replay !== undefined ? { replay: status.staged.replay } : {}),
          ...(status.staged?.warning !== undefined ? { warning: status.staged.warning } : {}),
        });
        changed = true;
      }
      if (
        promotedRevision !== undefined &&
        !this.promoted.has(nodeId) &&
        status.active === target &&
        status.revision >= promotedRevision
      ) {
        this.promoted.set(nodeId, {
          type: "promoted",
          nodeId,
          model,
          version: target,
          revision: status.revision,
          rolloutId: this.rolloutId,
          at: Date.parse(record.updatedAt),
        });
        changed = true;
      }
    }
    if (changed) for (const listener of this.listeners) listener();
  }

  async close(): Promise<void> {
    await this.unsubscribe?.();
    this.listeners.clear();
  }
}
