/**
 * The node's Prometheus metrics, on a registry of its own: cutover's, and the Node.js process's own
 * (prom-client's default metrics: event-loop lag, CPU, memory, GC, handles).
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { ExecutionObserver } from "./execution/execution-types.js";

const EXECUTION_MODES = ["inline", "workers"] as const;

export class NodeMetrics {
  readonly registry = new Registry();
  readonly requests = new Counter({
    name: "cutover_infer_requests_total",
    help: "Inference requests by model, version (empty when none was chosen), outcome (ok, client_error, server_error, not_serving) and HTTP status code",
    labelNames: ["model", "version", "outcome", "code"] as const,
    registers: [this.registry],
  });
  readonly latency = new Histogram({
    name: "cutover_infer_duration_seconds",
    help: "Inference request duration, parse to response, by the version that served it (every answer it gave, 4xx and 5xx included)",
    labelNames: ["model", "version"] as const,
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [this.registry],
  });
  readonly activeVersion = new Gauge({
    name: "cutover_active_version_info",
    help: "1 for the version each model serves",
    labelNames: ["model", "version"] as const,
    registers: [this.registry],
  });
  readonly swaps = new Counter({
    name: "cutover_swaps_total",
    help: "Active-version swaps, by whether the version had to be loaded first",
    labelNames: ["model", "kind"] as const,
    registers: [this.registry],
  });
  readonly staging = new Histogram({
    name: "cutover_staging_duration_seconds",
    help: "Fetch + verify + load + warm-up of a version, by outcome",
    labelNames: ["model", "outcome"] as const,
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
    registers: [this.registry],
  });
  readonly fetchedBytes = new Counter({
    name: "cutover_fetched_bytes_total",
    help: "Bytes downloaded from the object store",
    registers: [this.registry],
  });
  readonly verificationFailures = new Counter({
    name: "cutover_verification_failures_total",
    help: "Versions refused because the artifact or its signature did not verify, by reason code",
    labelNames: ["reason"] as const,
    registers: [this.registry],
  });
  readonly stagingFailures = new Counter({
    name: "cutover_staging_failures_total",
    help: "Versions that failed to stage for any reason (store, verification, load, warm-up), by code",
    labelNames: ["code"] as const,
    registers: [this.registry],
  });
  readonly residentSessions = new Gauge({
    name: "cutover_resident_sessions",
    help: "onnxruntime sessions loaded (active, warm, staged, or draining)",
    registers: [this.registry],
  });
  readonly executionProvider = new Gauge({
    name: "cutover_execution_provider_info",
    help: "1 for the execution provider each resident version's session runs on (after any fallback)",
    labelNames: ["model", "version", "provider"] as const,
    registers: [this.registry],
  });

  // --- Progressive rollouts (split-router.ts, shadow-runner.ts) ------------------------------------

  readonly splitWeight = new Gauge({
    name: "cutover_split_weight",
    help: "Percent of a model's unpinned requests each version answers while a progressive rollout's split is in force",
    labelNames: ["model", "version"] as const,
    registers: [this.registry],
  });
  readonly shadowRequests = new Counter({
    name: "cutover_shadow_requests_total",
    help: "Baseline answers mirrored to the candidate (shadow runs), by candidate version",
    labelNames: ["model", "version"] as const,
    registers: [this.registry],
  });
  readonly shadowDivergences = new Counter({
    name: "cutover_shadow_divergences_total",
    help: "Shadow runs whose outputs were not the baseline's within the candidate's golden tolerance (or that failed)",
    labelNames: ["model", "version"] as const,
    registers: [this.registry],
  });
  readonly shadowSkipped = new Counter({
    name: "cutover_shadow_skipped_total",
    help: "Shadow runs not made because the model had its bound of shadow runs in flight",
    labelNames: ["model"] as const,
    registers: [this.registry],
  });

  readonly refusedConnections = new Counter({
    name: "cutover_http_refused_connections_total",
    help: "Connections closed on arrival because the node had CUTOVER_NODE_MAX_CONNECTIONS open",
    registers: [this.registry],
  });

  // Process metrics: the event loop serves every request and swap, so its lag is the first thing to
  // read when latency grows (nodejs_eventloop_lag_seconds, _p50/_p90/_p99/_max_seconds, sampled every
  // 10 ms); with CPU, resident memory, heap and GC pauses (process_*, nodejs_*).
  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  /** Label children per label set, bound once: every infer request counts and times itself. */
  private readonly requestChildren = new Map<string, { inc(): void }>();
  private readonly latencyChildren = new Map<string, { observe(value: number): void }>();

  /**
   * One finished infer request: its outcome and HTTP status, and its duration in seconds where a
   * version served it.
   */
  inferred(model: string, version: string, outcome: string, status: number, seconds?: number): void {
    const key = `${model}\u0000${version}\u0000${outcome}\u0000${status}`;
    let counter = this.requestChildren.get(key);
    if (counter === undefined) {
      counter = this.requests.labels({ model, version, outcome, code: String(status) });
      this.requestChildren.set(key, counter);
    }
    counter.inc();
    if (seconds === undefined) return;
    let histogram = this.latencyChildren.get(key);
    if (histogram === undefined) {
      histogram = this.latency.labels({ model, version });
      this.latencyChildren.set(key, histogram);
    }
    histogram.observe(seconds);
  }

  // --- Execution per version (worker pools, dynamic batching) -------------------------------------

  readonly versionLatency = new Histogram({
    name: "cutover_version_run_duration_seconds",
    help: "Time from handing a request to a version's instances to its result (queue + run), by version",
    labelNames: ["model", "version"] as const,
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  readonly queueTime = new Histogram({
    name: "cutover_version_queue_duration_seconds",
    help: "Time a request waited for a free instance of its version",
    labelNames: ["model", "version"] as const,
    buckets: [0, 0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1],
    registers: [this.registry],
  });
  readonly batchSize = new Histogram({
    name: "cutover_version_batch_requests",
    help: "Requests carried by one run (dynamic batching stacks queued requests)",
    labelNames: ["model", "version"] as const,
    buckets: [1, 2, 4, 8, 16, 32, 64],
    registers: [this.registry],
  });
  readonly instanceBusy = new Counter({
    name: "cutover_version_busy_seconds_total",
    help: "Seconds the version's instances spent running; utilisation = rate / cutover_version_instances",
    labelNames: ["model", "version"] as const,
    registers: [this.registry],
  });
  readonly instances = new Gauge({
    name: "cutover_version_instances",
    help: "Instances (worker threads, or 1 on the main thread) running each resident version, by mode",
    labelNames: ["model", "version", "mode"] as const,
    registers: [this.registry],
  });
  readonly workerRestarts = new Counter({
    name: "cutover_version_worker_restarts_total",
    help: "Worker threads that died and were replaced",
    labelNames: ["model", "version"] as const,
    registers: [this.registry],
  });

  /** The observer a version's executor reports to, with its label children bound once. */
  executionObserver(model: string, version: string): ExecutionObserver {
    const labels = { model, version };
    const latency = this.versionLatency.labels(labels);
    const queue = this.queueTime.labels(labels);
    const batch = this.batchSize.labels(labels);
    const busy = this.instanceBusy.labels(labels);
    return {
      request: (queueSeconds, totalSeconds) => {
        queue.observe(queueSeconds);
        latency.observe(totalSeconds);
      },
      run: (requests, computeSeconds) => {
        batch.observe(requests);
        busy.inc(computeSeconds);
      },
      inline: (seconds) => {
        latency.observe(seconds);
        busy.inc(seconds);
      },
      restart: () => this.workerRestarts.labels(labels).inc(),
      placed: (mode, count) => {
        for (const other of EXECUTION_MODES) this.instances.remove({ ...labels, mode: other });
        this.instances.set({ ...labels, mode }, count);
      },
      released: () => {
        for (const mode of EXECUTION_MODES) this.instances.remove({ ...labels, mode });
      },
    };
  }
}
