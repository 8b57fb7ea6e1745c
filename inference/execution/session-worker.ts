/**
 * Entry of a session worker thread: opens its own onnxruntime session from the model file — on the
 * first provider chain that takes it, the node's fallback done here, so that no session is ever
 * created on the node's main thread — reports the chain and the model's signature, then runs what it
 * is sent, one run at a time. `session.run` blocks this thread, not the node's event loop.
 */
import { parentPort, workerData } from "node:worker_threads";
import * as ort from "onnxruntime-node";
import { errorMessage } from "../../core/errors.js";
import { signatureOfSession } from "../../core/onnx-signature.js";
import { lowerThreadPriority } from "./thread-priority.js";
import { tensorsFromWire, tensorsToWire } from "./wire-tensor.js";
import { type FromWorker, toWorkerSchema, type WorkerSetup, workerSetupSchema } from "./worker-protocol.js";

const port = parentPort;
if (port === null) throw new Error("session-worker.ts runs only as a worker thread");

function send(message: FromWorker, transfer: ArrayBuffer[] = []): void {
  port?.postMessage(message, transfer);
}

/**
 * A session on the first provider chain that takes the model (the setup's, then its fallbacks), or
 * why none did: each chain named with onnxruntime's error.
 */
async function openFirst(
  setup: WorkerSetup,
): Promise<{ session: ort.InferenceSession; chain: string[]; skipped: string[] } | { failed: string }> {
  const skipped: string[] = [];
  for (const chain of [setup.executionProviders, ...(setup.fallbacks ?? [])]) {
    try {
      const session = await ort.InferenceSession.create(setup.modelPath, {
        executionProviders: chain,
        ...(setup.intraOpThreads !== undefined ? { intraOpNumThreads: setup.intraOpThreads } : {}),
      });
      return { session, chain, skipped };
    } catch (error) {
      skipped.push(`${chain[0]}: ${errorMessage(error)}`);
    }
  }
  return { failed: skipped.join("; ") };
}

async function serve(): Promise<void> {
  let session: ort.InferenceSession;
  let running = false;
  let priority: Extract<FromWorker, { kind: "opened" }>["priority"];
  let chosen: Pick<Extract<FromWorker, { kind: "opened" }>, "executionProviders" | "skipped" | "signature">;
  try {
    const setup = workerSetupSchema.parse(workerData);
    // Before the session exists, so that onnxruntime's intra-op threads inherit the lower priority.
    const outcome = lowerThreadPriority(setup.nice ?? 0);
    priority =
      outcome.kind === "lowered" ? { threadId: outcome.threadId, nice: outcome.nice } : { unchanged: outcome.reason };
    const opened = await openFirst(setup);
    if ("failed" in opened) {
      send({ kind: "open-failed", message: opened.failed });
      return;
    }
    session = opened.session;
    chosen = { executionProviders: opened.chain, skipped: opened.skipped, signature: signatureOfSession(session) };
  } catch (error) {
    send({ kind: "open-failed", message: errorMessage(error) });
    return;
  }
  let exitCode: number | undefined;
  port?.on("message", (raw: unknown) => {
    const message = toWorkerSchema.parse(raw);
    if (message.kind === "exit") {
      exitCode = message.code;
      if (!running) process.exit(message.code);
      return;
    }
    if (message.kind === "release") {
      void session.release().finally(() => port?.close());
      return;
    }
    const started = performance.now();
    const feeds = tensorsFromWire(message.feeds);
    running = true;
    const run = message.outputs === undefined ? session.run(feeds) : session.run(feeds, message.outputs);
    // The answer leaves on the next turn of the loop, after messages that came during the run: an
    // `exit` sent while the run was in progress ends the worker before it answers.
    const answer = (reply: () => void) =>
      setImmediate(() => {
        running = false;
        if (exitCode !== undefined) process.exit(exitCode);
        reply();
      });
    run.then(
      (results) =>
        answer(() => {
          const computeMs = performance.now() - started;
          const transfer: ArrayBuffer[] = [];
          const outputs = tensorsToWire(results, transfer);
          send({ kind: "ran", id: message.id, outputs, computeMs }, transfer);
        }),
      (error: unknown) => answer(() => send({ kind: "run-failed", id: message.id, message: errorMessage(error) })),
    );
  });
  send({ kind: "opened", priority, ...chosen });
}

await serve();
