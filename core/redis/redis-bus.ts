/**
 * The bus on Redis pub/sub: one connection publishes, a dedicated one subscribes (Redis requires it)
 * and resubscribes by itself after a reconnect; `onReconnect` lets a caller re-read state then, since
 * anything published while it was away is lost. On a Redis Cluster, PUBLISH reaches subscribers on
 * every node (plain pub/sub, not sharded: see docs/SCALE.md), and ioredis moves the subscription to
 * another node when its node goes.
 */
import { Cluster } from "ioredis";
import type { Bus, Unsubscribe } from "../bus.js";
import { type RedisClient, toStateError } from "./connection.js";

export class RedisBus implements Bus {
  private readonly handlers = new Map<string, Set<(payload: string) => void>>();
  private readonly reconnectListeners = new Set<() => void>();
  private connectedOnce = false;

  constructor(
    private readonly publisher: RedisClient,
    private readonly subscriber: RedisClient,
  ) {
    subscriber.on("message", (channel: string, payload: string) => {
      for (const handler of this.handlers.get(channel) ?? []) handler(payload);
    });
    subscriber.on("ready", () => {
      if (this.connectedOnce) this.reconnected();
      this.connectedOnce = true;
    });
    if (subscriber.status === "ready") this.connectedOnce = true;
    // A cluster client stays "ready" while one node is: when a node leaves or (re)joins, its
    // subscriber connection may have moved to another node, missing what was published meanwhile.
    if (subscriber instanceof Cluster) {
      for (const event of ["+node", "-node"]) {
        subscriber.on(event, () => {
          if (this.connectedOnce) this.reconnected();
        });
      }
    }
  }

  async publish(channel: string, payload: string): Promise<void> {
    try {
      await this.publisher.publish(channel, payload);
    } catch (error) {
      throw toStateError(error, `publish on ${channel}`);
    }
  }

  async subscribe(channel: string, handler: (payload: string) => void): Promise<Unsubscribe> {
    let set = this.handlers.get(channel);
    if (set === undefined) {
      set = new Set();
      this.handlers.set(channel, set);
      try {
        await this.subscriber.subscribe(channel);
      } catch (error) {
        this.handlers.delete(channel);
        throw toStateError(error, `subscribe to ${channel}`);
      }
    }
    set.add(handler);
    return async () => {
      const current = this.handlers.get(channel);
      current?.delete(handler);
      if (current?.size === 0) {
        this.handlers.delete(channel);
        await this.subscriber.unsubscribe(channel).catch(() => undefined);
      }
    };
  }

  private reconnected(): void {
    for (const listener of this.reconnectListeners) listener();
  }

  /**
   * Called after the subscriber connection comes back (not on the first connect), and on a cluster
   * when a node leaves or joins.
   */
  onReconnect(listener: () => void): () => void {
    this.reconnectListeners.add(listener);
    return () => this.reconnectListeners.delete(listener);
  }
}
