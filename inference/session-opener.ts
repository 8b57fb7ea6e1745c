/**
 * Creates onnxruntime sessions on the configured execution providers, falling back in order.
 *
 * onnxruntime-node does not fall back by itself: a session asked for ["cuda", "cpu"] throws when the
 * CUDA provider library is missing. So the opener tries the providers one after the other, each
 * attempt with that provider and the ones after it (so onnxruntime can still place nodes the first
 * cannot run on a later one, e.g. tensorrt → cuda), and reports the provider the session runs on.
 *
 * Two kinds of failure are told apart:
 * - a provider that cannot start in this process (it fails on a one-node probe model; see
 *   probe-model.ts) is found once, before the first load, logged once, and skipped for the rest of
 *   the process: a node does not retry a missing CUDA library on every version;
 * - a provider that starts but fails on one model (a bad or too large model) is only skipped for that
 *   load: the next version tries it again.
 */
import * as ort from "onnxruntime-node";
import { ConfigError, ErrorCode, errorMessage, StagingError } from "../core/errors.js";
import type { ExecutionSettings } from "../core/execution-settings.js";
import type { ExecutionObserver } from "./execution/execution-types.js";
import { probeModelBytes } from "./probe-model.js";

/** The onnxruntime call that makes a session, passed in so tests can stand in for a provider. */
export type CreateSession = (
  model: string | Uint8Array,
  options: ort.InferenceSession.SessionOptions,
) => Promise<ort.InferenceSession>;

/** How a node runs its models: parsed from its configuration. */
export interface RuntimeOptions {
  /** onnxruntime execution providers in order of preference, e.g. ["cuda", "cpu"]. */
  readonly executionProviders: readonly string[];
  readonly intraOpThreads?: number;
  /** Worker instances per version; 0 runs on the main thread; "auto" (default) see ExecutionPlan. */
  readonly instances?: number | "auto";
  /** Largest dynamic batch in rows; 0 or 1: off. */
  readonly maxBatch?: number;
  /** How long a queued batch that is not full waits for more requests, in µs. */
  readonly batchDelayUs?: number;
  /** Added to each worker thread's nice value (0–19; default DEFAULT_WORKER_NICE). */
  readonly workerNice?: number;
  /** Metrics of one version's execution. */
  readonly observe?: (model: string, version: string) => ExecutionObserver;
}

/** How versions run, checked once: see docs/NODE.md (Instances). */
export interface ExecutionPlan {
  readonly instances: number | "auto";
  readonly maxBatch: number;
  readonly batchDelayUs: number;
  readonly workerNice: number;
  readonly intraOpThreads: number | undefined;
  readonly observe: (model: string, version: string) => ExecutionObserver;
}

export const DEFAULT_MAX_BATCH = 8;
export const DEFAULT_WORKER_NICE = 10;

/**
 * The plan one version runs with: each setting its model card's `execution` gives, else the node's
 * (its environment, else the built-in default). The card wins because it knows the model: whether
 * its first dimension may be stacked, what a run costs, how much memory another instance takes; the
 * node's settings are the default for models whose card does not say.
 */
export function versionPlan(node: ExecutionPlan, card: ExecutionSettings | undefined): ExecutionPlan {
  return {
    ...node,
    instances: card?.instances ?? node.instances,
    maxBatch: card?.maxBatch ?? node.maxBatch,
    batchDelayUs: card?.batchDelayUs ?? node.batchDelayUs,
  };
}

export interface SessionOpenerOptions extends RuntimeOptions {
  readonly log?: (line: string) => void;
  /** Default: onnxruntime-node's `InferenceSession.create`. */
  readonly createSession?: CreateSession;
}

/** A session and the execution provider it runs on (the first of those it was created with). */
export interface OpenedSession {
  readonly session: ort.InferenceSession;
  readonly provider: string;
}

export class SessionOpener {
  /** The configured providers, in order of preference. */
  readonly preference: readonly string[];
  /** How versions run: instances, batching (a version's card may set its own: {@link versionPlan}). */
  readonly execution: ExecutionPlan;
  private readonly intraOpThreads: number | undefined;
  private readonly createSession: CreateSession;
  private readonly log: (line: string) => void;
  private readonly unavailableProviders = new Map<string, string>();
  private probed: Promise<readonly string[]> | undefined;

  constructor(options: SessionOpenerOptions) {
    const providers = options.executionProviders;
    if (providers.length === 0) throw new ConfigError("executionProviders: name at least one provider, e.g. cpu");
    const repeated = providers.find((provider, index) => providers.indexOf(provider) !== index);
    if (repeated !== undefined) throw new ConfigError(`executionProviders: ${repeated} is listed twice`);
    const threads = options.intraOpThreads;
    if (threads !== undefined && (!Number.isInteger(threads) || threads < 1)) {
      throw new ConfigError(`intraOpThreads: ${threads} is not a positive integer`);
    }
    const { instances, maxBatch, batchDelayUs, workerNice } = options;
    if (instances !== undefined && instances !== "auto" && (!Number.isInteger(instances) || instances < 0)) {
      throw new ConfigError(`instances: ${instances} is not a count (0 or more) or auto`);
    }
    if (maxBatch !== undefined && (!Number.isInteger(maxBatch) || maxBatch < 0)) {
      throw new ConfigError(`maxBatch: ${maxBatch} is not 0 or more`);
    }
    if (batchDelayUs !== undefined && (!Number.isInteger(batchDelayUs) || batchDelayUs < 0)) {
      throw new ConfigError(`batchDelayUs: ${batchDelayUs} is not 0 or more`);
    }
    if (workerNice !== undefined && (!Number.isInteger(workerNice) || workerNice < 0 || workerNice > 19)) {
      throw new ConfigError(`workerNice: ${workerNice} is not a nice increment from 0 to 19`);
    }
    this.execution = {
      instances: instances ?? "auto",
      maxBatch: maxBatch ?? DEFAULT_MAX_BATCH,
      batchDelayUs: batchDelayUs ?? 0,
      workerNice: workerNice ?? DEFAULT_WORKER_NICE,
      intraOpThreads: threads,
      observe: options.observe ?? (() => ({})),
    };
    this.preference = [...providers];
    this.intraOpThreads = threads;
    this.createSession = options.createSession ?? ((model, sessionOptions) => createOrtSession(model, sessionOptions));
    this.log = options.log ?? (() => undefined);
  }

