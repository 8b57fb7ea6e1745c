/**
 * The baseline for the heavy-model throughput figure: onnxruntime-node alone, with no HTTP, no JSON
 * and no node around it — N worker threads, each with its own session of THREADS intra-op threads,
 * running the same input back to back for MS milliseconds. Prints one JSON line: the runs started in
 * the window, and the seconds until the last of them ended (as tests/bench/load-worker.mjs counts).
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
    runs++;
  }
  parentPort.postMessage({ runs, finishedAt: performance.now() + performance.timeOrigin });
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
const started = performance.timeOrigin + performance.now();
const until = started + ms;
const counts = await Promise.all(
  workers.map((worker) => {
    const done = new Promise((resolve) => worker.once("message", resolve));
    worker.postMessage(until);
    return done;
  }),
);
// Like tests/bench/load-worker.mjs: every run started in the window counts, and the time runs until the last ends.
const runs = counts.reduce((sum, count) => sum + count.runs, 0);
const seconds = (Math.max(...counts.map((count) => count.finishedAt)) - started) / 1000;
process.stdout.write(`${JSON.stringify({ runs, seconds })}\n`);
// Each worker releases its session and ends by itself (terminating one inside onnxruntime aborts the process).
