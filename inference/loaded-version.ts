/**
 * One model version loaded into onnxruntime: what runs it (worker threads, each with its own
 * session, or one session on the main thread), its model card and the counts that decide when it
 * may be released. Loading checks that the ONNX file's inputs and outputs are the ones its
 * cutover.json declares; warming up (warm-up.ts) runs the golden vectors, or synthetic inputs as a
 * best effort, on every instance, through the path requests take.
 *
 * With `instances: "auto"` the warm-up decides the path: a version whose fastest warm run (timed in
 * the first worker, after the warm-up) takes under INLINE_BELOW_MS runs on the main thread, where a
 * round trip to a worker would cost more than the run; any other runs in workers (docs/NODE.md,
 * Instances). The fastest, not the median: other work on a busy machine only ever adds time to a
 * run, and a median taken under it put one copy of a 0.05 ms model on workers and another inline
 * (the analysis-accuracy bench saw a same-bytes canary 2× slower in the median that way).
 *
 * Instances and batching are the version's card's `execution` where it sets them, else the node's
 * ({@link versionPlan}).
 *
 * A version that runs in workers has its sessions opened there, provider fallback and the signature
 * check included: creating a session blocks the thread that does it (onnxruntime-node creates it
 * synchronously: 2 s for the 1 MB pacer on a busy 2-core box), and the node's main thread answers
 * requests. Only a version asked to run on the main thread (instances 0), or one "auto" found fast
 * enough to run there (a small model), opens a session on it.
 */
import { readFile } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import type * as ort from "onnxruntime-node";
import { MODEL_CARD_FILE, MODEL_FILE } from "../core/artifact-layout.js";
import { ErrorCode, errorMessage, StagingError } from "../core/errors.js";
import { assertCardIdentity, type ModelCard, parseModelCard } from "../core/model-card.js";
import { signatureOfSession } from "../core/onnx-signature.js";
import { schemaIncompatibilities } from "../core/schema-compatibility.js";
import { isBatchable } from "./execution/batching.js";
import type { ExecutionObserver } from "./execution/execution-types.js";
import { InlineExecutor, PooledExecutor, type VersionExecutor } from "./execution/version-executor.js";
import { WorkerPool } from "./execution/worker-pool.js";
import { type ExecutionPlan, type SessionOpener, versionPlan } from "./session-opener.js";
import { copyFeeds } from "./tensor-copies.js";
import { type WarmupOptions, type WarmupResult, warmUpSession } from "./warm-up.js";

/** Under "auto", a version whose median warm run is faster than this runs on the main thread. */
export const INLINE_BELOW_MS = 1;
/** Runs timed, warm, after the warm-up, for a version whose fastest warm-up run was under TIMED_IF_UNDER_MS. */
const TIMING_RUNS = 5;
const TIMED_IF_UNDER_MS = 20;

/** Worker instances for "auto": the cores divided by the threads each session uses (at least 1). */
export function autoInstances(intraOpThreads: number | undefined, cores = availableParallelism()): number {
  return Math.max(1, Math.floor(cores / (intraOpThreads ?? cores)));
}

/** A version's effective instances and batching settings. */
export type VersionSettings = Pick<ExecutionPlan, "instances" | "maxBatch" | "batchDelayUs">;

/** Replayed requests a worker instance after the first warms up on (the first ran them all as the gate). */
const WARM_REPLAYS = 3;

export class LoadedVersion {
  /** Requests running on this session. */
  leases = 0;
  /** No longer active, staged or kept warm: released when the last lease ends. */
  retired = false;
  released = false;
  warmupMs = 0;
  /** How the warm-up went; undefined until it ran. */
  warmup: WarmupResult | undefined;

