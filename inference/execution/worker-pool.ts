/**
 * A version's instances: session worker threads, each with its own onnxruntime session, and the
 * queue in front of them (Triton's instance group and dynamic batcher, in one process).
 *
 * A request that finds an idle instance runs at once. Requests that arrive while every instance is
 * busy wait in one queue; when an instance frees, the oldest waiting request runs, stacked (for a
 * batchable model) with later ones of the same batch key up to `maxBatch` rows. With `batchDelayUs`
 * above 0, a batch that is not full waits until its oldest request has queued that long.
 *
 * A worker that dies fails only the requests it was running; a new worker takes its place.
 */
import type { Worker } from "node:worker_threads";
import { errorMessage } from "../../core/errors.js";
import { batchKey, pickBatch, splitOutputs, stackFeeds } from "./batching.js";
import { type Feeds, type Pending, type Results, WorkerLostError, type WorkerPoolOptions } from "./execution-types.js";
import { spawnSessionWorker } from "./spawn-worker.js";
import { tensorsFromWire, tensorsToWire } from "./wire-tensor.js";
import { type FromWorker, fromWorkerSchema, type ToWorker, type WorkerSetup } from "./worker-protocol.js";

interface Instance {
  worker: Worker;
  ready: Promise<void>;
  /** Its session is open (warm-up runs may be sent). */
  open: boolean;
  /** It takes requests: open, and warmed up when it replaced a dead worker. */
  serving: boolean;
  running: { id: number; requests: Pending[]; startedAt: number } | null;
  dead: boolean;
  /** Its kernel thread id and nice value once open (thread-priority.ts), or why it kept the default. */
  priority?: OpenedPriority;
}

type OpenedPriority = Extract<FromWorker, { kind: "opened" }>["priority"];

/** What the first instance found opening its session: the provider chain, what it skipped, the signature. */
export type OpenedSession = Pick<
  Extract<FromWorker, { kind: "opened" }>,
  "executionProviders" | "skipped" | "signature"
>;

type RunAnswer = Extract<FromWorker, { kind: "ran" | "run-failed" }>;

export class WorkerPool {
  private readonly instances: Instance[] = [];
  private readonly queue: Pending[] = [];
  private nextRunId = 0;
  private released = false;
  private delayTimer: NodeJS.Timeout | undefined;
  private drained: (() => void) | undefined;
  private warmReplacement: ((index: number) => Promise<unknown>) | undefined;
  /** What instances are started with: the options' setup, then the chain the first instance opened on. */
  private setup: WorkerSetup;
  private openedAs: OpenedSession | undefined;

  private constructor(private readonly options: WorkerPoolOptions) {
    this.setup = options.setup;
  }

  /**
   * Starts every instance and waits until each has opened its session; LOAD errors are thrown. With
   * fallback chains, the first instance finds the chain that takes the model before the others start.
   */
  static async start(options: WorkerPoolOptions): Promise<WorkerPool> {
    const pool = new WorkerPool(options);
    try {
      const first = (options.setup.fallbacks ?? []).length > 0 ? 1 : options.instances;
      for (let index = 0; index < first; index++) pool.instances.push(pool.spawn(index));
      await Promise.all(pool.instances.map((instance) => instance.ready));
      await pool.addInstances(options.instances - first);
    } catch (error) {
      await pool.release();
      throw error;
    }
    return pool;
  }

  /** The chain the sessions run on, what was skipped before it, and the model's signature. */
  get opened(): OpenedSession {
    if (this.openedAs === undefined) throw new Error(`${this.options.label}: no session opened yet`);
    return this.openedAs;
  }

  /** Starts `count` more instances and waits until each has opened its session. */
  async addInstances(count: number): Promise<void> {
    const added: Instance[] = [];
    for (let i = 0; i < count; i++) {
      const instance = this.spawn(this.instances.length);
      this.instances.push(instance);
      added.push(instance);
    }
    await Promise.all(added.map((instance) => instance.ready));
  }

  get size(): number {
    return this.instances.length;
  }

  /** Instances running something now. */
  busyInstances(): number {
    return this.instances.filter((instance) => instance.running !== null).length;
  }

  /** Instances that take requests (open, warmed up, worker alive). */
  servingInstances(): number {
    return this.instances.filter((instance) => instance.serving && !instance.dead).length;
  }

  /** Each live instance's kernel thread id and nice value, or why its priority was left alone. */
  threadPriorities(): OpenedPriority[] {
    return this.instances.flatMap((instance) => (instance.dead || !instance.priority ? [] : [instance.priority]));
  }

  /** How a worker that replaces a dead one is warmed up before it takes requests (by its index). */
  warmReplacementsWith(warmUp: (index: number) => Promise<unknown>): void {
    this.warmReplacement = warmUp;
  }

