/**
 * Binary tensor data through a real node over HTTP: every datatype the codec supports round-trips
 * through an Identity model (models/all-types), binary and JSON inputs and outputs mix in one call,
 * malformed binary bodies get 400 or 413, and examples/binary-infer.mjs works against the node.
 */
import { execFile } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Controller } from "../../controller/controller.js";
import { pushVersion } from "../../controller/publisher.js";
import { ArtifactLayout } from "../../core/artifact-layout.js";
import { ModelRegistry } from "../../core/registry.js";
import { createObjectStore } from "../../core/store/index.js";
import { createNodeApp } from "../../inference/http/app.js";
import { InferEndpoint } from "../../inference/http/infer.js";
import { NodeMetrics } from "../../inference/metrics.js";
import { type ControllerHarness, MODEL, startControllerHarness, TOKEN } from "../support/controller-harness.js";
import { FEATURES, infer, startTestNode, type TestNode } from "../support/node-harness.js";
import { testKeyPair } from "../support/signing.js";
import { tempDir } from "../support/temp-dir.js";

const ROOT = join(import.meta.dirname, "../..");
const ALL_TYPES = "all-types";
const PREFIX = "binary:";

let harness: ControllerHarness;
let controller: Controller;
let node: TestNode;
let work: Awaited<ReturnType<typeof tempDir>>;

beforeAll(async () => {
  harness = await startControllerHarness();
  work = await tempDir();
  const key = testKeyPair();
  const publicKey = join(work.path, "all-types.pub");
  await writeFile(publicKey, key.publicPem);
  const config = harness.config(PREFIX);
  const registry = new ModelRegistry(createObjectStore(config.store), new ArtifactLayout(config.prefix));
  await pushVersion(registry, {
    path: join(ROOT, "models/all-types/v1"),
    model: ALL_TYPES,
    version: "v1",
    signingKey: key.signer,
  });
  registry.store.close();
  const trusted = [...config.trustedKeyPaths, publicKey];
  controller = await harness.controller(PREFIX, {}, { trustedKeyPaths: trusted });
  node = await startTestNode(harness, PREFIX, "bin1", { models: [MODEL, ALL_TYPES], trustedKeyPaths: trusted });
  for (const model of [MODEL, ALL_TYPES]) {
    const response = await controller.app.request(`/v1/models/${model}/activate`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ version: "v1", timeoutMs: 20_000 }),
    });
    expect(response.status).toBe(200);
  }
});

afterAll(async () => {
  await node?.close();
  await harness?.stop();
  await work?.cleanup();
});

const bytesOf = (view: ArrayBufferView) => Buffer.from(view.buffer, view.byteOffset, view.byteLength);

function bytesElements(strings: readonly string[]): Buffer {
  return Buffer.concat(
    strings.flatMap((text) => {
      const length = Buffer.alloc(4);
      length.writeUInt32LE(Buffer.byteLength(text));
      return [length, Buffer.from(text)];
    }),
  );
}

