/**
 * The baseline for the heavy-model throughput figure: onnxruntime-node alone, with no HTTP, no JSON
 * and no node around it — N worker threads, each with its own session of THREADS intra-op threads,
 * running the same input back to back for MS milliseconds. Prints one JSON line: runs finished in
 * the window, and the window in seconds.
 *
 *   node tests/bench/bare-workers.mjs MODEL_FILE INSTANCES THREADS MS INPUT_JSON
 *
 * INPUT_JSON is an OIP request body (FP32 inputs). Plain JavaScript, so that it runs as written.
 */
import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";

const [modelFile, instancesText, threadsText, msText, body] = process.argv.slice(2);
if (modelFile === undefined || instancesText === undefined || threadsText === undefined || msText === undefined) {
  process.stderr.write("usage: bare-workers.mjs MODEL_FILE INSTANCES THREADS MS INPUT_JSON\n");
  process.exit(2);
}
const ortPath = createRequire(import.meta.url).resolve("onnxruntime-node");
const WORKER = `
const { parentPort, workerData } = require("node:worker_threads");
const ort = require(workerData.ortPath);
(async () => {
  const session = await ort.InferenceSession.create(workerData.modelFile, {
    executionProviders: ["cpu"],
    intraOpNumThreads: workerData.threads,
  });
  const feeds = {};
  for (const input of JSON.parse(workerData.body).inputs) {
    feeds[input.name] = new ort.Tensor("float32", Float32Array.from(input.data), input.shape);
  }
  await session.run(feeds);
  parentPort.postMessage("ready");
  const until = await new Promise((resolve) => parentPort.once("message", resolve));
  let runs = 0;
  while (performance.now() + performance.timeOrigin < until) {
    await session.run(feeds);
    if (performance.now() + performance.timeOrigin <= until) runs++;
  }
  parentPort.postMessage(runs);
  await session.release();
})();
`;
const workers = Array.from(
  { length: Number(instancesText) },
  () =>
    new Worker(WORKER, {
      eval: true,
      workerData: { ortPath, modelFile, threads: Number(threadsText), body },
    }),
);
await Promise.all(workers.map((worker) => new Promise((resolve) => worker.once("message", resolve))));
const ms = Number(msText);
const until = performance.timeOrigin + performance.now() + ms;
const counts = await Promise.all(
  workers.map((worker) => {
    const done = new Promise((resolve) => worker.once("message", resolve));
    worker.postMessage(until);
    return done;
  }),
);
process.stdout.write(
  `${JSON.stringify({ runs: counts.reduce((sum, count) => sum + count, 0), seconds: ms / 1000 })}\n`,
);
await Promise.all(workers.map((worker) => worker.terminate()));
