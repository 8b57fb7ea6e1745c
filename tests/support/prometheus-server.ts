/**
 * A real Prometheus server (Debian's `prometheus`, /usr/bin/prometheus) for a test file: on a free
 * port, its data in a temporary folder, scraping the given targets' /metrics every second. `kill`
 * stops it hard (SIGKILL) and `start` brings it back on the same port, to test Prometheus going away;
 * `until` polls one of its queries until the answer satisfies the test (events, not wall time).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { freePort, waitForPort } from "./free-port.js";
import { killHard } from "./kill-child.js";
import { tempDir } from "./temp-dir.js";

export const PROMETHEUS_BINARY = process.env.CUTOVER_PROMETHEUS ?? "/usr/bin/prometheus";

export interface PrometheusTestServer {
  readonly url: string;
  kill(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** The values of `query`'s series now (none: an empty list). */
  values(query: string): Promise<number[]>;
  /** Polls `query` until `accept` takes its values (at most `limitMs`, default 60 s: a bound, not a measure). */
  until(query: string, accept: (values: number[]) => boolean, limitMs?: number): Promise<number[]>;
}

interface VectorAnswer {
  status: string;
  data?: { result?: { value: [number, string] }[] };
}

/** Starts Prometheus scraping `targets` ("127.0.0.1:port", their /metrics) every second. */
export async function startPrometheus(targets: readonly string[]): Promise<PrometheusTestServer> {
  const port = await freePort();
  const work = await tempDir("cutover-prometheus-");
  const config = join(work.path, "prometheus.yml");
  await writeFile(
    config,
    [
      "global:",
      "  scrape_interval: 1s",
      "  scrape_timeout: 1s",
      "scrape_configs:",
      "  - job_name: cutover-nodes",
      "    static_configs:",
      `      - targets: [${targets.map((target) => JSON.stringify(target)).join(", ")}]`,
      "",
    ].join("\n"),
  );
  const url = `http://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  const start = async () => {
    child = spawn(
      PROMETHEUS_BINARY,
      [
        `--config.file=${config}`,
        `--web.listen-address=127.0.0.1:${port}`,
        `--storage.tsdb.path=${join(work.path, "data")}`,
        "--log.level=warn",
      ],
      { stdio: "ignore" },
    );
    child.on("error", (error) => {
      throw new Error(`${PROMETHEUS_BINARY} could not start (apt-get install prometheus): ${error.message}`);
    });
    await waitForPort(port);
    for (let tries = 0; ; tries++) {
      const ready = await fetch(`${url}/-/ready`).then(
        (response) => response.ok,
        () => false,
      );
      if (ready) return;
      if (tries > 600) throw new Error(`Prometheus on ${port} never became ready`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };
  const kill = async () => {
    const running = child;
    child = undefined;
    await killHard(running);
  };
  const values = async (query: string) => {
    const response = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(query)}`);
    const answer = (await response.json()) as VectorAnswer;
    return (answer.data?.result ?? []).map((series) => Number(series.value[1]));
  };
  await start();
  return {
    url,
    kill,
    start,
    values,
    async stop() {
      await kill();
      await work.cleanup();
    },
    async until(query, accept, limitMs = 60_000) {
      for (let waited = 0; ; waited += 250) {
        const now = await values(query).catch(() => []);
        if (accept(now)) return now;
        if (waited > limitMs) throw new Error(`Prometheus: ${query} gave [${now}], never what the test waits for`);
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    },
  };
}
