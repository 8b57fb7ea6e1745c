/**
 * The bus on Redis pub/sub: one connection publishes, a dedicated one subscribes (Redis requires it)
 * and resubscribes by itself after a reconnect; `onReconnect` lets a caller re-read state then, since
 * anything published while it was away is lost.
 */
import type { Redis } from "ioredis";
import type { Bus, Unsubscribe } from "../bus.js";
import { toStateError } from "./connection.js";

export class RedisBus implements Bus {
  private readonly handlers = new Map<string, Set<(payload: string) => void>>();
  private readonly reconnectListeners = new Set<() => void>();
  private connectedOnce = false;

  constructor(
    private readonly publisher: Redis,
    private readonly subscriber: Redis,
  ) {
    subscriber.on("message", (channel: string, payload: string) => {
      for (const handler of this.handlers.get(channel) ?? []) handler(payload);
    });
    subscriber.on("ready", () => {
      if (this.connectedOnce) for (const listener of this.reconnectListeners) listener();
      this.connectedOnce = true;
    });
    if (subscriber.status === "ready") this.connectedOnce = true;
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

  /** Called after the subscriber connection comes back (not on the first connect). */
  onReconnect(listener: () => void): () => void {
    this.reconnectListeners.add(listener);
    return () => this.reconnectListeners.delete(listener);
  }
}
