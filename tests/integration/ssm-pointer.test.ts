import {
  GetParameterCommand,
  ParameterAlreadyExists,
  ParameterNotFound,
  PutParameterCommand,
  SSMClient,
} from "@aws-sdk/client-ssm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SsmPointerStore } from "../../controller/state/ssm-pointer-store.js";
import { type ControllerHarness, MODEL, startControllerHarness, TOKEN } from "../support/controller-harness.js";
import { type SsmTestServer, startSsmServer } from "../support/ssm-server.js";

let ssm: SsmTestServer;
let harness: ControllerHarness;
const credentials = { accessKeyId: "test", secretAccessKey: "test" };

beforeAll(async () => {
  [ssm, harness] = await Promise.all([startSsmServer(), startControllerHarness()]);
});
afterAll(async () => {
  await ssm.stop();
  await harness.stop();
});

/** Reads a parameter back through the real SDK, whichever server answers (LocalStack or the stand-in). */
async function parameter(name: string): Promise<{ value: unknown; version: number | undefined }> {
  const client = new SSMClient({ endpoint: ssm.endpoint, region: "us-east-1", credentials });
  try {
    const { Parameter } = await client.send(new GetParameterCommand({ Name: name }));
    return { value: JSON.parse(Parameter?.Value ?? "null"), version: Parameter?.Version };
  } finally {
    client.destroy();
  }
}

describe("the SSM server behaves like SSM for the calls cutover makes", () => {
  it("ParameterNotFound, ParameterAlreadyExists without Overwrite, versions counting from 1", async () => {
    const client = new SSMClient({ endpoint: ssm.endpoint, region: "us-east-1", credentials });
    try {
      await expect(client.send(new GetParameterCommand({ Name: "/t/missing" }))).rejects.toBeInstanceOf(
        ParameterNotFound,
      );
      expect((await client.send(new PutParameterCommand({ Name: "/t/a", Value: "1", Type: "String" }))).Version).toBe(
        1,
      );
      await expect(
        client.send(new PutParameterCommand({ Name: "/t/a", Value: "2", Type: "String" })),
      ).rejects.toBeInstanceOf(ParameterAlreadyExists);
      expect(
        (await client.send(new PutParameterCommand({ Name: "/t/a", Value: "2", Type: "String", Overwrite: true })))
          .Version,
      ).toBe(2);
      expect((await client.send(new GetParameterCommand({ Name: "/t/a" }))).Parameter).toMatchObject({
        Value: "2",
        Version: 2,
      });
    } finally {
      client.destroy();
    }
  });
});

describe("the SSM pointer store", () => {
  it("reads nothing for a new model, then what it wrote; a bad path is refused", async () => {
    const store = new SsmPointerStore({ path: "/cutover/unit", endpoint: ssm.endpoint, credentials });
    expect(await store.read("demo")).toBeUndefined();
    const pointer = {
      active: "v1",
      previous: null,
      revision: 1,
      updatedAt: "2026-11-21T00:00:00.000Z",
      updatedBy: "alice",
    };
    await store.write("demo", pointer);
    expect(await store.read("demo")).toEqual(pointer);
    expect((await parameter("/cutover/unit/demo")).version).toBe(1);
    store.close();
    expect(() => new SsmPointerStore({ path: "cutover" })).toThrow(expect.objectContaining({ code: "INVALID_CONFIG" }));
  });
});

describe("a controller with CUTOVER_STATE=ssm", () => {
  const activate = async (controller: Awaited<ReturnType<ControllerHarness["controller"]>>, version: string) => {
    const response = await controller.app.request(`/v1/models/${MODEL}/activate`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ version, timeoutMs: 20_000 }),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };

  it("keeps the pointer in SSM, so a Redis that lost everything picks it up again", async () => {
    const prefix = "ssm:";
    const controller = await harness.controller(
      prefix,
      {},
      { pointers: { kind: "ssm", path: "/cutover/it", endpoint: ssm.endpoint, region: "us-east-1" } },
    );
    await harness.node(prefix, "n1", {});
    // A rollout needs a live node: after a Redis restart, wait for the node's next heartbeat.
    const nodeBack = () =>
      expect.poll(() => controller.fleet.listNodes().then((nodes) => nodes.length), { timeout: 10_000 }).toBe(1);
    expect((await activate(controller, "v1")).body).toMatchObject({ to: "v1", revision: 1 });
    expect((await parameter(`/cutover/it/${MODEL}`)).value).toMatchObject({
      active: "v1",
      revision: 1,
      updatedBy: "alice",
    });

    await harness.redis.kill();
    await harness.redis.start();
    await expect.poll(() => controller.fleet.getModelState(MODEL).then((s) => s.revision), { timeout: 10_000 }).toBe(0);
    await nodeBack();

    const second = await activate(controller, "v2");
    expect(second.body).toMatchObject({ from: "v1", to: "v2", revision: 2 });
    expect((await parameter(`/cutover/it/${MODEL}`)).value).toMatchObject({
      active: "v2",
      previous: "v1",
      revision: 2,
    });

    await harness.redis.kill();
    await harness.redis.start();
    await nodeBack();
    const rollback = await controller.app.request(`/v1/models/${MODEL}/rollback`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ timeoutMs: 20_000 }),
    });
    expect(await rollback.json()).toMatchObject({ from: "v2", to: "v1", revision: 3 });
  }, 90_000); // two Redis restarts and three rollouts: slow on a loaded 2-core CI box

  it("an unreachable SSM fails the activation with STATE_UNREACHABLE and moves nothing", async () => {
    const prefix = "ssm-down:";
    const controller = await harness.controller(
      prefix,
      {},
      { pointers: { kind: "ssm", path: "/cutover/down", endpoint: "http://127.0.0.1:9", region: "us-east-1" } },
    );
    const result = await activate(controller, "v1");
    expect(result.status).toBe(503);
    expect((result.body.error as { code: string }).code).toBe("STATE_UNREACHABLE");
    expect((await controller.fleet.getModelState(MODEL)).active).toBeNull();
  });
});