/** Per datatype: three values as binary, and (where JSON can carry them) the same values as JSON. */
const TYPES: { type: string; datatype: string; binary: Buffer; json?: unknown[] }[] = [
  { type: "bool", datatype: "BOOL", binary: Buffer.of(1, 0, 1), json: [true, false, true] },
  { type: "uint8", datatype: "UINT8", binary: bytesOf(Uint8Array.of(0, 255, 7)), json: [0, 255, 7] },
  { type: "int8", datatype: "INT8", binary: bytesOf(Int8Array.of(-128, 127, 0)), json: [-128, 127, 0] },
  { type: "uint16", datatype: "UINT16", binary: bytesOf(Uint16Array.of(0, 65535, 9)), json: [0, 65535, 9] },
  { type: "int16", datatype: "INT16", binary: bytesOf(Int16Array.of(-32768, 32767, 1)), json: [-32768, 32767, 1] },
  { type: "uint32", datatype: "UINT32", binary: bytesOf(Uint32Array.of(0, 4294967295, 3)), json: [0, 4294967295, 3] },
  {
    type: "int32",
    datatype: "INT32",
    binary: bytesOf(Int32Array.of(-(2 ** 31), 2 ** 31 - 1, 2)),
    json: [-(2 ** 31), 2 ** 31 - 1, 2],
  },
  // 64-bit integers past 2^53, which JSON numbers cannot carry: binary carries them exactly.
  { type: "uint64", datatype: "UINT64", binary: bytesOf(BigUint64Array.of(0n, 2n ** 64n - 1n, 5n)) },
  { type: "int64", datatype: "INT64", binary: bytesOf(BigInt64Array.of(-(2n ** 63n), 2n ** 63n - 1n, 3n)) },
  // 1.5, -2 and NaN in half precision.
  { type: "fp16", datatype: "FP16", binary: bytesOf(Uint16Array.of(0x3e00, 0xc000, 0x7e00)) },
  { type: "fp32", datatype: "FP32", binary: bytesOf(Float32Array.of(0.25, Number.NaN, Number.NEGATIVE_INFINITY)) },
  { type: "fp64", datatype: "FP64", binary: bytesOf(Float64Array.of(0.1, 1e300, Number.POSITIVE_INFINITY)) },
  { type: "bytes", datatype: "BYTES", binary: bytesElements(["", "héllo 🙂", "a\tb"]), json: ["", "héllo 🙂", "a\tb"] },
];

interface BinaryAnswer {
  status: number;
  contentType: string | null;
  headerLength: string | null;
  json: {
    model_version?: string;
    error?: string;
    outputs?: {
      name: string;
      datatype: string;
      shape: number[];
      data?: unknown[];
      parameters?: { binary_data_size?: number };
    }[];
  };
  /** Each binary output's bytes, by name. */
  binary: Map<string, Buffer>;
}

async function readAnswer(response: Response): Promise<BinaryAnswer> {
  const bytes = Buffer.from(await response.arrayBuffer());
  const headerLength = response.headers.get("inference-header-content-length");
  const length = headerLength === null ? bytes.length : Number(headerLength);
  const json = JSON.parse(bytes.subarray(0, length).toString("utf8")) as BinaryAnswer["json"];
  const binary = new Map<string, Buffer>();
  let offset = length;
  for (const output of json.outputs ?? []) {
    const size = output.parameters?.binary_data_size;
    if (size === undefined) continue;
    binary.set(output.name, bytes.subarray(offset, offset + size));
    offset += size;
  }
  expect(offset).toBe(bytes.length);
  return { status: response.status, contentType: response.headers.get("content-type"), headerLength, json, binary };
}

/** A binary request: the JSON header, then the byte chunks, with Inference-Header-Content-Length. */
function binaryBody(header: unknown, chunks: readonly Uint8Array[]): { body: Buffer; headerLength: string } {
  const json = Buffer.from(JSON.stringify(header));
  return { body: Buffer.concat([json, ...chunks]), headerLength: String(json.length) };
}

async function post(model: string, body: Buffer, headerLength?: string): Promise<Response> {
  return fetch(`${node.url}/v2/models/${model}/infer`, {
    method: "POST",
    headers: {
      "content-type": "application/octet-stream",
      ...(headerLength === undefined ? {} : { "inference-header-content-length": headerLength }),
    },
    body,
    signal: AbortSignal.timeout(15_000),
  });
}

