/**
 * Makes a version ready to serve: fetch (into the content-addressed cache), verify, load on the first
 * execution provider that takes it, check its schema against the active version's, warm up. Shared
 * by every model of a node; counts what it does in the node's metrics. Which version a model should
 * stage, and when, is the model reconciler's business (model-reconciler.ts).
 */
import { CutoverError, ErrorCode, StagingError } from "../core/errors.js";
import type { NodeRecord } from "../core/model-state.js";
import type { TrustedKey } from "../core/oms/keys.js";
import { verifyFolder } from "../core/oms/verifier.js";
import { type ReplayReport, replaySummary } from "../core/replay-report.js";
import { schemaIncompatibilities } from "../core/schema-compatibility.js";
import type { VersionFetcher } from "../core/version-fetcher.js";
import { LoadedVersion } from "./loaded-version.js";
import type { NodeMetrics } from "./metrics.js";
import type { ReplaySample } from "./replay-buffer.js";
import { type ReplayCase, replayInputs } from "./replay-inputs.js";
import type { SessionOpener } from "./session-opener.js";
import type { WarmupOptions } from "./warm-up.js";

/** A staging step, as the heartbeat record names it. */
export type StagingStep = NonNullable<NodeRecord["models"][string]["staged"]>["state"];

export interface VersionStagerOptions {
  readonly fetcher: VersionFetcher;
  readonly trustedKeys: readonly TrustedKey[];
  readonly sessions: SessionOpener;
  readonly metrics: NodeMetrics;
  /** Synthetic warm-up settings for versions without golden vectors. */
  readonly warmup?: WarmupOptions;
  readonly log: (line: string) => void;
}

/** What a new version is staged against: the active version's schema, unless the operator forced it. */
export interface StagingRequest {
  readonly model: string;
  readonly version: string;
  readonly active: LoadedVersion | null;
  readonly allowIncompatible: boolean;
  /**
   * Recent real requests the active version answered with a 2xx (replay-buffer.ts): each must be taken
   * and run by the new version (REPLAY_FAILED), and they are its warm-up when it has no golden vectors.
   * Not replayed when the operator forced an incompatible version.
   */
  readonly replay?: readonly ReplaySample[];
  /**
   * The share (0–1) of compared replayed requests whose outputs may diverge from the active version's
   * before the version is refused (REPLAY_DIVERGED); absent: divergences are only reported.
   */
  readonly maxReplayDivergence?: number;
  /**
   * Told each step as it starts ("fetching", "loading", "warming"), then "staged" or "failed"; "waiting"
   * while the fleet's download slots for the version are all taken, then "fetching" again.
   */
  readonly onStep: (step: StagingStep) => void;
}

/** What a model's reconciler stages with (an interface, so unit tests can stand in for the store). */
export interface Stager {
  stage(request: StagingRequest): Promise<LoadedVersion>;
  loadCached(model: string, version: string): Promise<LoadedVersion>;
}

export class VersionStager implements Stager {
  constructor(private readonly options: VersionStagerOptions) {}

  /**
   * Fetches, verifies, loads and warms a version up. Fails with the StagingError of the step that
   * failed; the session of a version that loaded but failed later is released.
   */
  async stage(request: StagingRequest): Promise<LoadedVersion> {
    const { model, version, onStep } = request;
    const { metrics } = this.options;
    const started = performance.now();
    try {
      onStep("fetching");
      const fetched = await this.options.fetcher.fetch(model, version, {
        onWaiting: () => onStep("waiting"),
        onAcquired: () => onStep("fetching"),
      });
      metrics.fetchedBytes.inc(fetched.downloadedBytes);
      onStep("loading");
      const loaded = await LoadedVersion.load(model, version, fetched.dir, this.options.sessions);
      await this.releaseOnFailure(loaded, async () => {
        this.checkSchema(request, loaded);
        onStep("warming");
        const { active } = request;
        const replay =
          request.allowIncompatible || active === null ? [] : checkedReplay(loaded, active, request.replay ?? []);
        await this.warmUp(loaded, replay);
        checkDivergence(loaded, active, request.maxReplayDivergence);
      });
      onStep("staged");
      metrics.staging.observe({ model, outcome: "staged" }, (performance.now() - started) / 1000);
      return loaded;
    } catch (error) {
      onStep("failed");
      metrics.staging.observe({ model, outcome: "failed" }, (performance.now() - started) / 1000);
      const code = error instanceof CutoverError ? error.code : "INTERNAL";
      metrics.stagingFailures.inc({ code });
      if (error instanceof CutoverError && error.isVerificationFailure) {
        metrics.verificationFailures.inc({ reason: code });
      }
      throw error;
    }
  }

