/**
 * Every Redis key and pub/sub channel name cutover uses, built here and nowhere else. Per-model keys
 * share a `{model}` hash tag, so the scripts that touch several of them stay on one Redis Cluster slot.
 */
import { ConfigError } from "./errors.js";
import { assertModelName, assertVersionName } from "./names.js";

export class StateKeys {
  readonly prefix: string;

  constructor(prefix = "cutover:") {
    if (!/^[A-Za-z0-9:._-]{0,64}$/.test(prefix)) {
      throw new ConfigError(
        `Redis key prefix ${JSON.stringify(prefix)}: up to 64 chars of letters, digits and : . _ -`,
      );
    }
    this.prefix = prefix;
  }

  private model(model: string, suffix: string): string {
    return `${this.prefix}model:{${assertModelName(model)}}:${suffix}`;
  }

  /** JSON of the model's ModelState. */
  modelState(model: string): string {
    return this.model(model, "state");
  }

  /** The rollout lock: a random owner token with a TTL. */
  rolloutLock(model: string): string {
    return this.model(model, "lock");
  }

  /** A capped stream of HistoryEntry JSON. */
  history(model: string): string {
    return this.model(model, "history");
  }

  /** Sorted set: the nodes downloading `version` now (holder → lease expiry, ms): the fan-in limit. */
  downloadSlots(model: string, version: string): string {
    return this.model(model, `downloads:${assertVersionName(version)}`);
  }

  /** The set of models that have state. */
  models(): string {
    return `${this.prefix}models`;
  }

  /** A node's heartbeat record (JSON, with a TTL). Shares the `{nodes}` slot with the index. */
  node(nodeId: string): string {
    if (!/^[A-Za-z0-9._:-]{1,128}$/.test(nodeId)) {
      throw new ConfigError(`node id ${JSON.stringify(nodeId)}: 1-128 chars of letters, digits and . _ : -`);
    }
    return `${this.prefix}{nodes}:${nodeId}`;
  }

  /** Sorted set: node id → the time (ms) its heartbeat expires. */
  nodes(): string {
    return `${this.prefix}{nodes}`;
  }

  /*
   * The per-model node index. `#` is in neither node ids nor model names, so these keys can never be
   * a node's record key; they share the `{nodes}` slot, so a heartbeat stays one single-slot script.
   */

  /** Sorted set: node id → heartbeat expiry (ms) of the nodes that list `model` in `serves`. */
  modelNodes(model: string): string {
    return `${this.prefix}{nodes}#serves:${assertModelName(model)}`;
  }

  /** Sorted set: node id → heartbeat expiry (ms) of the nodes that serve every model (`serves: []`). */
  allModelNodes(): string {
    return `${this.prefix}{nodes}#serves:*`;
  }

  /**
   * Sorted set: node id → heartbeat expiry (ms) of the nodes that keep the per-model index. A node of
   * an earlier version heartbeats into {@link nodes} only; while the two disagree, readers of one
   * model's nodes fall back to every record.
   */
  indexedNodes(): string {
    return `${this.prefix}{nodes}#indexed`;
  }

  /** Controller → nodes: prepare, promote, abort. */
  commandChannel(model: string): string {
    return `${this.prefix}bus:{${assertModelName(model)}}:commands`;
  }

  /** Nodes → controller: staged, failed, promoted. */
  reportChannel(model: string): string {
    return `${this.prefix}bus:{${assertModelName(model)}}:reports`;
  }
}
