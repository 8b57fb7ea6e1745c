/**
 * The controller's reader of Prometheus's HTTP API (CUTOVER_PROMETHEUS_URL): instant queries
 * (`/api/v1/query`) and the metric names it holds (`/api/v1/label/__name__/values`). Every call has a
 * deadline. A query Prometheus refuses (its `bad_data`: a syntax error, a bad function) is an
 * InputError with Prometheus's words; no answer in time, a refused connection, an HTTP error or an
 * answer that is not the API's JSON is PROMETHEUS_UNREACHABLE — never a value.
 */
import { z } from "zod";
import { CutoverError, ErrorCode, errorMessage, InputError } from "../../core/errors.js";

/** What an instant query returned: one value per series (a scalar is one), in Prometheus's order. */
export interface QueryValues {
  readonly values: readonly number[];
  /** Each series's labels in PromQL's form, `{code="500"}`, beside its value ("" for none, a scalar). */
  readonly series: readonly string[];
}

const sample = z.tuple([z.number(), z.string()]);
const answerSchema = z.discriminatedUnion("status", [
  z.object({
    status: z.literal("success"),
    data: z.discriminatedUnion("resultType", [
      z.object({
        resultType: z.literal("vector"),
        result: z.array(z.object({ metric: z.record(z.string(), z.string()), value: sample })),
      }),
      z.object({ resultType: z.literal("scalar"), result: sample }),
      z.object({ resultType: z.literal("matrix"), result: z.array(z.unknown()) }),
      z.object({ resultType: z.literal("string"), result: sample }),
    ]),
  }),
  z.object({ status: z.literal("error"), errorType: z.string(), error: z.string() }),
]);
const namesSchema = z.object({ status: z.literal("success"), data: z.array(z.string()) });

/** Prometheus writes special values as strings: "NaN", "+Inf", "-Inf". */
function sampleValue(text: string): number {
  if (text === "+Inf") return Number.POSITIVE_INFINITY;
  if (text === "-Inf") return Number.NEGATIVE_INFINITY;
  return Number(text);
}

/** A series's labels as PromQL writes them, `{code="500"}`; "" for none (an aggregate over all). */
function labelsOf(metric: Record<string, string>): string {
  const pairs = Object.entries(metric).map(([name, value]) => `${name}=${JSON.stringify(value)}`);
  return pairs.length === 0 ? "" : `{${pairs.join(",")}}`;
}

export class PrometheusClient {
  constructor(
    readonly url: string,
    private readonly timeoutMs: number,
  ) {}

  /** An instant query now. */
  async query(promql: string): Promise<QueryValues> {
    const answer = answerSchema.safeParse(await this.get("/api/v1/query", { query: promql }));
    if (!answer.success) throw this.unreachable(`its answer to a query is not the query API's JSON`);
    const body = answer.data;
    if (body.status === "error") {
      if (body.errorType === "bad_data") throw new InputError(`Prometheus refuses the query: ${body.error}`);
      throw this.unreachable(`it could not run the query (${body.errorType}: ${body.error})`);
    }
    const { data } = body;
    switch (data.resultType) {
      case "vector":
        return {
          values: data.result.map((one) => sampleValue(one.value[1])),
          series: data.result.map((one) => labelsOf(one.metric)),
        };
      case "scalar":
        return { values: [sampleValue(data.result[1])], series: [""] };
      default:
        throw new InputError(
          `the query returns a ${data.resultType}, not a number per series: a check needs an instant vector or a scalar (a range selector such as [1m] belongs inside rate() or *_over_time())`,
        );
    }
  }

  /** Every metric name Prometheus holds a series of. */
  async metricNames(): Promise<Set<string>> {
    const answer = namesSchema.safeParse(await this.get("/api/v1/label/__name__/values", {}));
    if (!answer.success) throw this.unreachable("its list of metric names is not the API's JSON");
    return new Set(answer.data.data);
  }

  private async get(path: string, params: Record<string, string>): Promise<unknown> {
    const target = new URL(path.replace(/^\//, ""), this.url.endsWith("/") ? this.url : `${this.url}/`);
    for (const [name, value] of Object.entries(params)) target.searchParams.set(name, value);
    let response: Response;
    try {
      response = await fetch(target, { signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (error) {
      const timedOut = error instanceof Error && error.name === "TimeoutError";
      throw this.unreachable(timedOut ? `no answer within ${this.timeoutMs} ms` : errorMessage(error));
    }
    const text = await response.text().catch(() => "");
    // Prometheus answers a refused query with 400 (bad_data) or 422 (execution) and its JSON error.
    if (!response.ok && response.status !== 400 && response.status !== 422) {
      throw this.unreachable(`HTTP ${response.status}`);
    }
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw this.unreachable(`HTTP ${response.status} with a body that is not JSON`);
    }
  }

  private unreachable(why: string): CutoverError {
    return new CutoverError(ErrorCode.PrometheusUnreachable, `Prometheus at ${this.url}: ${why}`);
  }
}