  /** Loads a version already in the local cache (what applied.json names), re-verified, and warms it up. */
  async loadCached(model: string, version: string): Promise<LoadedVersion> {
    const dir = this.options.fetcher.versionDir(model, version);
    await verifyFolder(dir, this.options.trustedKeys);
    const loaded = await LoadedVersion.load(model, version, dir, this.options.sessions);
    await this.releaseOnFailure(loaded, () => this.warmUp(loaded));
    return loaded;
  }

  private checkSchema({ model, version, active, allowIncompatible }: StagingRequest, loaded: LoadedVersion): void {
    if (allowIncompatible || active === null) return;
    const reasons = schemaIncompatibilities(active.card, loaded.card);
    if (reasons.length === 0) return;
    throw new StagingError(
      ErrorCode.IncompatibleSchema,
      `${model}/${version} does not fit ${active.version}: ${reasons.join("; ")}`,
    );
  }

  /** Warms a loaded version up; a cold one (no synthetic input worked) is logged with its warning. */
  private async warmUp(loaded: LoadedVersion, replay: readonly ReplayCase[] = []): Promise<void> {
    this.logOwnExecution(loaded);
    const result = await loaded.warmUp({ ...this.options.warmup, ...(replay.length > 0 ? { replay } : {}) });
    if (result.warning !== undefined) this.options.log(result.warning);
    if (result.replay !== undefined)
      this.options.log(
        `${loaded.model}/${loaded.version}: recent requests replayed on it, all answered: ${replaySummary(result.replay)}`,
      );
  }

  /**
   * A version whose card sets its own instances or batching says so once: an operator who changed
   * CUTOVER_INSTANCES and sees this version ignore it finds why in the log.
   */
  private logOwnExecution(loaded: LoadedVersion): void {
    const own = Object.entries(loaded.card.execution ?? {});
    if (own.length === 0) return;
    const settings = own.map(([name, value]) => `${name} ${String(value)}`).join(", ");
    this.options.log(`${loaded.model}/${loaded.version}: its cutover.json sets ${settings} (over the node's settings)`);
  }

  private async releaseOnFailure(loaded: LoadedVersion, work: () => Promise<void>): Promise<void> {
    try {
      await work();
    } catch (error) {
      await loaded.session.release();
      throw error;
    }
  }
}

/**
 * The kept requests the new version must run (replay-inputs.ts); one the active version takes and the
 * new one would refuse (a 400 to its caller) refuses the version.
 */
function checkedReplay(loaded: LoadedVersion, active: LoadedVersion, samples: readonly ReplaySample[]) {
  const { cases, refusals } = replayInputs(samples, active, loaded.card);
  if (refusals.length > 0) {
    throw new StagingError(
      ErrorCode.ReplayFailed,
      `${loaded.model}/${loaded.version}: ${refusals.length} of ${refusals.length + cases.length} recent requests that ${active.version} answered would be refused by it (400): ${refusals[0]}`,
    );
  }
  return cases;
}

/**
 * Refuses a version when more of the compared replayed requests diverged from the active version's
 * outputs than the rollout allows (REPLAY_DIVERGED); with no bound set, the report only informs.
 */
function checkDivergence(loaded: LoadedVersion, active: LoadedVersion | null, max: number | undefined): void {
  const report: ReplayReport | undefined = loaded.warmup?.replay;
  if (max === undefined || report === undefined || report.compared === 0) return;
  if (report.divergent / report.compared <= max) return;
  throw new StagingError(
    ErrorCode.ReplayDiverged,
    `${loaded.model}/${loaded.version}: its outputs on recent requests are not ${active?.version ?? "the active version"}'s within its tolerance more often than the ${Number((max * 100).toPrecision(6))} % allowed: ${replaySummary(report)}; first: ${report.first ?? "-"}`,
  );
}