  /** Runs one request: at once on an idle instance, else queued (and maybe batched). */
  run(feeds: Feeds, outputs?: readonly string[]): Promise<Results> {
    if (this.released) return Promise.reject(new WorkerLostError(`${this.options.label} was released`));
    const wanted = outputs === undefined ? undefined : [...outputs];
    return new Promise<Results>((resolve, reject) => {
      const request: Pending = {
        feeds,
        outputs: wanted,
        batch: this.options.batchable && this.options.maxBatch > 1 ? batchKey(feeds, wanted) : null,
        queuedAt: performance.now(),
        resolve,
        reject,
      };
      const idle = this.queue.length === 0 ? this.idleInstance() : undefined;
      if (idle !== undefined) this.send(idle, [request]);
      else {
        this.queue.push(request);
        this.dispatch();
      }
    });
  }

  /** Runs on one given instance (warm-up: every instance is warmed); returns the worker's compute time. */
  async runOn(index: number, feeds: Feeds): Promise<{ results: Results; computeMs: number }> {
    const instance = this.instances[index];
    if (instance === undefined) throw new RangeError(`${this.options.label}: no instance ${index}`);
    await instance.ready;
    if (instance.running !== null) throw new Error(`${this.options.label}: instance ${index} is busy`);
    let computeMs = 0;
    const results = await new Promise<Results>((resolve, reject) => {
      const request: Pending = { feeds, outputs: undefined, batch: null, queuedAt: performance.now(), resolve, reject };
      this.send(instance, [request], (ms) => {
        computeMs = ms;
      });
    });
    return { results, computeMs };
  }

  /**
   * Ends a worker as a crash would: the requests it is running fail (500) and a new worker takes its
   * place (tests, and an operator's way to recycle one). Not Worker.terminate(): terminating a thread
   * inside onnxruntime's run aborts the whole process (a C++ exception thrown into a dying isolate).
   */
  crashInstance(index: number, code = 70): void {
    this.instances[index]?.worker.postMessage({ kind: "exit", code } satisfies ToWorker);
  }

  /** Waits for queued and running work, then ends every worker (each releases its session first). */
  async release(): Promise<void> {
    if (this.queue.length > 0 || this.busyInstances() > 0) {
      await new Promise<void>((resolve) => {
        this.drained = resolve;
      });
    }
    this.released = true;
    clearTimeout(this.delayTimer);
    await Promise.all(
      this.instances.map(
        (instance) =>
          new Promise<void>((resolve) => {
            if (instance.dead) return resolve();
            instance.worker.once("exit", () => resolve());
            instance.worker.postMessage({ kind: "release" } satisfies ToWorker);
          }),
      ),
    );
    this.options.observer?.released?.();
  }

  private spawn(index: number, replacing = false): Instance {
    const worker = spawnSessionWorker(this.setup);
    let opened: (() => void) | undefined;
    let failed: ((error: Error) => void) | undefined;
    const instance: Instance = {
      worker,
      ready: new Promise<void>((resolve, reject) => {
        opened = resolve;
        failed = reject;
      }),
      open: false,
      serving: false,
      running: null,
      dead: false,
    };
    instance.ready.then(
      () => {
        instance.open = true;
        instance.serving ||= !replacing;
      },
      () => undefined,
    );
    worker.on("message", (raw: unknown) => {
      const message = fromWorkerSchema.parse(raw);
      if (message.kind === "opened") {
        instance.priority = message.priority;
        if (this.openedAs === undefined) {
          const { executionProviders, skipped, signature } = message;
          this.openedAs = { executionProviders, skipped, signature };
          // Later instances (and replacements) open on the chain that took the model, with no fallback.
          const { fallbacks: _tried, ...setup } = this.setup;
          this.setup = { ...setup, executionProviders };
        }
        if ("unchanged" in message.priority && index === 0 && !replacing && (this.setup.nice ?? 0) > 0)
          this.options.log?.(
            `${this.options.label}: workers keep the main thread's priority: ${message.priority.unchanged}`,
          );
        instance.open = true;
        instance.serving = !replacing;
        opened?.();
      } else if (message.kind === "open-failed") failed?.(new Error(message.message));
      else this.finished(instance, message);
    });
    worker.on("error", (error) => this.options.log?.(`${this.options.label}: worker ${index}: ${errorMessage(error)}`));
    worker.on("exit", (code) => {
      instance.dead = true;
      failed?.(new Error(`worker exited (code ${code}) before its session opened`));
      const lost = instance.running?.requests ?? [];
      instance.running = null;
      for (const request of lost)
        request.reject(new WorkerLostError(`${this.options.label}: its worker thread died during the run`));
      this.dispatch();
      // A worker that never opened its session is a load failure, not a crash: it is not replaced.
      if (this.released || !instance.open) return;
      this.options.log?.(`${this.options.label}: worker ${index} exited (code ${code}); starting another`);
      this.options.observer?.restart?.();
      const replacement = this.spawn(index, true);
      this.instances[index] = replacement;
      replacement.ready.then(
        async () => {
          await this.warmReplacement?.(index).catch((error: unknown) =>
            this.options.log?.(
              `${this.options.label}: warm-up of the new worker ${index} failed: ${errorMessage(error)}`,
            ),
          );
          replacement.serving = true;
          this.dispatch();
        },
        (error: unknown) => {
          this.options.log?.(`${this.options.label}: worker ${index}: ${errorMessage(error)}`);
          this.failQueueWithoutInstances();
        },
      );
    });
    if (this.instances.length > index) this.instances[index] = instance;
    return instance;
  }

