/**
 * The bus: a wake-up signal between the controller and the nodes. Two implementations: Redis
 * pub/sub for fleets, and an in-process one for the embedded default and unit tests.
 */

export type Unsubscribe = () => Promise<void>;

export interface Bus {
  publish(channel: string, payload: string): Promise<void>;
  /** Calls `handler` with each raw payload published on `channel` until unsubscribed. */
  subscribe(channel: string, handler: (payload: string) => void): Promise<Unsubscribe>;
  /**
   * Calls `listener` each time the bus comes back after losing its connection (messages published
   * meanwhile are lost: re-read state). Returns a function that removes the listener.
   */
  onReconnect(listener: () => void): () => void;
}
