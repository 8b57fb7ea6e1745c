/**
 * What runs a loaded version: its worker pool, or (for a model whose run costs less than a round
 * trip to a worker) its onnxruntime session on the main thread. Both have the surface of an
 * InferenceSession that the rest of the node uses: `run` and `release`.
 */
import type * as ort from "onnxruntime-node";
import type { ExecutionObserver, Feeds, Results } from "./execution-types.js";
import type { WorkerPool } from "./worker-pool.js";

export type ExecutionMode = "inline" | "workers";

export interface VersionExecutor {
  readonly mode: ExecutionMode;
  /** Sessions that run requests at once: the worker count, 1 inline. */
  readonly instances: number;
  run(feeds: Feeds, outputs?: readonly string[]): Promise<Results>;
  /** Ends every session; the caller has waited for the version's last lease. */
  release(): Promise<void>;
}

/** Runs on the main thread: onnxruntime's `run` blocks the event loop for the model's compute time. */
export class InlineExecutor implements VersionExecutor {
  readonly mode = "inline";
  readonly instances = 1;

  constructor(
    private readonly session: ort.InferenceSession,
    private readonly observer: ExecutionObserver = {},
  ) {}

  async run(feeds: Feeds, outputs?: readonly string[]): Promise<Results> {
    const started = performance.now();
    const results = await (outputs === undefined ? this.session.run(feeds) : this.session.run(feeds, [...outputs]));
    // One observation: on the main thread a request never queues and a run carries one request.
    this.observer.inline?.((performance.now() - started) / 1000);
    return results;
  }

  async release(): Promise<void> {
    await this.session.release();
    this.observer.released?.();
  }
}

/** The worker pool as an executor. */
export class PooledExecutor implements VersionExecutor {
  readonly mode = "workers";

  constructor(readonly pool: WorkerPool) {}

  get instances(): number {
    return this.pool.size;
  }

  run(feeds: Feeds, outputs?: readonly string[]): Promise<Results> {
    return this.pool.run(feeds, outputs);
  }

  release(): Promise<void> {
    return this.pool.release();
  }
}