describe("binary tensor data round-trips every datatype through a node", () => {
  it("all inputs binary, all outputs binary (binary_data_output): the same bytes come back", async () => {
    const { body, headerLength } = binaryBody(
      {
        id: "all",
        inputs: TYPES.map(({ type, datatype, binary }) => ({
          name: `x_${type}`,
          shape: [3],
          datatype,
          parameters: { binary_data_size: binary.length },
        })),
        parameters: { binary_data_output: true },
      },
      TYPES.map(({ binary }) => binary),
    );
    const answer = await readAnswer(await post(ALL_TYPES, body, headerLength));
    expect(answer.status).toBe(200);
    expect(answer.contentType).toBe("application/octet-stream");
    expect(answer.headerLength).not.toBeNull();
    expect(answer.json.model_version).toBe("v1");
    for (const { type, datatype, binary } of TYPES) {
      const output = answer.json.outputs?.find((candidate) => candidate.name === `y_${type}`);
      expect(output).toEqual({
        name: `y_${type}`,
        datatype,
        shape: [3],
        parameters: { binary_data_size: binary.length },
      });
      expect(answer.binary.get(`y_${type}`)?.equals(binary), type).toBe(true);
    }
  });

  it("binary and JSON mix: JSON inputs beside binary ones, some outputs binary and the others JSON", async () => {
    // Even-indexed datatypes go in as JSON where JSON carries them; outputs alternate binary / JSON.
    const asJson = (i: number) => i % 2 === 0 && TYPES[i]?.json !== undefined;
    const { body, headerLength } = binaryBody(
      {
        inputs: TYPES.map(({ type, datatype, binary, json }, i) => ({
          name: `x_${type}`,
          shape: [3],
          datatype,
          ...(asJson(i) ? { data: json } : { parameters: { binary_data_size: binary.length } }),
        })),
        outputs: TYPES.map(({ type }, i) => ({
          name: `y_${type}`,
          ...(i % 3 === 0 ? {} : { parameters: { binary_data: i % 3 === 1 } }),
        })),
      },
      TYPES.filter((_, i) => !asJson(i)).map(({ binary }) => binary),
    );
    const answer = await readAnswer(await post(ALL_TYPES, body, headerLength));
    expect(answer.status).toBe(200);
    expect(answer.contentType).toBe("application/octet-stream");
    TYPES.forEach(({ type, binary, json }, i) => {
      const output = answer.json.outputs?.find((candidate) => candidate.name === `y_${type}`);
      if (i % 3 === 1) expect(answer.binary.get(`y_${type}`)?.equals(binary), type).toBe(true);
      else {
        expect(output?.parameters, type).toBeUndefined();
        if (json !== undefined) expect(output?.data, type).toEqual(json);
      }
    });
    // JSON where JSON has no exact form: NaN and ±Infinity as strings, 64-bit integers as numbers.
    const jsonOf = (name: string) => answer.json.outputs?.find((output) => output.name === name)?.data;
    expect(jsonOf("y_fp16")).toEqual([1.5, -2, "NaN"]);
    expect(jsonOf("y_fp64")).toEqual([0.1, 1e300, "Infinity"]);
  });

  it("binary outputs for a JSON request; a JSON answer stays plain JSON", async () => {
    const request = { inputs: [{ name: "features", shape: [1, 4], datatype: "FP32", data: FEATURES }] };
    const plain = await post(MODEL, Buffer.from(JSON.stringify(request)));
    expect(plain.headers.get("content-type")).toBe("application/json");
    expect(plain.headers.get("inference-header-content-length")).toBeNull();
    const probabilities = ((await plain.json()) as { outputs: { data: number[] }[] }).outputs[0]?.data;
    const asked = { ...request, outputs: [{ name: "probabilities", parameters: { binary_data: true } }] };
    const answer = await readAnswer(await post(MODEL, Buffer.from(JSON.stringify(asked))));
    const bytes = answer.binary.get("probabilities") ?? Buffer.alloc(0);
    expect(Array.from(new Float32Array(new Uint8Array(bytes).buffer))).toEqual(probabilities);
  });
});

