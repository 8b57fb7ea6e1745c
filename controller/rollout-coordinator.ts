/**
 * The two-phase fleet rollout:
 *
 *   checks (published, signature, schema) → enough live nodes → lock → prepare → every live node staged
 *        → one atomic promotion → promote → nodes confirm → history
 *
 * Nothing moves unless enough live nodes serve the model (one; none with allowNoNodes; minNodes):
 * with fewer the request is refused before the lock. Any node failure or the deadline aborts: the
 * pointer stays, the caller gets every node's reason. Nodes whose heartbeat expires while staging
 * stop counting, and if that leaves fewer staged than required the rollout aborts as well. After the
 * promotion the pointer has moved whatever the nodes say; the answer names each staged node that did
 * not confirm serving the target (`fullyConfirmed`, `unconfirmed`). A controller that dies leaves a
 * lock that expires and a `rollout` the next attempt overwrites; nodes drop a staged version that is
 * never promoted.
 */
import type { Bus } from "../core/bus.js";
import {
  ConfigError,
  ErrorCode,
  errorMessage,
  InputError,
  type RolloutCode,
  RolloutError,
  StateError,
  StoreError,
} from "../core/errors.js";
import type { FleetStateStore } from "../core/fleet-state.js";
import { encodeMessage, type StagedMessage } from "../core/messages.js";
import { assertCardIdentity, type ModelCard } from "../core/model-card.js";
import type { HistoryEntry, ModelState, NodeOutcome, NodeRecord } from "../core/model-state.js";
import { assertModelName, assertVersionName } from "../core/names.js";
import type { TrustedKey } from "../core/oms/keys.js";
import type { ModelRegistry } from "../core/registry.js";
import { schemaIncompatibilities } from "../core/schema-compatibility.js";
import { remembered } from "./remembered.js";
import { RolloutReports } from "./rollout-reports.js";
import {
  type ActivateRequest,
  type RollbackRequest,
  requiredNodes,
  type StagingRules,
  stagingRules,
} from "./rollout-request.js";
import { confirmationOf, type RolloutResult, unchangedResult } from "./rollout-result.js";
import type { RolloutLease, RolloutTransitions } from "./state/rollout-transitions.js";
import { VerifiedSignatures } from "./verified-signatures.js";

export interface RolloutCoordinatorOptions {
  readonly fleet: FleetStateStore;
  readonly store: RolloutTransitions;
  readonly bus: Bus;
  readonly registry: ModelRegistry;
  readonly trustedKeys: readonly TrustedKey[];
  /** Rollout lock TTL, renewed while a rollout runs (default 30 s). */
  readonly lockTtlMs?: number;
  /** How long to wait for nodes to confirm the swap after the promotion (default 3 s). */
  readonly confirmTimeoutMs?: number;
  /** How often live nodes are re-read and the lock renewed while waiting (default 1 s, at most a third of the lock TTL). */
  readonly recheckMs?: number;
  readonly onFinished?: (model: string, entry: HistoryEntry, durationMs: number) => void;
}

/** What a progressive rollout adds to its history entry. */
export type HistoryExtra = Pick<HistoryEntry, "strategy" | "steps" | "analyses">;

/** How many checked versions (signature, model card) a coordinator remembers. */
const CHECKED_VERSIONS = 256;

/** What a node's `staged` answer says about the version, for outcomes and history. */
function stagedDetails(
  report: StagedMessage,
): Pick<NodeOutcome, "loadMs" | "warmupMs" | "warmup" | "replay" | "warning"> {
  return {
    loadMs: report.loadMs,
    warmupMs: report.warmupMs,
    ...(report.warmup !== undefined ? { warmup: report.warmup } : {}),
    ...(report.replay !== undefined ? { replay: report.replay } : {}),
    ...(report.warning !== undefined ? { warning: report.warning } : {}),
  };
}