  private readonly computeCallbacks = new Map<number, (ms: number) => void>();

  private send(instance: Instance, requests: Pending[], onCompute?: (ms: number) => void): void {
    const id = this.nextRunId++;
    const only = requests[0];
    const single = requests.length === 1 && only !== undefined;
    const feeds = single ? only.feeds : stackFeeds(requests.map((request) => request.feeds));
    const transfer: ArrayBuffer[] = [];
    const message: ToWorker = {
      kind: "run",
      id,
      feeds: tensorsToWire(feeds, transfer),
      ...(only?.outputs !== undefined ? { outputs: only.outputs } : {}),
    };
    instance.running = { id, requests, startedAt: performance.now() };
    if (onCompute !== undefined) this.computeCallbacks.set(id, onCompute);
    instance.worker.postMessage(message, transfer);
  }

  private finished(instance: Instance, message: RunAnswer): void {
    const running = instance.running;
    if (running === null || running.id !== message.id) return;
    instance.running = null;
    const now = performance.now();
    const onCompute = this.computeCallbacks.get(message.id);
    this.computeCallbacks.delete(message.id);
    if (message.kind === "run-failed") {
      if (running.requests.length > 1) this.requeueAlone(running.requests);
      else running.requests[0]?.reject(new Error(message.message));
    } else {
      // A warm-up run (pinned to an instance, with its own callback) is no request: not counted.
      if (onCompute !== undefined) onCompute(message.computeMs);
      else this.options.observer?.run?.(running.requests.length, message.computeMs / 1000);
      const outputs = tensorsFromWire(message.outputs);
      const split =
        running.requests.length === 1
          ? [outputs]
          : splitOutputs(
              outputs,
              running.requests.map((request) => request.batch?.rows ?? 0),
            );
      if (split === null) this.requeueAlone(running.requests);
      else {
        running.requests.forEach((request, index) => {
          if (onCompute === undefined)
            this.options.observer?.request?.(
              (running.startedAt - request.queuedAt) / 1000,
              (now - request.queuedAt) / 1000,
            );
          request.resolve(split[index] ?? {});
        });
      }
    }
    this.dispatch();
  }

  /** With no worker left that could run them, queued requests fail instead of waiting forever. */
  private failQueueWithoutInstances(): void {
    if (this.instances.some((instance) => !instance.dead)) return;
    for (const request of this.queue.splice(0))
      request.reject(new WorkerLostError(`${this.options.label}: no worker can open its session`));
    this.dispatch();
  }

  /** A batch that failed or whose outputs do not split: its requests run again one by one, first. */
  private requeueAlone(requests: readonly Pending[]): void {
    this.queue.unshift(...requests.map((request) => ({ ...request, batch: null })));
  }

  private idleInstance(): Instance | undefined {
    return this.instances.find((instance) => !instance.dead && instance.serving && instance.running === null);
  }

  private dispatch(): void {
    clearTimeout(this.delayTimer);
    this.delayTimer = undefined;
    for (const instance of this.instances) {
      if (this.queue.length === 0) break;
      if (instance.dead || instance.running !== null || !instance.serving) continue;
      const requests = this.nextBatch();
      if (requests === null) break;
      this.send(instance, requests);
    }
    if (this.drained !== undefined && this.queue.length === 0 && this.busyInstances() === 0) {
      const drained = this.drained;
      this.drained = undefined;
      drained();
    }
  }

  /** The oldest request and the queued ones that may share its run; null while a batch delay runs. */
  private nextBatch(): Pending[] | null {
    const head = this.queue[0];
    if (head === undefined) return null;
    if (head.batch === null) return [this.queue.shift() as Pending];
    const { maxBatch, batchDelayUs } = this.options;
    const { picked, rows } = pickBatch(this.queue, maxBatch);
    const waitMs = batchDelayUs / 1000 - (performance.now() - head.queuedAt);
    if (rows < maxBatch && waitMs > 0) {
      this.delayTimer = setTimeout(() => this.dispatch(), waitMs);
      return null;
    }
    const batch = picked.map((index) => this.queue[index] as Pending);
    for (const index of picked.reverse()) this.queue.splice(index, 1);
    return batch;
  }
}
