import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Controller } from "../../controller/controller.js";
import { type ControllerHarness, MODEL, startControllerHarness, TOKEN } from "../support/controller-harness.js";

let harness: ControllerHarness;
let handler: typeof import("../../controller/lambda.js")["handler"];
let server: Controller;
const PREFIX = "lambda:";

beforeAll(async () => {
  harness = await startControllerHarness();
  Object.assign(process.env, harness.env, { CUTOVER_REDIS_PREFIX: PREFIX });
  ({ handler } = await import("../../controller/lambda.js"));
  server = await harness.controller(PREFIX);
  await harness.node(PREFIX, "n1", {});
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
