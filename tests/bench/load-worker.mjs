/**
 * A load generator in a process of its own, so that its CPU is not the server's event loop: `concurrency`
 * keep-alive connections, each sending the same OIP infer request back to back for `ms` milliseconds.
 * Prints one JSON line: requests answered 200, other answers, and latency percentiles in ms.
 *
 *   node tests/bench/load-worker.mjs URL CONCURRENCY MS BODY_JSON
 *
 * Plain JavaScript, so that it runs as written (no loader, no transform).
 */
import { Agent, request } from "node:http";

const [url, concurrencyText, msText, body] = process.argv.slice(2);
if (url === undefined || concurrencyText === undefined || msText === undefined || body === undefined) {
  process.stderr.write("usage: load-worker.mjs URL CONCURRENCY MS BODY_JSON\n");
  process.exit(2);
}
const concurrency = Number(concurrencyText);
const target = new URL(url);
const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
const payload = Buffer.from(body);

function send() {
  return new Promise((resolve) => {
    const req = request(
      {
        agent,
        host: target.hostname,
        port: target.port,
        path: target.pathname,
        method: "POST",
        headers: { "content-type": "application/json", "content-length": payload.length },
      },
      (response) => {
        response.on("data", () => {});
        response.on("end", () => resolve(response.statusCode ?? 0));
        response.on("error", () => resolve(0));
      },
    );
    req.on("error", () => resolve(0));
    req.end(payload);
  });
}

const latencies = [];
let ok = 0;
let failed = 0;
const until = performance.now() + Number(msText);
const started = performance.now();
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    while (performance.now() < until) {
      const sent = performance.now();
      const status = await send();
      latencies.push(performance.now() - sent);
      if (status === 200) ok++;
      else failed++;
    }
  }),
);
const seconds = (performance.now() - started) / 1000;
latencies.sort((a, b) => a - b);
const at = (p) => latencies[Math.min(latencies.length - 1, Math.ceil(p * latencies.length) - 1)] ?? 0;
process.stdout.write(`${JSON.stringify({ ok, failed, seconds, p50: at(0.5), p99: at(0.99) })}\n`);
agent.destroy();
