/**
 * A scripted controller for progressive rollouts, to drive real nodes without the controller's side
 * of them: it writes the model state into Redis under the keys the fleet uses (core/state-keys.ts),
 * speaks the bus protocol (prepare, split, abort, promote) and records every report nodes send. Each
 * change follows the protocol's order: the state first, then the message.
 */
import { type CommandMessage, encodeMessage, parseReport, type ReportMessage } from "../../core/messages.js";
import { emptyModelState, type ModelState, modelStateSchema, type NodeRecord } from "../../core/model-state.js";
import { DEFAULT_ANALYSIS, type NodeSplit, type Progressive, type Traffic } from "../../core/progressive.js";
import { createRedis, type RedisClient } from "../../core/redis/connection.js";
import { RedisFleetState } from "../../core/redis/fleet-state.js";
import { RedisBus } from "../../core/redis/redis-bus.js";
import { StateKeys } from "../../core/state-keys.js";
import { MODEL } from "./controller-harness.js";

export class SplitDriver {
  readonly reports: ReportMessage[] = [];
  readonly fleet: RedisFleetState;
  private readonly bus: RedisBus;
  private state: ModelState = emptyModelState();
  private seq = 0;

  private constructor(
    private readonly redis: RedisClient,
    private readonly subscriber: RedisClient,
    prefix: string,
  ) {
    this.fleet = new RedisFleetState(redis, new StateKeys(prefix));
    this.bus = new RedisBus(redis, subscriber);
  }

  static async start(redisUrl: string, prefix: string): Promise<SplitDriver> {
    const driver = new SplitDriver(
      createRedis({ url: redisUrl, name: "split-driver" }),
      createRedis({ url: redisUrl, name: "split-driver-sub" }),
      prefix,
    );
    await driver.bus.subscribe(driver.fleet.keys.reportChannel(MODEL), (payload) =>
      driver.reports.push(parseReport(payload)),
    );
    return driver;
  }

  /** The state names `version` active at the next revision, with no rollout (nodes converge on a read). */
  async serve(version: string): Promise<void> {
    await this.write({ ...this.state, active: version, revision: this.state.revision + 1, rollout: null });
  }

  /** A progressive rollout of `target` begins: state `preparing` at weight 0, then `prepare`. */
  async prepare(rolloutId: string, target: string): Promise<void> {
    const progressive: Progressive = {
      strategy: "canary",
      steps: [10, 50],
      step: 0,
      weight: 0,
      seq: this.seq,
      bakeMs: 0,
      bakeUntil: null,
      manual: true,
      holding: null,
      shadowPercent: 0,
      baseline: this.state.active ?? "",
      analysis: DEFAULT_ANALYSIS,
      lastAnalysis: null,
    };
    const rollout = { id: rolloutId, target, phase: "preparing" as const, startedAt: now(), by: "test", progressive };
    await this.write({ ...this.state, rollout });
    await this.command({ type: "prepare", model: MODEL, version: target, rolloutId });
  }

  /**
   * The next step: state `progressing` at `weight` (and `shadowPercent`) with the next seq, then `split`
   * unless `silent` (nodes then learn it from their next state read). Returns the seq.
   */
  async split(weight: number, shadowPercent = 0, options: { silent?: boolean } = {}): Promise<number> {
    const rollout = this.state.rollout;
    if (rollout?.progressive === undefined) throw new Error("split before prepare");
    const seq = ++this.seq;
    const progressive = { ...rollout.progressive, weight, shadowPercent, seq };
    await this.write({ ...this.state, rollout: { ...rollout, phase: "progressing", progressive } });
    if (!options.silent) {
      await this.command({
        type: "split",
        model: MODEL,
        version: rollout.target,
        rolloutId: rollout.id,
        seq,
        weight,
        shadowPercent,
      });
    }
    return seq;
  }

  /** The rollout ends without its candidate: no rollout in the state, then `abort`. */
  async abort(): Promise<void> {
    const rollout = this.state.rollout;
    if (rollout === null) throw new Error("abort without a rollout");
    await this.write({ ...this.state, rollout: null });
    await this.command({ type: "abort", model: MODEL, rolloutId: rollout.id, reason: "test" });
  }

  /** The `weighted` report of `nodeId` for `seq`, if it came. */
  weighted(nodeId: string, seq: number): ReportMessage | undefined {
    return this.reports.find((report) => report.type === "weighted" && report.nodeId === nodeId && report.seq === seq);
  }

  /** The split `nodeId`'s heartbeat record says it applies; undefined when it has none (or no record). */
  async recordedSplit(nodeId: string): Promise<NodeSplit | undefined> {
    const records: NodeRecord[] = await this.fleet.listNodes();
    return records.find((record) => record.nodeId === nodeId)?.models[MODEL]?.split;
  }

  /** What `nodeId`'s heartbeat record says each version answered since the node started. */
  async recordedServed(nodeId: string): Promise<Record<string, Traffic> | undefined> {
    const records: NodeRecord[] = await this.fleet.listNodes();
    return records.find((record) => record.nodeId === nodeId)?.models[MODEL]?.served;
  }

  async close(): Promise<void> {
    this.redis.disconnect();
    this.subscriber.disconnect();
  }

  private async write(state: ModelState): Promise<void> {
    this.state = modelStateSchema.parse({ ...state, updatedAt: now(), updatedBy: "test" });
    await this.redis.set(this.fleet.keys.modelState(MODEL), JSON.stringify(this.state));
  }

  private async command(message: CommandMessage): Promise<void> {
    await this.bus.publish(this.fleet.keys.commandChannel(MODEL), encodeMessage(message));
  }
}

function now(): string {
  return new Date().toISOString();
}
