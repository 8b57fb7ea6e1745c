/**
 * Starts a session worker thread from the compiled entry (dist/…/session-worker.js) or, when this
 * module itself runs from TypeScript source (vitest, tsx), from session-worker.ts through tsx's
 * loader: a worker does not inherit the loader hooks of the thread that made it.
 */
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import type { WorkerSetup } from "./worker-protocol.js";

const FROM_SOURCE = import.meta.url.endsWith(".ts");

function sourceBootstrap(): string {
  const tsxRoot = dirname(createRequire(import.meta.url).resolve("tsx/package.json"));
  const api = pathToFileURL(join(tsxRoot, "dist/esm/api/index.mjs")).href;
  const entry = new URL("./session-worker.ts", import.meta.url).href;
  return `import(${JSON.stringify(api)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); })`;
}

/**
 * A new worker thread that opens a session as `setup` says and then serves run messages. It does not
 * keep the process alive by itself (unref): a node whose last lease never ends still exits after its
 * drain, as it did when sessions ran on the main thread.
 */
export function spawnSessionWorker(setup: WorkerSetup): Worker {
  const worker = FROM_SOURCE
    ? new Worker(sourceBootstrap(), { eval: true, workerData: setup })
    : new Worker(new URL("./session-worker.js", import.meta.url), { workerData: setup });
  worker.unref();
  return worker;
}
