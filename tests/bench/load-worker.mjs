/**
 * A load generator in a process of its own, so that neither the servers' event loops nor the process
 * that measures (API calls, timestamps) share its CPU time: `concurrency` keep-alive connections spread
 * over the URLs, each sending the same OIP infer request back to back, for `ms` milliseconds or, with
 * ms = 0, until SIGTERM. Prints one JSON line: requests answered 200, other answers (a refused or
 * broken connection counts), latency percentiles in ms, and how many answers named each model_version.
 * Requests sent in the first WARMUP_MS (connections opening, JIT) count as answers but not in latency.
 *
 *   node tests/bench/load-worker.mjs URL[,URL…] CONCURRENCY MS BODY_JSON [WARMUP_MS] [HEADERS_JSON]
 *        [ALT_BODY_JSON ALT_EVERY] [RATE]
 *
 * BODY_JSON may be @FILE: the body is that file's bytes (a body too large for an argument, or binary
 * tensor data); HEADERS_JSON adds request headers (e.g. Inference-Header-Content-Length). With
 * ALT_BODY_JSON, every ALT_EVERY-th request (counted over all connections) sends it instead (a share of
 * the traffic some version fails or refuses); RATE > 0 paces the requests to that many a second in all.
 *
 * Plain JavaScript, so that it runs as written (no loader, no transform).
 */
import { readFileSync } from "node:fs";
import { Agent, request } from "node:http";

const [urlList, concurrencyText, msText, body, warmupText, headersText, altText, altEveryText, rateText] =
  process.argv.slice(2);
if (urlList === undefined || concurrencyText === undefined || msText === undefined || body === undefined) {
  process.stderr.write("usage: load-worker.mjs URL[,URL…] CONCURRENCY MS BODY_JSON\n");
  process.exit(2);
}
const concurrency = Number(concurrencyText);
const targets = urlList.split(",").map((url) => new URL(url));
const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
const payload = body.startsWith("@") ? readFileSync(body.slice(1)) : Buffer.from(body);
const alternate = altText ? Buffer.from(altText) : null;
const altEvery = Number(altEveryText ?? 0);
const rate = Number(rateText ?? 0);
let sentCount = 0;
const extraHeaders = headersText ? JSON.parse(headersText) : {};
const VERSION = /"model_version":"([^"]+)"/;

function send(target) {
  sentCount++;
  const bytes = alternate !== null && altEvery > 0 && sentCount % altEvery === 0 ? alternate : payload;
  return new Promise((resolve) => {
    const req = request(
      {
        agent,
        host: target.hostname,
        port: target.port,
        path: target.pathname,
        method: "POST",
        headers: { "content-type": "application/json", ...extraHeaders, "content-length": bytes.length },
      },
      (response) => {
        let text = "";
        response.setEncoding("utf8");
        response.on("data", (chunk) => {
          text += chunk;
        });
        response.on("end", () => resolve({ status: response.statusCode ?? 0, version: VERSION.exec(text)?.[1] }));
        response.on("error", () => resolve({ status: 0 }));
      },
    );
    req.on("error", () => resolve({ status: 0 }));
    req.end(bytes);
  });
}

const latencies = [];
const versions = {};
let ok = 0;
let failed = 0;
let running = true;
const ms = Number(msText);
if (ms > 0) setTimeout(() => (running = false), ms);
else process.once("SIGTERM", () => (running = false));
const started = performance.now();
const measureFrom = started + Number(warmupText ?? 0);
await Promise.all(
  Array.from({ length: concurrency }, async (_, worker) => {
    for (let i = worker; running; i++) {
      if (rate > 0) {
        // The next slot of the shared schedule: request n leaves at started + n / rate.
        const due = started + (sentCount * 1000) / rate;
        const wait = due - performance.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        if (!running) break;
      }
      const sent = performance.now();
      const { status, version } = await send(targets[i % targets.length]);
      if (sent >= measureFrom) latencies.push(performance.now() - sent);
      if (status === 200) ok++;
      else failed++;
      if (version !== undefined) versions[version] = (versions[version] ?? 0) + 1;
    }
  }),
);
const seconds = (performance.now() - started) / 1000;
latencies.sort((a, b) => a - b);
const at = (p) => latencies[Math.min(latencies.length - 1, Math.ceil(p * latencies.length) - 1)] ?? 0;
process.stdout.write(`${JSON.stringify({ ok, failed, seconds, p50: at(0.5), p99: at(0.99), versions })}\n`);
agent.destroy();
