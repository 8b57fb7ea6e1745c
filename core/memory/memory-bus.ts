/**
 * The in-process bus of the embedded default: the same channels and payloads as Redis pub/sub,
 * delivered asynchronously (as Redis would) to every subscriber in this process. It never
 * disconnects, so `onReconnect` listeners are never called.
 */
import type { Bus, Unsubscribe } from "../bus.js";

export class MemoryBus implements Bus {
  private readonly handlers = new Map<string, Set<(payload: string) => void>>();

  async publish(channel: string, payload: string): Promise<void> {
    const handlers = [...(this.handlers.get(channel) ?? [])];
    queueMicrotask(() => {
      for (const handler of handlers) handler(payload);
    });
  }

  async subscribe(channel: string, handler: (payload: string) => void): Promise<Unsubscribe> {
    const set = this.handlers.get(channel) ?? new Set();
    set.add(handler);
    this.handlers.set(channel, set);
    return async () => {
      set.delete(handler);
    };
  }

  onReconnect(): () => void {
    return () => undefined;
  }
}
