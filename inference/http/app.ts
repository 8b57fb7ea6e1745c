/**
 * The Open Inference Protocol (KServe v2) over HTTP, on Hono. Every model response names
 * `model_version`; errors are `{"error": "…"}` with 400 (bad request), 404 (unknown model or a
 * version not resident here), 413 (body over the limit) or 503 (no version loaded yet). A request
 * leases the session it starts on, so a swap in the middle of it changes nothing for it. An unpinned
 * request may carry `x-cutover-key`, which keeps it on one version while a progressive rollout's split
 * is in force. On a running
 * node, infer calls are answered by the `node:http` route in front of this app (infer-route.ts); the
 * routes here serve the same endpoint for any other transport (`app.request`, other runtimes).
 */
import { type Context, Hono, type HonoRequest } from "hono";
import { INFERENCE_HEADER_LENGTH } from "../../core/binary-tensors.js";
import { InputError } from "../../core/errors.js";
import { SPLIT_KEY_HEADER } from "../../core/progressive.js";
import type { NodeMetrics } from "../metrics.js";
import type { NodeAgent } from "../node-agent.js";
import {
  answerBody,
  errorAnswer,
  type InferAnswer,
  type InferEndpoint,
  type InferRequestBody,
  OipError,
} from "./infer.js";

export interface NodeAppOptions {
  readonly agent: NodeAgent;
  readonly metrics: NodeMetrics;
  readonly endpoint: InferEndpoint;
  readonly maxRequestBytes: number;
  readonly serverVersion: string;
  readonly log?: (message: string, error: unknown) => void;
}

export function createNodeApp(options: NodeAppOptions): Hono {
  const { agent, metrics, endpoint } = options;
  const log = options.log ?? ((message, error) => console.error(message, error));
  const app = new Hono();

  app.onError((error, c) => {
    const { status, body } = errorAnswer(error, (inner) => log(`${c.req.method} ${c.req.path} failed`, inner));
    return c.json(body, status);
  });
  app.notFound((c) => c.json({ error: `no route ${c.req.method} ${c.req.path}` }, 404));

  const lease = (model: string, version: string | undefined) => endpoint.lease(model, version);

  app.get("/v2", (c) =>
    c.json({ name: "cutover", version: options.serverVersion, extensions: ["binary_tensor_data"] }),
  );
  app.get("/v2/health/live", (c) => c.json({ live: true }));
  app.get("/v2/health/ready", (c) => {
    const ready = agent.ready();
    return c.json({ ready }, ready ? 200 : 503);
  });

  const metadata = (model: string, version?: string) => {
    const held = lease(model, version);
    try {
      const slot = agent.slots.get(model);
      const { card } = held.loaded;
      return {
        name: model,
        model_version: held.loaded.version,
        versions: slot ? slot.all().map((loaded) => loaded.version) : [],
        platform: "onnxruntime_onnx",
        inputs: card.inputs.map(({ name, datatype, shape }) => ({
          name,
          datatype,
          shape: shape.map((d) => (typeof d === "number" ? d : -1)),
        })),
        outputs: card.outputs.map(({ name, datatype, shape }) => ({
          name,
          datatype,
          shape: shape.map((d) => (typeof d === "number" ? d : -1)),
        })),
      };
    } finally {
      held.end();
    }
  };
  const readiness = (model: string, version?: string) => {
    const held = lease(model, version);
    held.end();
    return { name: model, model_version: held.loaded.version, ready: true };
  };

  app.get("/v2/models/:model", (c) => c.json(metadata(c.req.param("model"))));
  app.get("/v2/models/:model/versions/:version", (c) => c.json(metadata(c.req.param("model"), c.req.param("version"))));
  app.get("/v2/models/:model/ready", (c) => c.json(readiness(c.req.param("model"))));
  app.get("/v2/models/:model/versions/:version/ready", (c) =>
    c.json(readiness(c.req.param("model"), c.req.param("version"))),
  );

  /**
   * The request body, at most maxRequestBytes: with a Content-Length the size is checked before a
   * byte is read (hono's bodyLimit would build a full web Request per call); a chunked body is read
   * as a stream and cut off at the limit.
   */
  const readBytes = async (req: HonoRequest): Promise<Uint8Array> => {
    const max = options.maxRequestBytes;
    const tooLarge = () => new OipError(413, `request body over ${max} bytes`);
    const declared = req.header("content-length");
    if (declared !== undefined && req.header("transfer-encoding") === undefined) {
      if (Number(declared) > max) throw tooLarge();
      return req.arrayBuffer().then(
        (bytes) => new Uint8Array(bytes),
        () => {
          throw new InputError("the request body could not be read");
        },
      );
    }
    const chunks: Uint8Array[] = [];
    let size = 0;
    const reader = req.raw.body?.getReader();
    for (let next = await reader?.read(); next !== undefined && !next.done; next = await reader?.read()) {
      size += next.value.byteLength;
      if (size > max) {
        await reader?.cancel();
        throw tooLarge();
      }
      chunks.push(next.value);
    }
    return Buffer.concat(chunks);
  };
  const readBody = async (req: HonoRequest): Promise<InferRequestBody> => ({
    bytes: await readBytes(req),
    headerLength: req.header(INFERENCE_HEADER_LENGTH),
  });
  const respond = (c: Context, answer: InferAnswer) => {
    if (answer.binary.length === 0) return c.json(answer.response);
    const { headers, chunks } = answerBody(answer);
    return c.body(Buffer.concat(chunks), 200, headers);
  };

  app.post("/v2/models/:model/infer", async (c) =>
    respond(
      c,
      await endpoint.infer(c.req.param("model"), undefined, () => readBody(c.req), c.req.header(SPLIT_KEY_HEADER)),
    ),
  );
  app.post("/v2/models/:model/versions/:version/infer", async (c) =>
    respond(c, await endpoint.infer(c.req.param("model"), c.req.param("version"), () => readBody(c.req))),
  );

  app.get("/metrics", async (c) =>
    c.text(await metrics.registry.metrics(), 200, { "content-type": metrics.registry.contentType }),
  );

  return app;
}
