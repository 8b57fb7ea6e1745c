/** The controller's Prometheus metrics, on a registry of its own (several apps can live in one process). */
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { HistoryEntry } from "../core/model-state.js";

export class ControllerMetrics {
  readonly registry = new Registry();
  private readonly rollouts = new Counter({
    name: "cutover_rollouts_total",
    help: "Rollouts finished, by model, action and outcome",
    labelNames: ["model", "action", "outcome"] as const,
    registers: [this.registry],
  });
  private readonly duration = new Histogram({
    name: "cutover_rollout_duration_seconds",
    help: "From the activate call to the history entry",
    labelNames: ["model", "outcome"] as const,
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
    registers: [this.registry],
  });
  private readonly spread = new Histogram({
    name: "cutover_switch_spread_seconds",
    help: "First to last node serving the new version after a promotion, from the nodes' reports",
    labelNames: ["model"] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [this.registry],
  });
  private readonly revision = new Gauge({
    name: "cutover_active_revision",
    help: "The revision of each model's active pointer, as last seen by this controller",
    labelNames: ["model"] as const,
    registers: [this.registry],
  });

  private readonly weight = new Gauge({
    name: "cutover_rollout_weight",
    help: "Percent of each model's requests a progressive rollout sends to each version (candidate and baseline)",
    labelNames: ["model", "version"] as const,
    registers: [this.registry],
  });
  private readonly analyses = new Counter({
    name: "cutover_analysis_total",
    help: "Canary analyses run by this controller, by model and verdict (pass, fail, inconclusive)",
    labelNames: ["model", "verdict"] as const,
    registers: [this.registry],
  });

  /** A progressive rollout's split: candidate at `weight` %, baseline at the rest; 0 or 100 end it. */
  observeWeight(model: string, baseline: string, candidate: string, weight: number): void {
    if (weight <= 0 || weight >= 100) {
      this.weight.remove({ model, version: baseline });
      this.weight.remove({ model, version: candidate });
      return;
    }
    this.weight.set({ model, version: candidate }, weight);
    this.weight.set({ model, version: baseline }, 100 - weight);
  }

  observeAnalysis(model: string, verdict: string): void {
    this.analyses.inc({ model, verdict });
  }

  private readonly webhooks = new Counter({
    name: "cutover_webhook_deliveries_total",
    help: "Webhook deliveries (rollout hooks and history notifications), by event and outcome: delivered, or why not (rejected, timeout, unreachable, cancelled, invalid, dropped)",
    labelNames: ["event", "outcome"] as const,
    registers: [this.registry],
  });

  recordRollout(model: string, entry: HistoryEntry, durationMs: number): void {
    this.rollouts.inc({ model, action: entry.action, outcome: entry.outcome });
    this.duration.observe({ model, outcome: entry.outcome }, durationMs / 1000);
    if (entry.switchSpreadMs !== undefined) this.spread.observe({ model }, entry.switchSpreadMs / 1000);
    this.revision.set({ model }, entry.revision);
  }

  observeRevision(model: string, revision: number): void {
    this.revision.set({ model }, revision);
  }

  /** One delivery (all its attempts): `delivered`, or its failure. */
  recordWebhook(event: string, outcome: string): void {
    this.webhooks.inc({ event, outcome });
  }
}
