/**
 * The Open Inference Protocol (KServe v2) over HTTP, on Hono. Every model response names
 * `model_version`; errors are `{"error": "…"}` with 400 (bad request), 404 (unknown model or a
 * version not resident here), 413 (body over the limit) or 503 (no version loaded yet). A request
 * leases the session it starts on, so a swap in the middle of it changes nothing for it.
 */
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { InputError } from "../../core/errors.js";
import { isModelName, isVersionName } from "../../core/names.js";
import type { NodeMetrics } from "../metrics.js";
import type { Lease } from "../model-slot.js";
import type { NodeAgent } from "../node-agent.js";
import { decodeInferRequest, encodeTensor } from "../tensor-codec.js";

export interface NodeAppOptions {
  readonly agent: NodeAgent;
  readonly metrics: NodeMetrics;
  readonly maxRequestBytes: number;
  readonly serverVersion: string;
  readonly log?: (message: string, error: unknown) => void;
}

class OipError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    message: string,
  ) {
    super(message);
  }
}

export function createNodeApp(options: NodeAppOptions): Hono {
  const { agent, metrics } = options;
  const log = options.log ?? ((message, error) => console.error(message, error));
  const app = new Hono();

  app.onError((error, c) => {
    if (error instanceof OipError) return c.json({ error: error.message }, error.status);
    if (error instanceof InputError) return c.json({ error: error.message }, 400);
    log(`${c.req.method} ${c.req.path} failed`, error);
    return c.json({ error: "internal error (see the node's log)" }, 500);
  });
  app.notFound((c) => c.json({ error: `no route ${c.req.method} ${c.req.path}` }, 404));

  /** The lease for a model (and pinned version): 404 unknown, 503 nothing loaded yet. */
  const lease = (model: string, version: string | undefined): Lease => {
    if (!isModelName(model)) throw new OipError(404, `unknown model ${model}`);
    if (version !== undefined && !isVersionName(version)) throw new OipError(404, `unknown version ${version}`);
    const slot = agent.slots.get(model);
    const leased = slot?.acquire(version);
    if (leased !== undefined) return leased;
    if (version !== undefined) throw new OipError(404, `${model} version ${version} is not loaded on this node`);
    if (slot === undefined) throw new OipError(404, `unknown model ${model}`);
    throw new OipError(503, `${model} has no version loaded yet`);
  };

  app.get("/v2", (c) => c.json({ name: "cutover", version: options.serverVersion, extensions: [] }));
  app.get("/v2/health/live", (c) => c.json({ live: true }));
  app.get("/v2/health/ready", (c) => {
    const models = [...agent.slots.values()];
    const ready = models.length > 0 && models.every((slot) => slot.active !== null);
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

  const limit = bodyLimit({
    maxSize: options.maxRequestBytes,
    onError: (c) => c.json({ error: `request body over ${options.maxRequestBytes} bytes` }, 413),
  });

  const infer = async (model: string, version: string | undefined, raw: () => Promise<unknown>) => {
    const started = performance.now();
    const held = lease(model, version);
    const served = held.loaded.version;
    let outcome = "client_error";
    try {
      let body: unknown;
      try {
        body = await raw();
      } catch {
        throw new InputError("the request body is not JSON");
      }
      const { request, feeds } = decodeInferRequest(body, held.loaded.card.inputs);
      const wanted = request.outputs?.map((output) => output.name);
      const unknown = wanted?.filter((name) => !held.loaded.card.outputs.some((spec) => spec.name === name)) ?? [];
      if (unknown.length > 0) throw new InputError(`unknown output(s): ${unknown.join(", ")}`);
      outcome = "server_error";
      const results =
        wanted === undefined ? await held.loaded.session.run(feeds) : await held.loaded.session.run(feeds, wanted);
      outcome = "ok";
      return {
        model_name: model,
        model_version: served,
        ...(request.id !== undefined ? { id: request.id } : {}),
        outputs: Object.entries(results).map(([name, tensor]) => encodeTensor(name, tensor)),
      };
    } finally {
      held.end();
      metrics.requests.inc({ model, version: served, outcome });
      metrics.latency.observe({ model }, (performance.now() - started) / 1000);
    }
  };

  app.post("/v2/models/:model/infer", limit, async (c) =>
    c.json(await infer(c.req.param("model"), undefined, () => c.req.json())),
  );
  app.post("/v2/models/:model/versions/:version/infer", limit, async (c) =>
    c.json(await infer(c.req.param("model"), c.req.param("version"), () => c.req.json())),
  );

  app.get("/metrics", async (c) =>
    c.text(await metrics.registry.metrics(), 200, { "content-type": metrics.registry.contentType }),
  );

  return app;
}
