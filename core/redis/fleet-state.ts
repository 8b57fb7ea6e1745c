/**
 * What both planes read from Redis: model state and history, and the node heartbeat records that
 * say which nodes are live, with an index per model so that one model's readers fetch only its nodes'
 * records. Writes here are the nodes' own (heartbeat, deregister); the controller's transitions live
 * in controller/state.
 */
import { z } from "zod";
import type { FleetStateStore } from "../fleet-state.js";
import {
  emptyModelState,
  type HistoryEntry,
  historyEntrySchema,
  type ModelState,
  modelStateSchema,
  type NodeRecord,
  nodeRecordSchema,
  nodeServes,
  parseStored,
} from "../model-state.js";
import { isModelName } from "../names.js";
import type { StateKeys } from "../state-keys.js";
import { type RedisClient, toStateError } from "./connection.js";
import { LuaScript } from "./lua-script.js";

const heartbeatScript = new LuaScript(new URL("./lua/heartbeat-3+.lua", import.meta.url));
const deregisterScript = new LuaScript(new URL("./lua/deregisterNode-3.lua", import.meta.url));

/** What a record serves, as the scripts name it: its models, or "*" for every model. */
const EVERY_MODEL = "*";
const servedNamesSchema = z.array(z.string());
/** listModelNodes' MULTI: live nodes, live indexed nodes, the model's index, the serve-all index. */
const indexReadSchema = z.tuple([z.number(), z.number(), servedNamesSchema, servedNamesSchema]);

export class RedisFleetState implements FleetStateStore {
  constructor(
    readonly redis: RedisClient,
    readonly keys: StateKeys,
  ) {}

  /** Resolves when Redis answers; STATE_UNREACHABLE otherwise. */
  async ping(): Promise<void> {
    try {
      await this.redis.ping();
    } catch (error) {
      throw toStateError(error, "ping");
    }
  }

  async getModelState(model: string): Promise<ModelState> {
    const key = this.keys.modelState(model);
    let raw: string | null;
    try {
      raw = await this.redis.get(key);
    } catch (error) {
      throw toStateError(error, `read state of ${model}`);
    }
    return raw === null ? emptyModelState() : parseStored(modelStateSchema, raw, `state of ${model}`);
  }

  /** Models that have ever had state, sorted. */
  async listModelNames(): Promise<string[]> {
    try {
      return (await this.redis.smembers(this.keys.models())).sort();
    } catch (error) {
      throw toStateError(error, "list models");
    }
  }

  /** The newest `limit` history entries, newest first. */
  async history(model: string, limit = 50): Promise<HistoryEntry[]> {
    let rows: [id: string, fields: string[]][];
    try {
      rows = await this.redis.xrevrange(this.keys.history(model), "+", "-", "COUNT", limit);
    } catch (error) {
      throw toStateError(error, `read history of ${model}`);
    }
    return rows.map(([id, fields]) => {
      const entry = fields[fields.indexOf("entry") + 1] ?? "";
      return parseStored(historyEntrySchema, entry, `history entry ${id} of ${model}`);
    });
  }

  async heartbeat(record: NodeRecord, ttlMs: number, now = Date.now()): Promise<void> {
    const { keys } = this;
    const served = record.serves.length === 0 ? [EVERY_MODEL] : record.serves;
    try {
      const dropped = await heartbeatScript.run(
        this.redis,
        [keys.node(record.nodeId), keys.nodes(), keys.indexedNodes(), ...served.map((name) => this.indexOf(name))],
        [JSON.stringify(record), ttlMs, record.nodeId, now, ...served],
      );
      await this.unindex(record.nodeId, dropped);
    } catch (error) {
      throw toStateError(error, `heartbeat of node ${record.nodeId}`);
    }
  }

  async deregister(nodeId: string): Promise<void> {
    const { keys } = this;
    try {
      const served = await deregisterScript.run(
        this.redis,
        [keys.node(nodeId), keys.nodes(), keys.indexedNodes()],
        [nodeId],
      );
      await this.unindex(nodeId, served);
    } catch (error) {
      throw toStateError(error, `deregister node ${nodeId}`);
    }
  }

  /** The model index of a name the scripts use: a model, or "*" for the nodes that serve every model. */
  private indexOf(name: string): string {
    return name === EVERY_MODEL ? this.keys.allModelNodes() : this.keys.modelNodes(name);
  }

  /**
   * Takes a node out of the model indexes a script said it left. Those keys were named in no script's
   * KEYS (the script learnt them from the stored record), so they are removed here, in one MULTI.
   */
  private async unindex(nodeId: string, scriptReply: unknown): Promise<void> {
    const names = servedNamesSchema.parse(scriptReply).filter((name) => name === EVERY_MODEL || isModelName(name));
    if (names.length === 0) return;
    const transaction = this.redis.multi();
    for (const name of names) transaction.zrem(this.indexOf(name), nodeId);
    await transaction.exec();
  }

  /** Nodes whose heartbeat has not expired, sorted by id. */
  async listNodes(now = Date.now()): Promise<NodeRecord[]> {
    try {
      const ids = await this.redis.zrangebyscore(this.keys.nodes(), now, "+inf");
      return await this.readRecords(ids);
    } catch (error) {
      throw toStateError(error, "list nodes");
    }
  }

  /**
   * Live nodes that serve `model` (list it, or serve every model), sorted by id: the records of the
   * ids in its index and in the serve-all index, one MULTI and one MGET. While a live node keeps no
   * index (an earlier version), every record is read instead, so no node is ever left out.
   */
  async listModelNodes(model: string, now = Date.now()): Promise<NodeRecord[]> {
    const { keys } = this;
    try {
      const replies = await this.redis
        .multi()
        .zcount(keys.nodes(), now, "+inf")
        .zcount(keys.indexedNodes(), now, "+inf")
        .zrangebyscore(keys.modelNodes(model), now, "+inf")
        .zrangebyscore(keys.allModelNodes(), now, "+inf")
        .exec();
      const [live, indexed, listing, servingAll] = indexReadSchema.parse(
        (replies ?? []).map(([error, result]) => {
          if (error !== null) throw error;
          return result;
        }),
      );
      const records =
        live === indexed
          ? await this.readRecords([...new Set([...listing, ...servingAll])])
          : await this.listNodes(now);
      // The index says where to look; the record says what the node serves.
      return records.filter((node) => nodeServes(node, model));
    } catch (error) {
      throw toStateError(error, `list nodes of ${model}`);
    }
  }

  /** The records of these nodes that still exist, sorted by id. */
  private async readRecords(ids: readonly string[]): Promise<NodeRecord[]> {
    if (ids.length === 0) return [];
    const raws = await this.redis.mget(ids.map((id) => this.keys.node(id)));
    return raws
      .flatMap((raw, i) => (raw === null ? [] : [parseStored(nodeRecordSchema, raw, `node record ${ids[i]}`)]))
      .sort((a, b) => a.nodeId.localeCompare(b.nodeId));
  }
}
