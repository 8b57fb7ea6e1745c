/**
 * A scripted participant of the bus protocol — NOT the inference node. It heartbeats on a real
 * Redis, hears prepare/promote/abort on the real channels and answers as its script says (stage,
 * fail, or stay silent), so the controller's rollout can be tested before and apart from the node
 * agent. It never loads a model.
 */
import { type CommandMessage, encodeMessage, parseCommand, type ReportMessage } from "../../core/messages.js";
import type { NodeRecord } from "../../core/model-state.js";
import { createRedis, type RedisClient } from "../../core/redis/connection.js";
import { RedisFleetState } from "../../core/redis/fleet-state.js";
import { RedisBus } from "../../core/redis/redis-bus.js";
import { StateKeys } from "../../core/state-keys.js";

export interface ScriptedNodeOptions {
  readonly redisUrl: string;
  readonly prefix: string;
  readonly nodeId: string;
  readonly model: string;
  /** What to answer to `prepare`. */
  onPrepare: "stage" | "fail" | "ignore";
  stageDelayMs?: number;
  /** Whether to report `promoted` after a promote (default true). */
  confirm?: boolean;
  readonly heartbeatTtlMs?: number;
  /** How often it heartbeats (default 100 ms). */
  readonly heartbeatMs?: number;
  /** How often it re-reads the model's state (default every 5 heartbeats). */
  readonly resyncMs?: number;
  /** Heartbeat at once after staging or promoting, as the node agent does (default false). */
  readonly beatOnChange?: boolean;
}

export class ScriptedNode {
  readonly received: CommandMessage[] = [];
  private readonly answered = new Set<string>();
  private lastAnswer: Exclude<ReportMessage, { type: "promoted" }> | undefined;
  active: string | null = null;
  private staged: { version: string; state: "staged" | "failed" } | null = null;
  private readonly redis: RedisClient;
  private readonly subscriber: RedisClient;
  private readonly fleet: RedisFleetState;
  private readonly bus: RedisBus;
  private heartbeat: NodeJS.Timeout | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;

  constructor(readonly options: ScriptedNodeOptions) {
    this.redis = createRedis({ url: options.redisUrl, name: `scripted-${options.nodeId}` });
    this.subscriber = createRedis({ url: options.redisUrl, name: `scripted-${options.nodeId}-sub` });
    this.fleet = new RedisFleetState(this.redis, new StateKeys(options.prefix));
    this.bus = new RedisBus(this.redis, this.subscriber);
  }

  private record(): NodeRecord {
    const now = new Date().toISOString();
    return {
      nodeId: this.options.nodeId,
      url: `http://scripted/${this.options.nodeId}`,
      executionProvider: "scripted",
      startedAt: now,
      updatedAt: now,
      serves: [this.options.model],
      models: {
        [this.options.model]: { active: this.active, revision: 0, warm: [], staged: this.staged, lastError: null },
      },
    };
  }

  async start(): Promise<this> {
    const { model } = this.options;
    await this.bus.subscribe(
      this.fleet.keys.commandChannel(model),
      (payload) => void this.handle(parseCommand(payload)),
    );
    // Like the real node: after a reconnect and on a resync timer, answer a prepare it may have missed.
    this.bus.onReconnect(() => void this.resync());
    await this.beat();
    const heartbeatMs = this.options.heartbeatMs ?? 100;
    this.heartbeat = setInterval(() => void this.beat().catch(() => undefined), heartbeatMs);
    this.resyncTimer = setInterval(() => void this.resync(), this.options.resyncMs ?? heartbeatMs * 5);
    return this;
  }

  private async resync(): Promise<void> {
    const { model } = this.options;
    const state = await this.fleet.getModelState(model).catch(() => undefined);
    const rollout = state?.rollout;
    if (rollout?.phase !== "preparing") return;
    const answer = this.lastAnswer;
    // Answered but still waited for: the report may have been lost in a reconnect. Say it again.
    if (answer?.rolloutId === rollout.id) await this.report(answer);
    else await this.handle({ type: "prepare", model, version: rollout.target, rolloutId: rollout.id });
  }

  private async beat(): Promise<void> {
    await this.fleet.heartbeat(this.record(), this.options.heartbeatTtlMs ?? 1_000);
  }

  private async report(message: ReportMessage): Promise<void> {
    if (message.type !== "promoted") this.lastAnswer = message;
    // A lost report (Redis reconnecting) is said again by the resync timer, like the real node does.
    await this.bus
      .publish(this.fleet.keys.reportChannel(this.options.model), encodeMessage(message))
      .catch(() => undefined);
    if (this.options.beatOnChange) await this.beat().catch(() => undefined);
  }

  private async handle(message: CommandMessage): Promise<void> {
    if (message.type === "prepare") {
      if (this.answered.has(message.rolloutId)) return;
      this.answered.add(message.rolloutId);
    }
    this.received.push(message);
    const { nodeId, model } = this.options;
    if (message.type === "prepare") {
      if (this.options.onPrepare === "ignore") return;
      await new Promise((resolve) => setTimeout(resolve, this.options.stageDelayMs ?? 0));
      if (this.options.onPrepare === "fail") {
        this.staged = { version: message.version, state: "failed" };
        await this.report({
          type: "failed",
          nodeId,
          model,
          version: message.version,
          rolloutId: message.rolloutId,
          code: "DIGEST_MISMATCH",
          reason: "scripted failure",
        });
      } else {
        this.staged = { version: message.version, state: "staged" };
        await this.report({
          type: "staged",
          nodeId,
          model,
          version: message.version,
          rolloutId: message.rolloutId,
          loadMs: 12,
          warmupMs: 3,
        });
      }
    } else if (message.type === "promote") {
      this.active = message.version;
      this.staged = null;
      if (this.options.confirm ?? true) {
        await this.report({
          type: "promoted",
          nodeId,
          model,
          version: message.version,
          revision: message.revision,
          rolloutId: message.rolloutId,
          at: Date.now(),
        });
      }
    } else {
      this.staged = null;
    }
  }

  /** Stops heartbeating without deregistering: to the fleet, the node silently died. */
  stopHeartbeats(): void {
    clearInterval(this.heartbeat);
    clearInterval(this.resyncTimer);
  }

  async close(): Promise<void> {
    this.stopHeartbeats();
    await this.fleet.deregister(this.options.nodeId).catch(() => undefined);
    this.redis.disconnect();
    this.subscriber.disconnect();
  }
}