export class RolloutCoordinator {
  private readonly lockTtlMs: number;
  private readonly confirmTimeoutMs: number;
  private readonly recheckMs: number;
  /**
   * Signatures that verified, confirmed with one HEAD of model.sig on every use (a changed or deleted
   * signature is read again), and model cards read, by "model/version". Nodes verify what they
   * download whatever the controller remembers.
   */
  private readonly verified: VerifiedSignatures;
  private readonly cards = new Map<string, Promise<ModelCard>>();

  constructor(private readonly options: RolloutCoordinatorOptions) {
    this.verified = new VerifiedSignatures(options.registry, options.trustedKeys, CHECKED_VERSIONS);
    this.lockTtlMs = options.lockTtlMs ?? 30_000;
    this.confirmTimeoutMs = options.confirmTimeoutMs ?? 3_000;
    this.recheckMs = options.recheckMs ?? Math.min(1_000, Math.floor(this.lockTtlMs / 3));
    if (this.recheckMs * 3 > this.lockTtlMs) throw new ConfigError("rollout: lockTtlMs must be at least 3 × recheckMs");
  }

  /**
   * Activates the previous version (or `to`) through the same protocol. NOT_FOUND for a model the
   * controller knows nothing of (no state, no published version); INVALID_INPUT for one without a
   * previous version.
   */
  async rollback(request: RollbackRequest): Promise<RolloutResult> {
    const model = assertModelName(request.model);
    await this.options.store.syncFromDurable(model);
    const state = await this.options.fleet.getModelState(model);
    const { to, ...rest } = request;
    const target = to ?? state.previous;
    if (target === null || target === undefined) {
      const { registry } = this.options;
      if (state.revision === 0 && state.rollout === null && (await registry.listPublished(model)).length === 0) {
        throw new StoreError(
          ErrorCode.NotFound,
          `no model ${model}: no state and no version in ${registry.store.location}`,
        );
      }
      throw new InputError(`${model} has no previous version to roll back to; use --to VERSION`);
    }
    return this.activate({ ...rest, version: target, action: "rollback", allowIncompatible: true });
  }

  async activate(request: ActivateRequest): Promise<RolloutResult> {
    const started = Date.now();
    const model = assertModelName(request.model);
    const version = assertVersionName(request.version);
    const required = requiredNodes(request);
    const timeoutMs = request.timeoutMs ?? 120_000;
    await this.options.store.syncFromDurable(model);
    const current = await this.options.fleet.getModelState(model);
    if (current.active === version && current.rollout === null && request.expectRevision === undefined) {
      return unchangedResult(model, version, current, Date.now() - started);
    }
    await this.checkTarget(model, version, current, request.allowIncompatible ?? false);
    await this.checkFleet(model, required);

    const lease = await this.options.store.begin(model, {
      target: version,
      by: request.by,
      lockTtlMs: this.lockTtlMs,
      ...(request.expectRevision !== undefined ? { expectRevision: request.expectRevision } : {}),
      ...stagingRules(request),
    });
    const reports = await RolloutReports.open(
      this.options.bus,
      this.options.fleet.keys.reportChannel(model),
      lease.rollout.id,
    );
    try {
      return await this.run(lease, reports, request, { timeoutMs, required, started });
    } catch (error) {
      if (!(error instanceof RolloutError)) await this.abandon(lease, request, error, started);
      throw error;
    } finally {
      await reports.close();
    }
  }

  /** The target must be published, signed by a trusted key, and fit the active version's schema. */
  async checkTarget(model: string, version: string, current: ModelState, allowIncompatible: boolean): Promise<void> {
    const { registry } = this.options;
    await this.verified.check(model, version);
    const card = (name: string) =>
      remembered(this.cards, `${model}/${name}`, () => registry.readModelCard(model, name), CHECKED_VERSIONS);
    const next = await card(version);
    assertCardIdentity(next, model, version);
    if (current.active === null || allowIncompatible) return;
    const active = await card(current.active);
    const reasons = schemaIncompatibilities(active, next);
    if (reasons.length > 0) {
      throw new RolloutError(
        ErrorCode.IncompatibleSchema,
        `${model}/${version} does not fit ${current.active}: ${reasons.join("; ")} (--allow-incompatible to force)`,
      );
    }
  }