  /** Providers found unable to start in this process, with onnxruntime's error for each. */
  unavailable(): ReadonlyMap<string, string> {
    return this.unavailableProviders;
  }

  /**
   * Creates a session for the model file on the first provider that takes it. `label` names the
   * model in logs and errors (e.g. "demo/v1"). Fails with LOAD_FAILED naming every provider and why.
   */
  async open(label: string, modelPath: string): Promise<OpenedSession> {
    const available = await this.availableProviders();
    const skipped: string[] = [];
    let lastError: unknown;
    for (const provider of this.preference) {
      const unavailable = this.unavailableProviders.get(provider);
      if (unavailable !== undefined) {
        skipped.push(`${provider}: unavailable in this process (${unavailable})`);
        continue;
      }
      try {
        const session = await this.createSession(
          modelPath,
          this.sessionOptions(available.slice(available.indexOf(provider))),
        );
        this.log(`${label} runs on ${provider}${skipped.length > 0 ? `; skipped ${skipped.join("; ")}` : ""}`);
        return { session, provider };
      } catch (error) {
        lastError = error;
        skipped.push(`${provider}: ${errorMessage(error)}`);
        this.log(`${label}: ${provider} cannot load model.onnx: ${errorMessage(error)}`);
      }
    }
    throw new StagingError(
      ErrorCode.LoadFailed,
      `${label}: no execution provider can load model.onnx: ${skipped.join("; ")}`,
      { cause: lastError },
    );
  }

  /**
   * The provider chains a worker tries in order (workers open sessions; this thread never does for
   * them): one per configured provider that starts in this process, each with the available ones
   * after it, as {@link open} tries them; and the providers skipped as unavailable, with why. Fails
   * with LOAD_FAILED when none is left.
   */
  async chains(label: string): Promise<{ chains: string[][]; unavailable: string[] }> {
    const available = await this.availableProviders();
    const chains: string[][] = [];
    const unavailable: string[] = [];
    for (const provider of this.preference) {
      const why = this.unavailableProviders.get(provider);
      if (why !== undefined) unavailable.push(`${provider}: unavailable in this process (${why})`);
      else chains.push(available.slice(available.indexOf(provider)));
    }
    if (chains.length === 0) {
      throw new StagingError(
        ErrorCode.LoadFailed,
        `${label}: no execution provider can load model.onnx: ${unavailable.join("; ")}`,
      );
    }
    return { chains, unavailable };
  }

  /**
   * Logs which provider a worker's session took, as {@link open} does: each provider that failed on
   * this model (`failed`, "provider: why") on a line, then the one it runs on with everything skipped.
   */
  opened(label: string, provider: string, unavailable: readonly string[], failed: readonly string[]): void {
    for (const reason of failed) this.log(`${label}: ${reason.replace(/^(\S+): /, "$1 cannot load model.onnx: ")}`);
    const skipped = [...unavailable, ...failed];
    this.log(`${label} runs on ${provider}${skipped.length > 0 ? `; skipped ${skipped.join("; ")}` : ""}`);
  }

  /** A session on the main thread on `provider`'s chain (a small model "auto" found faster inline). */
  async openOn(modelPath: string, provider: string): Promise<ort.InferenceSession> {
    return this.createSession(modelPath, this.sessionOptions(await this.providerChain(provider)));
  }

  /** The providers a session that runs on `provider` is created with (it, then the later available ones). */
  async providerChain(provider: string): Promise<string[]> {
    const available = await this.availableProviders();
    const from = available.indexOf(provider);
    return from < 0 ? [provider] : available.slice(from);
  }

  private sessionOptions(providers: readonly string[]): ort.InferenceSession.SessionOptions {
    return {
      executionProviders: [...providers],
      ...(this.intraOpThreads !== undefined ? { intraOpNumThreads: this.intraOpThreads } : {}),
    };
  }

  /** The configured providers that start here, found once (concurrent first loads share the probe). */
  private availableProviders(): Promise<readonly string[]> {
    this.probed ??= this.probe();
    return this.probed;
  }

  private async probe(): Promise<readonly string[]> {
    const available: string[] = [];
    for (const provider of this.preference) {
      try {
        const session = await this.createSession(probeModelBytes(), this.sessionOptions([provider]));
        await session.release();
        available.push(provider);
      } catch (error) {
        this.unavailableProviders.set(provider, errorMessage(error));
        this.log(
          `execution provider ${provider} is unavailable in this process: ${errorMessage(error)}; skipped until restart`,
        );
      }
    }
    return available;
  }
}

/** onnxruntime's `create` takes a path and bytes in separate overloads. */
function createOrtSession(
  model: string | Uint8Array,
  options: ort.InferenceSession.SessionOptions,
): Promise<ort.InferenceSession> {
  return typeof model === "string"
    ? ort.InferenceSession.create(model, options)
    : ort.InferenceSession.create(model, options);
}