  private constructor(
    readonly model: string,
    readonly version: string,
    readonly dir: string,
    readonly card: ModelCard,
    /** The settings it was loaded with: its card's, else the node's. */
    readonly settings: VersionSettings,
    private executor: VersionExecutor,
    /** The execution provider the session runs on (the first configured one that took the model). */
    readonly provider: string,
    readonly loadMs: number,
    private readonly observer: ExecutionObserver,
    /**
     * Under "auto": opens the main-thread session, once the warm-up on a worker found the model fast
     * enough to run there (such a model is small: its session opens in a few ms).
     */
    private openInline: (() => Promise<ort.InferenceSession>) | undefined,
    /** Under "auto": workers started only once the warm-up chose workers (one runs the warm-up first). */
    private deferredInstances: number,
  ) {}

  /** What runs requests: `run` and `release`, like an onnxruntime session (worker pool or inline). */
  get session(): VersionExecutor {
    return this.executor;
  }

  /**
   * Creates the session from a verified version folder, on the first execution provider that takes
   * it. Fails with LOAD_FAILED (naming every provider and why) or INCOMPATIBLE_SCHEMA.
   */
  static async load(model: string, version: string, dir: string, sessions: SessionOpener): Promise<LoadedVersion> {
    const started = performance.now();
    let card: ModelCard;
    try {
      card = parseModelCard(await readFile(join(dir, MODEL_CARD_FILE)));
    } catch (error) {
      throw new StagingError(ErrorCode.LoadFailed, `${model}/${version}: ${errorMessage(error)}`, { cause: error });
    }
    assertCardIdentity(card, model, version);
    const plan = versionPlan(sessions.execution, card.execution);
    const label = `${model}/${version}`;
    const modelPath = join(dir, MODEL_FILE);
    const observer = plan.observe(model, version);
    const loaded = (
      executor: VersionExecutor,
      provider: string,
      openInline: (() => Promise<ort.InferenceSession>) | undefined,
      deferred: number,
    ) =>
      new LoadedVersion(
        model,
        version,
        dir,
        card,
        { instances: plan.instances, maxBatch: plan.maxBatch, batchDelayUs: plan.batchDelayUs },
        executor,
        provider,
        Math.round(performance.now() - started),
        observer,
        openInline,
        deferred,
      );
    if (plan.instances === 0) {
      // The operator asked for the main thread: the session opens here, and blocks it while it does.
      const { session, provider } = await sessions.open(label, modelPath);
      const lies = signatureLies(card, signatureOfSession(session));
      if (lies !== null) {
        await session.release();
        throw new StagingError(ErrorCode.IncompatibleSchema, `${label}: ${lies}`);
      }
      return loaded(new InlineExecutor(session, observer), provider, undefined, 0);
    }
    const auto = plan.instances === "auto";
    const instances = auto ? autoInstances(plan.intraOpThreads) : plan.instances;
    // Workers open the sessions, provider fallback included: no session is created on this thread.
    const { chains, unavailable } = await sessions.chains(label);
    let pool: WorkerPool;
    try {
      pool = await WorkerPool.start({
        label,
        setup: {
          modelPath,
          executionProviders: chains[0] ?? [],
          ...(chains.length > 1 ? { fallbacks: chains.slice(1) } : {}),
          intraOpThreads: plan.intraOpThreads ?? Math.max(1, Math.floor(availableParallelism() / instances)),
          nice: plan.workerNice,
        },
        instances: auto ? 1 : instances,
        batchable: isBatchable(card.inputs, card.outputs),
        maxBatch: plan.maxBatch,
        batchDelayUs: plan.batchDelayUs,
        observer,
      });
    } catch (error) {
      throw new StagingError(
        ErrorCode.LoadFailed,
        `${label}: no execution provider can load model.onnx: ${[...unavailable, errorMessage(error)].join("; ")}`,
        { cause: error },
      );
    }
    const { executionProviders, skipped, signature } = pool.opened;
    const provider = executionProviders[0] ?? "";
    sessions.opened(label, provider, unavailable, skipped);
    const lies = signatureLies(card, signature);
    if (lies !== null) {
      await pool.release();
      throw new StagingError(ErrorCode.IncompatibleSchema, `${label}: ${lies}`);
    }
    const openInline = auto ? () => sessions.openOn(modelPath, provider) : undefined;
    return loaded(new PooledExecutor(pool), provider, openInline, auto ? instances - 1 : 0);
  }