  /**
   * Enough live nodes serve the model to start, checked before the lock so that a refusal leaves no
   * trace: a pointer nobody serves must be asked for (allowNoNodes), not be what an empty fleet gets.
   */
  async checkFleet(model: string, required: number): Promise<void> {
    if (required === 0) return;
    const live = (await this.liveNodes(model)).map((node) => node.nodeId).sort();
    if (live.length >= required) return;
    throw new RolloutError(
      ErrorCode.NotEnoughNodes,
      live.length === 0
        ? `no live node serves ${model}; nothing changed (start a node, or allowNoNodes / --allow-no-nodes to set the pointer before a fleet starts)`
        : `${live.length} live node(s) serve ${model} (${live.join(", ")}), fewer than the ${required} required (minNodes / --min-nodes); nothing changed`,
    );
  }

  /** The live nodes that serve `model` (from its index: a tick reads this model's records only). */
  async liveNodes(model: string): Promise<NodeRecord[]> {
    return this.options.fleet.listModelNodes(model);
  }

  private async run(
    lease: RolloutLease,
    reports: RolloutReports,
    request: ActivateRequest,
    limits: { timeoutMs: number; required: number; started: number },
  ): Promise<RolloutResult> {
    const staged = await this.stage(lease, reports, request, limits);
    if (!staged.ok) return this.abort(lease, request, { ...staged, started: limits.started });
    return this.promoteStaged(lease, reports, request, staged.nodes, limits.started);
  }

  /**
   * Phase one: `prepare` to the nodes, and every live node that serves the model staged the target
   * (from its answer or its heartbeat record) — or why not: a node failed, the deadline passed, or
   * fewer than `required` nodes are left.
   */
  async stage(
    lease: RolloutLease,
    reports: RolloutReports,
    request: StagingRules,
    limits: { timeoutMs: number; required: number },
  ): Promise<{ ok: true; nodes: string[] } | { ok: false; code: RolloutCode; nodes: NodeOutcome[]; reason: string }> {
    const { fleet, bus, store } = this.options;
    const { model, rollout } = lease;
    const { timeoutMs, required } = limits;
    const records = await this.liveNodes(model);
    let live = new Set(records.map((node) => node.nodeId));
    const expected = new Set(live);
    reports.absorbHeartbeats(records, model, rollout.target);

    const tick = async () => {
      if (!(await store.extend(lease, this.lockTtlMs))) {
        throw new StateError(ErrorCode.LockLost, `the rollout lock of ${model} expired while nodes were staging`);
      }
      const records = await this.liveNodes(model);
      live = new Set(records.map((node) => node.nodeId));
      for (const nodeId of expected) if (!live.has(nodeId) && !reports.prepared.has(nodeId)) expected.delete(nodeId);
      reports.absorbHeartbeats(records, model, rollout.target);
    };
    const anyFailed = () => [...reports.prepared.values()].some((report) => report.type === "failed");
    const allStaged = () => [...expected].every((nodeId) => reports.prepared.get(nodeId)?.type === "staged");

    await bus.publish(
      fleet.keys.commandChannel(model),
      encodeMessage({
        type: "prepare",
        model,
        version: rollout.target,
        rolloutId: rollout.id,
        ...stagingRules(request),
      }),
    );
    const ready = await reports.waitFor(() => anyFailed() || allStaged(), timeoutMs, this.recheckMs, tick);
    if (!ready || anyFailed()) {
      // A node that had not answered is a timeout only when the deadline passed; when another node's
      // failure ended the rollout first, it was still working on it.
      const nodes = this.prepareOutcomes(expected, reports, anyFailed() ? "aborted" : "deadline");
      const reason = anyFailed()
        ? `node(s) failed to stage ${rollout.target}: ${nodes
            .filter((n) => n.outcome === "failed")
            .map((n) => `${n.nodeId} ${n.code}: ${n.reason}`)
            .join("; ")}`
        : `not every node staged ${rollout.target} within ${timeoutMs} ms: ${nodes
            .filter((n) => n.outcome === "timeout")
            .map((n) => n.nodeId)
            .join(", ")}`;
      return { ok: false, code: ErrorCode.RolloutAborted, nodes, reason };
    }
    if (expected.size < required) {
      const reason = `only ${expected.size} node(s) staged ${rollout.target} (the others' heartbeats expired), fewer than the ${required} required`;
      const nodes = this.prepareOutcomes(expected, reports, "aborted");
      return { ok: false, code: ErrorCode.NotEnoughNodes, nodes, reason };
    }
    return { ok: true, nodes: [...expected] };
  }

