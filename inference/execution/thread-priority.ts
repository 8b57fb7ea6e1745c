/**
 * Lowers the scheduling priority of the calling thread (Linux: the nice value is per thread, and a
 * thread's nice is inherited by the threads it starts later, such as onnxruntime's intra-op pool).
 *
 * Session workers call this before they open their session so that, when their runs keep every core
 * busy, the main thread (HTTP, health probes, the bus, the swap) still gets the CPU as soon as it
 * wakes: the kernel's fair scheduler prefers the thread with the higher weight. Raising a nice value
 * needs no privilege; lowering it would, so the increment is added to the current value.
 */
import { readlinkSync } from "node:fs";
import { getPriority, setPriority } from "node:os";

/** The highest nice value Linux accepts (the lowest priority). */
const MAX_NICE = 19;

/** The calling thread's kernel id, or undefined where /proc/thread-self does not exist (not Linux). */
export function currentThreadId(): number | undefined {
  try {
    const id = Number(readlinkSync("/proc/thread-self").split("/").pop());
    return Number.isInteger(id) && id > 0 ? id : undefined;
  } catch {
    return undefined;
  }
}

export type PriorityOutcome =
  | { readonly kind: "lowered"; readonly threadId: number; readonly nice: number }
  | { readonly kind: "unchanged"; readonly reason: string };

/** Adds `increment` to the calling thread's nice value (capped at 19). */
export function lowerThreadPriority(increment: number): PriorityOutcome {
  if (increment === 0) return { kind: "unchanged", reason: "CUTOVER_WORKER_NICE is 0" };
  const threadId = currentThreadId();
  if (threadId === undefined)
    return { kind: "unchanged", reason: "per-thread priority needs Linux (/proc/thread-self)" };
  try {
    const nice = Math.min(MAX_NICE, getPriority(threadId) + increment);
    setPriority(threadId, nice);
    return { kind: "lowered", threadId, nice: getPriority(threadId) };
  } catch (error) {
    return { kind: "unchanged", reason: error instanceof Error ? error.message : String(error) };
  }
}