  /**
   * Runs the golden vectors (a failure refuses the version: GOLDEN_MISMATCH or WARMUP_FAILED), or
   * synthetic inputs as a best effort: a model that rejects every guess is staged cold, with a warning.
   */
  async warmUp(options: WarmupOptions = {}): Promise<WarmupResult> {
    const started = performance.now();
    const label = `${this.model}/${this.version}`;
    const executor = this.executor;
    try {
      if (!(executor instanceof PooledExecutor)) {
        this.warmup = await warmUpSession(label, this.card, (feeds) => executor.run(feeds), options);
      } else {
        const timings: number[] = [];
        let lastFeeds: Record<string, ort.Tensor> | undefined;
        const onInstance = (index: number) => async (feeds: Record<string, ort.Tensor>) => {
          const { results, computeMs } = await executor.pool.runOn(index, copyFeeds(feeds));
          if (index === 0) {
            timings.push(computeMs);
            lastFeeds = feeds;
          }
          return results;
        };
        this.warmup = await warmUpSession(label, this.card, onInstance(0), options);
        const openInline = this.openInline;
        this.openInline = undefined;
        // A session's first runs pay one-time setup: a model that may be fast is timed again, warm.
        if (openInline !== undefined && lastFeeds !== undefined && Math.min(...timings) < TIMED_IF_UNDER_MS) {
          timings.length = 0;
          for (let run = 0; run < TIMING_RUNS; run++) await onInstance(0)(lastFeeds);
        }
        const inline =
          openInline !== undefined && this.warmup.mode !== "cold" && Math.min(...timings) < INLINE_BELOW_MS
            ? await openInline().catch(() => undefined)
            : undefined;
        if (inline !== undefined) {
          try {
            this.warmup = await warmUpSession(label, this.card, (feeds) => inline.run(feeds), options);
          } catch (error) {
            await inline.release();
            throw error;
          }
          this.executor = new InlineExecutor(inline, this.observer);
          await executor.release();
        } else {
          await this.startDeferredInstances(executor);
          // The replayed requests gated the version on instance 0; the others warm up on a few of them.
          const warming = { ...options, ...(options.replay ? { replay: options.replay.slice(0, WARM_REPLAYS) } : {}) };
          const others = Array.from({ length: executor.instances - 1 }, (_, i) =>
            warmUpSession(label, this.card, onInstance(i + 1), warming),
          );
          await Promise.all(others);
          executor.pool.warmReplacementsWith((index) => warmUpSession(label, this.card, onInstance(index), warming));
        }
      }
    } finally {
      this.openInline = undefined;
    }
    this.warmupMs = Math.round(performance.now() - started);
    this.observer.placed?.(this.executor.mode, this.executor.instances);
    return this.warmup;
  }

  private async startDeferredInstances(executor: PooledExecutor): Promise<void> {
    const count = this.deferredInstances;
    this.deferredInstances = 0;
    try {
      await executor.pool.addInstances(count);
    } catch (error) {
      throw new StagingError(
        ErrorCode.LoadFailed,
        `${this.model}/${this.version}: a worker cannot load model.onnx: ${errorMessage(error)}`,
        { cause: error },
      );
    }
  }

  /** Where requests run: "inline" (main thread) or "workers", and how many run at once. */
  get execution(): { mode: "inline" | "workers"; instances: number } {
    return { mode: this.executor.mode, instances: this.executor.instances };
  }
}

/** How a model file's inputs and outputs differ from its cutover.json's, in words; null when they match. */
function signatureLies(card: ModelCard, actual: Pick<ModelCard, "inputs" | "outputs">): string | null {
  const lies = [...schemaIncompatibilities(card, actual), ...schemaIncompatibilities(actual, card)];
  return lies.length === 0 ? null : `model.onnx does not match its cutover.json: ${lies.join("; ")}`;
}
