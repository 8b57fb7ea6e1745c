/**
 * A rollout's own checks on Prometheus (controller/progressive/metric-checks.ts) and the client that
 * asks it (prometheus-client.ts): the metric names a query selects, placeholders, the --check flag,
 * how a check's verdict joins the built-in analysis, and a Prometheus that is silent, answers
 * garbage or an HTTP error (real servers on loopback) — inconclusive with the reason, never a pass.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  addChecks,
  fillPlaceholders,
  judgeChecks,
  metricNamesIn,
  parseCheckFlag,
} from "../../controller/progressive/metric-checks.js";
import { PrometheusClient } from "../../controller/progressive/prometheus-client.js";
import type { AnalysisResult } from "../../core/progressive.js";
import { type SilentServer, startSilentServer } from "../support/silent-server.js";

describe("the metric names a query selects", () => {
  it("finds metrics, not functions, aggregations, keywords, labels, strings, durations or numbers", () => {
    expect(
      metricNamesIn(
        `histogram_quantile(0.99, sum by (le, version) (rate(cutover_infer_duration_seconds_bucket{model="a",le!="b c"}[1m] offset 5m))) > bool 1e3`,
      ),
    ).toEqual(["cutover_infer_duration_seconds_bucket"]);
    expect(
      metricNamesIn(
        `sum(rate(errors_total{code=~"5.."}[5m])) / ignoring(code) group_left sum(rate(requests_total[5m])) or vector(0)`,
      ),
    ).toEqual(["errors_total", "requests_total"]);
    expect(metricNamesIn(`job:request_rate:5m{job="x"} and on(job) up`)).toEqual(["job:request_rate:5m", "up"]);
    expect(metricNamesIn("vector(1)")).toEqual([]);
  });
});

describe("placeholders and the --check flag", () => {
  it("fills {{model}}, {{version}}, {{baseline}} and refuses any other", () => {
    const context = { model: "vad", version: "v6", baseline: "v5" };
    expect(fillPlaceholders(`x{model="{{model}}",version=~"{{ version }}|{{baseline}}"}`, context)).toBe(
      `x{model="vad",version=~"v6|v5"}`,
    );
    expect(() => fillPlaceholders(`x{job="{{job}}"}`, context)).toThrow(/unknown placeholder \{\{job\}\}/);
  });

  it("takes NAME=QUERY<=BOUND or >=BOUND, the bound being the last comparison", () => {
    expect(parseCheckFlag(`errors=sum(rate(x{a="b"}[1m])) > 0 <= 0.05`)).toEqual({
      name: "errors",
      query: `sum(rate(x{a="b"}[1m])) > 0`,
      max: 0.05,
    });
    expect(parseCheckFlag("served = sum(up) >= 2")).toEqual({ name: "served", query: "sum(up)", min: 2 });
    expect(parseCheckFlag("tiny=x<=1e-3")).toMatchObject({ max: 0.001 });
    for (const bad of ["sum(up) <= 1", "name=sum(up)", "name=sum(up) < 1", "name= <= 1"]) {
      expect(() => parseCheckFlag(bad)).toThrow(/--check .*write NAME=QUERY<=BOUND/);
    }
  });
});

const builtIn: AnalysisResult = {
  at: "2026-12-07T00:00:00.000Z",
  step: 0,
  weight: 10,
  verdict: "pass",
  reason: "candidate v2: …; within thresholds",
  baseline: { requests: 600, failures: 0, errorRate: 0, p99Ms: 3 },
  candidate: { requests: 600, failures: 0, errorRate: 0, p99Ms: 3 },
};
const check = (verdict: "pass" | "fail" | "inconclusive") => ({
  name: verdict,
  query: "q",
  verdict,
  reason: `${verdict} said so`,
});

describe("a check's verdict beside the built-in analysis", () => {
  it("a failed check fails a passing step, an inconclusive one holds it; the checks' words lead when they decided", () => {
    expect(addChecks(builtIn, [check("pass")])).toMatchObject({
      verdict: "pass",
      reason: "candidate v2: …; within thresholds; checks: pass said so",
    });
    expect(addChecks(builtIn, [check("pass"), check("fail"), check("inconclusive")])).toMatchObject({
      verdict: "fail",
      reason: "checks: pass said so; fail said so; inconclusive said so; built-in: candidate v2: …; within thresholds",
    });
    expect(addChecks(builtIn, [check("inconclusive")]).verdict).toBe("inconclusive");
    expect(addChecks({ ...builtIn, verdict: "fail" }, [check("pass")]).verdict).toBe("fail");
    expect(addChecks(builtIn, [])).toBe(builtIn);
  });
});

describe("a Prometheus that cannot answer", () => {
  let silent: SilentServer;
  let garbage: Server;
  let garbageUrl: string;
  const context = { model: "demo", version: "v2", baseline: "v1" };
  const checks = [{ name: "errors", query: "sum(up)", max: 1 }];

  beforeAll(async () => {
    silent = await startSilentServer();
    garbage = createServer((request, response) => {
      const vector = (values: string[]) =>
        JSON.stringify({
          status: "success",
          data: { resultType: "vector", result: values.map((value) => ({ metric: {}, value: [1, value] })) },
        });
      if (request.url === "/api/v1/query?query=nan") response.writeHead(200).end(vector(["NaN"]));
      else if (request.url === "/api/v1/query?query=none") response.writeHead(200).end(vector([]));
      else if (request.url?.startsWith("/api/v1/query?query=sum%28up%29")) {
        response.writeHead(200, { "content-type": "application/json" }).end('{"status":"success","data":{"x":1}}');
      } else response.writeHead(502).end("bad gateway");
    });
    await new Promise<void>((resolve) => garbage.listen(0, "127.0.0.1", resolve));
    garbageUrl = `http://127.0.0.1:${(garbage.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await silent?.stop();
    await new Promise((resolve) => garbage?.close(resolve));
  });

  it("silent past the deadline, garbage, an HTTP error, or nowhere to ask: inconclusive with the reason", async () => {
    const [slow] = await judgeChecks(new PrometheusClient(silent.httpUrl, 300), checks, context);
    expect(slow).toMatchObject({ verdict: "inconclusive", reason: expect.stringMatching(/no answer within 300 ms$/) });
    expect(slow?.values).toBeUndefined();
    const [junk] = await judgeChecks(new PrometheusClient(garbageUrl, 2_000), checks, context);
    expect(junk?.reason).toMatch(/its answer to a query is not the query API's JSON$/);
    const client = new PrometheusClient(garbageUrl, 2_000);
    const [failing] = await judgeChecks(client, [{ name: "other", query: "sum(x)", max: 1 }], context);
    expect(failing).toMatchObject({ verdict: "inconclusive", reason: expect.stringMatching(/: HTTP 502$/) });
    await expect(client.metricNames()).rejects.toMatchObject({ code: "PROMETHEUS_UNREACHABLE" });
    const [nan, empty] = await judgeChecks(
      client,
      [
        { name: "nan", query: "nan", max: 1 },
        { name: "none", query: "none", max: 1 },
      ],
      context,
    );
    expect(nan).toMatchObject({ verdict: "inconclusive", reason: "nan = NaN: not a number to judge (bound ≤ 1)" });
    expect(empty).toMatchObject({ verdict: "inconclusive", reason: "none returned no series (bound ≤ 1)" });
    const [none] = await judgeChecks(null, checks, context);
    expect(none).toMatchObject({
      verdict: "inconclusive",
      reason: "errors not asked: CUTOVER_PROMETHEUS_URL is not set",
    });
  });
});
