/**
 * The log of unexpected request failures (500s): the first of each kind is written at once, with its
 * error; the same kind again within `intervalMs` is only counted, and the next line says how many were
 * left out. A candidate that fails on a class of inputs answers 500 to many requests a second; its
 * stack traces must not bury the rest of the node's log (the metrics count every one).
 */
export type ErrorLog = (message: string, error: unknown) => void;

/** Kinds remembered at most; beyond it the oldest are forgotten (each is one route and model). */
const MAX_KINDS = 1_000;

export function throttledErrorLog(write: ErrorLog, intervalMs = 10_000, now: () => number = Date.now): ErrorLog {
  const kinds = new Map<string, { quietUntil: number; suppressed: number }>();
  return (message, error) => {
    const at = now();
    const kind = kinds.get(message);
    if (kind !== undefined && at < kind.quietUntil) {
      kind.suppressed++;
      return;
    }
    const suppressed = kind?.suppressed ?? 0;
    kinds.delete(message);
    if (kinds.size >= MAX_KINDS) kinds.delete(kinds.keys().next().value ?? "");
    kinds.set(message, { quietUntil: at + intervalMs, suppressed: 0 });
    write(suppressed > 0 ? `${message} (and ${suppressed} more like it since the last such line)` : message, error);
  };
}