  /**
   * Phase two, once every node in `staged` holds the target: the atomic promotion, `promote` to the
   * nodes, their confirmations, the history entry (with `extra`: a progressive rollout's figures).
   */
  async promoteStaged(
    lease: RolloutLease,
    reports: RolloutReports,
    request: ActivateRequest,
    stagedNodes: readonly string[],
    started: number,
    extra: HistoryExtra = {},
  ): Promise<RolloutResult> {
    const { fleet, bus, store } = this.options;
    const { model, rollout } = lease;
    const promoted = await store.promote(lease);
    let live = new Set((await this.liveNodes(model)).map((node) => node.nodeId));
    const tick = async () => {
      if (!(await store.extend(lease, this.lockTtlMs))) {
        throw new StateError(ErrorCode.LockLost, `the rollout lock of ${model} expired while nodes were confirming`);
      }
      const records = await this.liveNodes(model);
      live = new Set(records.map((node) => node.nodeId));
      reports.absorbHeartbeats(records, model, rollout.target, promoted.revision);
    };
    await bus.publish(
      fleet.keys.commandChannel(model),
      encodeMessage({
        type: "promote",
        model,
        version: rollout.target,
        revision: promoted.revision,
        rolloutId: rollout.id,
      }),
    );
    const staged = [...stagedNodes].sort();
    await reports.waitFor(
      () => staged.every((nodeId) => reports.promoted.has(nodeId) || !live.has(nodeId)),
      this.confirmTimeoutMs,
      Math.min(this.recheckMs, this.confirmTimeoutMs),
      tick,
    );
    const nodes = staged.map((nodeId): NodeOutcome => {
      const prepared = reports.prepared.get(nodeId);
      const confirmation = reports.promoted.get(nodeId);
      const missing = live.has(nodeId)
        ? `no confirmation within ${this.confirmTimeoutMs} ms`
        : "its heartbeat expired before it confirmed";
      return {
        nodeId,
        outcome: confirmation ? "promoted" : "unconfirmed",
        ...(confirmation ? {} : { reason: missing }),
        ...(prepared?.type === "staged" ? stagedDetails(prepared) : {}),
        ...(confirmation ? { switchedAt: confirmation.at } : {}),
      };
    });
    const times = nodes.flatMap((node) => (node.switchedAt === undefined ? [] : [node.switchedAt]));
    const switchSpreadMs = times.length > 0 ? Math.max(...times) - Math.min(...times) : undefined;
    const { reason, ...confirmation } = confirmationOf(model, rollout.target, promoted.revision, nodes);
    const entry = await this.finish(
      lease,
      request,
      {
        outcome: "promoted",
        nodes,
        revision: promoted.revision,
        ...(reason !== undefined ? { reason } : {}),
        ...(switchSpreadMs !== undefined ? { switchSpreadMs } : {}),
        ...extra,
      },
      started,
    );
    const warnings = entry.warnings ?? [];
    return {
      rolloutId: rollout.id,
      model,
      from: lease.startState.active,
      to: rollout.target,
      revision: promoted.revision,
      changed: true,
      nodes,
      ...confirmation,
      ...(switchSpreadMs !== undefined ? { switchSpreadMs } : {}),
      durationMs: Date.parse(entry.finishedAt) - started,
      ...(warnings.length > 0 ? { warnings } : {}),
    };
  }

