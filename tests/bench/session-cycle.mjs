// The memory baseline: onnxruntime-node alone, creating a session, running it 3 times and releasing
// it, `cycles` times — what every swap does on a node with CUTOVER_KEEP_WARM=0, without cutover.
// Prints one JSON line: [cycles done, RSS MiB after a full collection] after 50 and every 100.
//
//   node --expose-gc tests/bench/session-cycle.mjs MODEL_FILE CYCLES
import * as ort from "onnxruntime-node";

const [file, cyclesText] = process.argv.slice(2);
const cycles = Number(cyclesText);
const input = (await ort.InferenceSession.create(file)).inputNames[0] ?? "input";
const feeds = { [input]: new ort.Tensor("float32", new Float32Array(4), [1, 4]) };
const trend = [];
for (let i = 1; i <= cycles; i++) {
  const session = await ort.InferenceSession.create(file, { executionProviders: ["cpu"], intraOpNumThreads: 1 });
  for (let run = 0; run < 3; run++) await session.run(feeds);
  await session.release();
  if (i === 50 || (i % 100 === 0 && i > 50) || i === cycles) {
    globalThis.gc();
    await new Promise((resolve) => setTimeout(resolve, 50));
    trend.push([i, process.memoryUsage().rss / 2 ** 20]);
  }
}
process.stdout.write(`${JSON.stringify(trend)}\n`);
