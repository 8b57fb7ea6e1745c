/**
 * What both planes read from Redis: model state and history, and the node heartbeat records that
 * say which nodes are live. Writes here are the nodes' own (heartbeat, deregister); the controller's
 * transitions live in controller/state.
 */
import type { FleetStateStore } from "../fleet-state.js";
import {
  emptyModelState,
  type HistoryEntry,
  historyEntrySchema,
  type ModelState,
  modelStateSchema,
  type NodeRecord,
  nodeRecordSchema,
  parseStored,
} from "../model-state.js";
import type { StateKeys } from "../state-keys.js";
import { type RedisClient, toStateError } from "./connection.js";
import { LuaScript } from "./lua-script.js";

const heartbeatScript = new LuaScript(new URL("./lua/heartbeat-2.lua", import.meta.url));
const deregisterScript = new LuaScript(new URL("./lua/deregisterNode-2.lua", import.meta.url));

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
    try {
      await heartbeatScript.run(
        this.redis,
        [this.keys.node(record.nodeId), this.keys.nodes()],
        [JSON.stringify(record), ttlMs, record.nodeId, now],
      );
    } catch (error) {
      throw toStateError(error, `heartbeat of node ${record.nodeId}`);
    }
  }

  async deregister(nodeId: string): Promise<void> {
    try {
      await deregisterScript.run(this.redis, [this.keys.node(nodeId), this.keys.nodes()], [nodeId]);
    } catch (error) {
      throw toStateError(error, `deregister node ${nodeId}`);
    }
  }

  /** Nodes whose heartbeat has not expired, sorted by id. */
  async listNodes(now = Date.now()): Promise<NodeRecord[]> {
    try {
      const ids = await this.redis.zrangebyscore(this.keys.nodes(), now, "+inf");
      if (ids.length === 0) return [];
      const raws = await this.redis.mget(ids.map((id) => this.keys.node(id)));
      return raws
        .flatMap((raw, i) => (raw === null ? [] : [parseStored(nodeRecordSchema, raw, `node record ${ids[i]}`)]))
        .sort((a, b) => a.nodeId.localeCompare(b.nodeId));
    } catch (error) {
      throw toStateError(error, "list nodes");
    }
  }
}