  /** Tells the nodes to drop the staged target, records the abort, and refuses: the pointer stays. */
  private async abort(
    lease: RolloutLease,
    request: ActivateRequest,
    outcome: { code: RolloutCode; nodes: NodeOutcome[]; reason: string; started: number },
  ): Promise<never> {
    const { model, rollout } = lease;
    const { code, nodes, reason, started } = outcome;
    await this.options.bus.publish(
      this.options.fleet.keys.commandChannel(model),
      encodeMessage({ type: "abort", model, rolloutId: rollout.id, reason }),
    );
    await this.finish(
      lease,
      request,
      { outcome: "aborted", nodes, reason, revision: lease.startState.revision },
      started,
    );
    throw new RolloutError(code, `rollout of ${model}/${rollout.target} aborted, nothing changed: ${reason}`, {
      nodes,
      rolloutId: rollout.id,
    });
  }
  private prepareOutcomes(
    expected: ReadonlySet<string>,
    reports: RolloutReports,
    ended: "deadline" | "aborted",
  ): NodeOutcome[] {
    const ids = new Set([...expected, ...reports.prepared.keys()]);
    return [...ids].sort().map((nodeId): NodeOutcome => {
      const report = reports.prepared.get(nodeId);
      if (report === undefined) {
        return ended === "deadline"
          ? { nodeId, outcome: "timeout", reason: "no answer before the deadline" }
          : { nodeId, outcome: "pending", reason: "still staging when the rollout was aborted" };
      }
      if (report.type === "failed") return { nodeId, outcome: "failed", code: report.code, reason: report.reason };
      return { nodeId, outcome: "staged", ...stagedDetails(report) };
    });
  }

  /** Ends the rollout: clears its record, appends its history entry, releases the lock. */
  async finish(
    lease: RolloutLease,
    request: Pick<ActivateRequest, "action">,
    result: Pick<HistoryEntry, "outcome" | "nodes" | "revision" | "reason" | "switchSpreadMs"> & HistoryExtra,
    started: number,
  ): Promise<HistoryEntry> {
    const warnings = result.nodes.flatMap((node) => (node.warning ? [`${node.nodeId}: ${node.warning}`] : []));
    const entry: HistoryEntry = {
      rolloutId: lease.rollout.id,
      action: request.action ?? "activate",
      by: lease.rollout.by,
      startedAt: lease.rollout.startedAt,
      finishedAt: new Date().toISOString(),
      from: lease.startState.active,
      to: lease.rollout.target,
      ...result,
      ...(warnings.length > 0 ? { warnings } : {}),
    };
    await this.options.store.finish(lease, entry);
    this.options.onFinished?.(lease.model, entry, Date.now() - started);
    return entry;
  }

  /** An unexpected failure mid-rollout (Redis gone, lock lost): tell nodes, record it if we can. */
  async abandon(
    lease: RolloutLease,
    request: Pick<ActivateRequest, "action">,
    error: unknown,
    started: number,
  ): Promise<void> {
    const reason = `rollout failed: ${errorMessage(error)}`;
    const { model, rollout } = lease;
    await this.options.bus
      .publish(
        this.options.fleet.keys.commandChannel(model),
        encodeMessage({ type: "abort", model, rolloutId: rollout.id, reason }),
      )
      .catch(() => undefined);
    const current = await this.options.fleet.getModelState(model).catch(() => undefined);
    const promoted = current?.active === rollout.target && current.revision > lease.startState.revision;
    await this.finish(
      lease,
      request,
      {
        outcome: promoted ? "promoted" : "aborted",
        nodes: [],
        reason,
        revision: current?.revision ?? lease.startState.revision,
      },
      started,
    ).catch(() => undefined);
  }
}
