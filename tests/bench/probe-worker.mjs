/**
 * Latency of a cheap GET (e.g. /v2/health/live) in a process of its own: one keep-alive connection,
 * one request every INTERVAL_MS for MS milliseconds. Prints one JSON line: answers, failures and the
 * latency percentiles in ms.
 *
 *   node tests/bench/probe-worker.mjs URL MS INTERVAL_MS
 *
 * Plain JavaScript, so that it runs as written.
 */
import { Agent, get } from "node:http";

const [url, msText, intervalText] = process.argv.slice(2);
if (url === undefined || msText === undefined || intervalText === undefined) {
  process.stderr.write("usage: probe-worker.mjs URL MS INTERVAL_MS\n");
  process.exit(2);
}
const agent = new Agent({ keepAlive: true, maxSockets: 1 });
const probe = () =>
  new Promise((resolve) => {
    const request = get(url, { agent }, (response) => {
      response.resume();
      response.on("end", () => resolve(response.statusCode === 200));
    });
    request.on("error", () => resolve(false));
  });
const latencies = [];
let failed = 0;
const end = performance.now() + Number(msText);
while (performance.now() < end) {
  const sent = performance.now();
  if (await probe()) latencies.push(performance.now() - sent);
  else failed++;
  await new Promise((resolve) => setTimeout(resolve, Number(intervalText)));
}
latencies.sort((a, b) => a - b);
const at = (p) => latencies[Math.min(latencies.length - 1, Math.ceil(p * latencies.length) - 1)] ?? 0;
process.stdout.write(
  `${JSON.stringify({ ok: latencies.length, failed, p50: at(0.5), p99: at(0.99), max: latencies.at(-1) ?? 0 })}\n`,
);
agent.destroy();
