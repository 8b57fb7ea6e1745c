import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Controller } from "../../controller/controller.js";
import { type ControllerHarness, MODEL, startControllerHarness, TOKEN } from "../support/controller-harness.js";
import { infer, startTestNode } from "../support/node-harness.js";

let harness: ControllerHarness;
let handler: typeof import("../../controller/lambda.js")["handler"];
let server: Controller;
let scripted: Awaited<ReturnType<ControllerHarness["node"]>>;
const PREFIX = "lambda:";

beforeAll(async () => {
  harness = await startControllerHarness();
  Object.assign(process.env, harness.env, { CUTOVER_REDIS_PREFIX: PREFIX });
  ({ handler } = await import("../../controller/lambda.js"));
  server = await harness.controller(PREFIX);
  scripted = await harness.node(PREFIX, "n1", {});
});
afterAll(() => harness.stop());

/** An API Gateway HTTP API (payload v2) event, as AWS sends it. */
function event(method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const now = Date.now();
  return {
    version: "2.0",
    routeKey: "$default",
    rawPath: path,
    rawQueryString: "",
    headers: { host: "abc123.execute-api.eu-west-1.amazonaws.com", "content-type": "application/json", ...headers },
    requestContext: {
      accountId: "123456789012",
      apiId: "abc123",
      domainName: "abc123.execute-api.eu-west-1.amazonaws.com",
      domainPrefix: "abc123",
      http: { method, path, protocol: "HTTP/1.1", sourceIp: "203.0.113.7", userAgent: "cutover-test" },
      requestId: `req-${now}`,
      routeKey: "$default",
      stage: "$default",
      time: new Date(now).toUTCString(),
      timeEpoch: now,
    },
    isBase64Encoded: false,
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  };
}

async function invoke(method: string, path: string, body?: unknown, headers?: Record<string, string>) {
  const lambdaEvent = event(method, path, body, headers) as unknown as Parameters<typeof handler>[0];
  const result = (await handler(lambdaEvent)) as { statusCode: number; body: string };
  return { status: result.statusCode, body: JSON.parse(result.body) as Record<string, unknown> };
}

describe("the controller as a Lambda function", () => {
  it("answers an API Gateway v2 event like the server: activate, then the same model detail", async () => {
    const denied = await invoke("POST", `/v1/models/${MODEL}/activate`, { version: "v1" });
    expect([denied.status, (denied.body.error as { code: string }).code]).toEqual([401, "UNAUTHORIZED"]);

    const activated = await invoke(
      "POST",
      `/v1/models/${MODEL}/activate`,
      { version: "v1" },
      { authorization: `Bearer ${TOKEN}` },
    );
    expect(activated.status).toBe(200);
    expect(activated.body).toMatchObject({ to: "v1", revision: 1, confirmed: 1 });

    const fromLambda = await invoke("GET", `/v1/models/${MODEL}`);
    const fromServer = await server.app.request(`/v1/models/${MODEL}`);
    expect(fromLambda.status).toBe(fromServer.status);
    const serverBody = (await fromServer.json()) as Record<string, unknown>;
    expect(fromLambda.body.state).toEqual(serverBody.state);
    expect(fromLambda.body.versions).toEqual(serverBody.versions);
  });
});

describe("the Lambda's scheduled event", () => {
  it("runs one reconcile pass: a canary whose bake is over moves to its next step", async () => {
    // A real node only: the split, its counts and its staged candidate are a real node's.
    await scripted.close();
    const node = await startTestNode(harness, PREFIX, "lambda-real", {});
    try {
      const started = await invoke(
        "POST",
        `/v1/models/${MODEL}/activate`,
        // The latency floors out of reach: a median of 10 requests on a busy box is not what this judges.
        { version: "v2", canary: [10, 50], minRequests: 5, maxP50Ratio: 1000, maxP99Ratio: 1000 },
        { authorization: `Bearer ${TOKEN}` },
      );
      expect(started.body).toMatchObject({ state: "progressing", weight: 10 });
      // Requests on the real node (the scripted one only confirms); the bake is 0, so the next pass judges.
      for (let i = 0; i < 100; i++) await infer(node.url);
      await expect
        .poll(async () => {
          const records = await server.fleet.listNodes();
          const split = records.find((record) => record.nodeId === "lambda-real")?.models[MODEL]?.split;
          return Object.values(split?.traffic ?? {}).reduce((sum, traffic) => sum + traffic.requests, 0);
        })
        .toBeGreaterThanOrEqual(100);
      const scheduled = {
        version: "0",
        id: "5f2a3b41-0d2e-4a8b-9c1e-000000000000",
        "detail-type": "Scheduled Event",
        source: "aws.events",
        account: "123456789012",
        time: new Date().toISOString(),
        region: "eu-west-1",
        resources: ["arn:aws:events:eu-west-1:123456789012:rule/cutover-reconcile"],
        detail: {},
      };
      const answer = await handler(scheduled as unknown as Parameters<typeof handler>[0]);
      expect(answer).toEqual({
        reconciled: [expect.objectContaining({ model: MODEL, state: "progressing", weight: 50 })],
      });
      expect((await server.fleet.getModelState(MODEL)).rollout?.progressive).toMatchObject({ weight: 50, step: 1 });
    } finally {
      await node.close();
    }
  });
});