describe("malformed binary bodies get a 4xx", () => {
  const features = bytesOf(Float32Array.from(FEATURES));
  const header = (size: number) => ({
    inputs: [{ name: "features", shape: [1, 4], datatype: "FP32", parameters: { binary_data_size: size } }],
  });
  const valid = binaryBody(header(16), [features]);

  it.each([
    ["header length past the body", 400, valid.body, "100000", /runs past the end of the body/],
    ["header length not a number", 400, valid.body, "twelve", /"twelve" is not a number of bytes/],
    ["header length negative", 400, valid.body, "-5", /is not a number of bytes/],
    ["missing header (length 0)", 400, valid.body, "0", /has no JSON header/],
    ["header cut short (not JSON)", 400, valid.body, "7", /JSON header .* is not JSON/],
    ["no header length, binary after the JSON", 400, valid.body, undefined, /the request body is not JSON/],
    [
      "size that does not match the shape",
      400,
      binaryBody(header(12), [features.subarray(0, 12)]).body,
      "fixed",
      /binary_data_size 12 does not match FP32 shape \[1,4\] \(16 bytes\)/,
    ],
    [
      "size past the end of the body",
      400,
      binaryBody(header(16), [features.subarray(0, 8)]).body,
      "fixed",
      /binary_data_size 16 runs past the end/,
    ],
    [
      "bytes no input claims",
      400,
      binaryBody(header(16), [features, Buffer.of(0)]).body,
      "fixed",
      /1 byte\(s\) of binary data follow/,
    ],
    [
      "over the request limit",
      413,
      binaryBody(header(16), [features, Buffer.alloc(70_000)]).body,
      "fixed",
      /over 65536 bytes/,
    ],
  ])("%s → %i", async (_, status, body, length, message) => {
    // "fixed": the true length of the JSON the body starts with.
    const response = await post(MODEL, body, length === "fixed" ? bodyHeaderLength(body) : length);
    expect(response.status).toBe(status);
    expect(((await response.json()) as { error: string }).error).toMatch(message);
    // The node still answers on a fresh connection.
    expect((await infer(node.url)).status).toBe(200);
  });

  it("the Hono app answers binary calls exactly like the node:http route", async () => {
    const metrics = new NodeMetrics();
    const app = createNodeApp({
      agent: node.node.agent,
      metrics,
      endpoint: new InferEndpoint(node.node.agent, metrics),
      maxRequestBytes: 64 * 1024,
      serverVersion: "test",
    });
    const asked = binaryBody({ ...header(16), parameters: { binary_data_output: true } }, [features]);
    for (const [body, headerLength] of [
      [asked.body, asked.headerLength],
      [valid.body, "100000"],
    ] as const) {
      const init = { method: "POST", headers: { "inference-header-content-length": headerLength }, body };
      const viaApp = await app.request(`/v2/models/${MODEL}/infer`, init);
      const viaHttp = await post(MODEL, body, headerLength);
      expect(viaApp.status).toBe(viaHttp.status);
      expect(viaApp.headers.get("content-type")).toBe(viaHttp.headers.get("content-type"));
      expect(viaApp.headers.get("inference-header-content-length")).toBe(
        viaHttp.headers.get("inference-header-content-length"),
      );
      expect(Buffer.from(await viaApp.arrayBuffer()).equals(Buffer.from(await viaHttp.arrayBuffer()))).toBe(true);
    }
  });
});

/** The length of the JSON object a body starts with (its closing brace at depth 0; no braces in strings here). */
function bodyHeaderLength(body: Buffer): string {
  let depth = 0;
  for (let i = 0; i < body.length; i++) {
    if (body[i] === 0x7b) depth++;
    else if (body[i] === 0x7d && --depth === 0) return String(i + 1);
  }
  throw new Error("no JSON object at the start of the body");
}

describe("examples/binary-infer.mjs", () => {
  it("sends one binary request to the node and prints the outputs it decoded", async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [join(ROOT, "examples/binary-infer.mjs"), node.url],
      {
        timeout: 15_000,
      },
    );
    const json = await infer(node.url);
    const probabilities = json.body.outputs?.[0]?.data ?? [];
    expect(stdout).toContain(`POST ${node.url}/v2/models/demo/infer: JSON header`);
    expect(stdout).toMatch(/^200 application\/octet-stream, Inference-Header-Content-Length \d+$/m);
    expect(stdout).toContain("model_version v1");
    expect(stdout).toContain(`probabilities FP32 [1,3] (12 bytes): ${probabilities.join(", ")}`);
  });
});
