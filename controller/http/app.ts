/**
 * The controller's HTTP API (Hono), JSON under /v1, the same app for the long-running server and
 * the Lambda handler. Reads are open; every change needs a bearer token whose name becomes `by`.
 * Errors are `{error: {code, message}}`, their status chosen in one function from the error's code.
 */
import { Hono } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { z } from "zod";
import { AuthError, CutoverError, ErrorCode, InputError, RolloutError } from "../../core/errors.js";
import type { FleetStateStore } from "../../core/fleet-state.js";
import { assertModelName } from "../../core/names.js";
import { hookSchema, metricCheckSchema } from "../../core/progressive.js";
import type { ModelRegistry } from "../../core/registry.js";
import { maxReplayDivergence } from "../../core/replay-report.js";
import { type DashboardOptions, dashboardRoutes } from "../dashboard/dashboard-routes.js";
import type { ControllerMetrics } from "../metrics.js";
import { summarizeModels } from "../model-summaries.js";
import { initialProgressive, isProgressive, type StrategyOptions } from "../progressive/progressive-request.js";
import type { ProgressiveRunner } from "../progressive/progressive-runner.js";
import type { RolloutCoordinator } from "../rollout-coordinator.js";
import type { VersionCatalog } from "../version-catalog.js";
import { parseJsonBody } from "./request-body.js";
import { matchToken, type NamedToken } from "./tokens.js";

export interface ControllerAppOptions {
  readonly coordinator: RolloutCoordinator;
  readonly progressive: ProgressiveRunner;
  readonly fleet: FleetStateStore;
  readonly registry: ModelRegistry;
  /** Version summaries for the read routes, each version read from the store once. */
  readonly versions: VersionCatalog;
  readonly tokens: readonly NamedToken[];
  readonly metrics: ControllerMetrics;
  /** The ops dashboard (`/`, `/ui/`, `/v1/events`); absent in the Lambda, which cannot hold a stream open. */
  readonly dashboard?: DashboardOptions;
  /** Where unexpected errors go (default console.error). */
  readonly log?: (message: string, error: unknown) => void;
}

const STATUS: Partial<Record<ErrorCode, ContentfulStatusCode>> = {
  [ErrorCode.InvalidInput]: 400,
  [ErrorCode.BodyTooLarge]: 413,
  [ErrorCode.Unauthorized]: 401,
  [ErrorCode.NotFound]: 404,
  [ErrorCode.RolloutInProgress]: 409,
  [ErrorCode.RevisionMismatch]: 409,
  [ErrorCode.LockLost]: 409,
  [ErrorCode.NotEnoughNodes]: 409,
  [ErrorCode.AlreadyExists]: 409,
  [ErrorCode.IncompatibleSchema]: 422,
  [ErrorCode.ModelInvalid]: 422,
  [ErrorCode.RolloutAborted]: 504,
  [ErrorCode.StateUnreachable]: 503,
  [ErrorCode.StoreUnreachable]: 503,
  [ErrorCode.StreamRefused]: 503,
  [ErrorCode.PrometheusUnreachable]: 503,
};

/** The HTTP status for an error: verification failures are 422, unknown errors 500. */
export function statusOf(error: unknown): ContentfulStatusCode {
  if (!(error instanceof CutoverError)) return 500;
  if (error.isVerificationFailure) return 422;
  return STATUS[error.code] ?? 500;
}

/** What activate and rollback both take: the revision guard, the staging deadline, the nodes required. */
const rolloutFields = {
  expectRevision: z.number().int().nonnegative().optional(),
  timeoutMs: z.number().int().min(100).max(3_600_000).optional(),
  allowNoNodes: z.boolean().optional(),
  minNodes: z.number().int().min(1).max(100_000).optional(),
};

/** A progressive rollout's options (controller/progressive/progressive-request.ts checks the rest). */
const strategyFields = {
  canary: z.array(z.number()).max(99).optional(),
  linear: z.number().optional(),
  bakeMs: z
    .number()
    .int()
    .min(0)
    .max(7 * 24 * 3_600_000)
    .optional(),
  manual: z.boolean().optional(),
  shadowPercent: z.number().min(0).max(100).optional(),
  maxErrorRate: z.number().min(0).max(1).optional(),
  maxClientErrorRate: z.number().min(0).max(1).optional(),
  maxP50Ratio: z.number().min(1).max(1000).optional(),
  maxP99Ratio: z.number().min(1).max(1000).optional(),
  minP99DeltaMs: z.number().min(0).max(3_600_000).optional(),
  minRequests: z.number().int().min(1).max(1e9).optional(),
  maxDivergenceRate: z.number().min(0).max(1).optional(),
  checks: z.array(metricCheckSchema).max(16).optional(),
  hooks: z.array(hookSchema).max(32).optional(),
};

const activateBody = z.strictObject({
  version: z.string(),
  allowIncompatible: z.boolean().optional(),
  maxReplayDivergence: maxReplayDivergence.optional(),
  ...rolloutFields,
  ...strategyFields,
});

const rollbackBody = z.strictObject({
  to: z.string().optional(),
  ...rolloutFields,
});

/** The options given, without the keys left undefined (exactOptionalPropertyTypes). */
function dropUndefined(options: { [K in keyof StrategyOptions]: StrategyOptions[K] | undefined }): StrategyOptions {
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)) as StrategyOptions;
}

/** Hono variables the routes share: `by`, the name of the token that authorized a change. */
export type ControllerEnv = { Variables: { by: string } };

export function createControllerApp(options: ControllerAppOptions): Hono<ControllerEnv> {
  const { coordinator, fleet, registry, versions: catalog, metrics } = options;
  const log = options.log ?? ((message, error) => console.error(message, error));
  const app = new Hono<ControllerEnv>();

  app.onError((error, c) => {
    const status = statusOf(error);
    if (status === 500) log(`${c.req.method} ${c.req.path} failed`, error);
    const known = error instanceof CutoverError;
    const code = known ? error.code : "INTERNAL";
    const message = known ? error.message : "internal error (see the controller's log)";
    const nodes = error instanceof RolloutError && error.nodes.length > 0 ? { nodes: error.nodes } : {};
    // The rest of an oversized body is not read: the connection cannot carry another request.
    const headers = status === 413 ? { connection: "close" } : undefined;
    return c.json({ error: { code, message, ...nodes } }, status, headers);
  });
  app.notFound((c) =>
    c.json({ error: { code: ErrorCode.NotFound, message: `no route ${c.req.method} ${c.req.path}` } }, 404),
  );

  const requireToken = async (
    c: { req: { header(name: string): string | undefined }; set(key: "by", value: string): void },
    next: () => Promise<void>,
  ) => {
    const header = c.req.header("authorization") ?? "";
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    const name = match?.[1] === undefined ? undefined : matchToken(options.tokens, match[1]);
    if (name === undefined)
      throw new AuthError(match ? "invalid bearer token" : "a bearer token is required for changes");
    c.set("by", name);
    await next();
  };

  app.get("/healthz", async (c) => {
    await fleet.ping();
    return c.json({ ok: true });
  });

  app.get("/metrics", async (c) => {
    return c.text(await metrics.registry.metrics(), 200, { "content-type": metrics.registry.contentType });
  });

  app.get("/v1/models", async (c) => {
    const [stored, nodes] = await Promise.all([registry.listModels(), fleet.listNodes()]);
    return c.json({ models: await summarizeModels(fleet, stored, nodes) });
  });

  app.get("/v1/models/:model", async (c) => {
    const model = assertModelName(c.req.param("model"));
    const [state, versions, nodes] = await Promise.all([
      fleet.getModelState(model),
      catalog.list(model),
      fleet.listModelNodes(model),
    ]);
    if (state.revision === 0 && state.rollout === null && versions.length === 0) {
      throw new CutoverError(ErrorCode.NotFound, `no model ${model}`);
    }
    metrics.observeRevision(model, state.revision);
    return c.json({ model, state, versions, nodes });
  });

  app.get("/v1/models/:model/versions", async (c) => {
    const model = assertModelName(c.req.param("model"));
    return c.json({ model, versions: await catalog.list(model) });
  });

  app.get("/v1/models/:model/history", async (c) => {
    const model = assertModelName(c.req.param("model"));
    const limit = z.coerce.number().int().min(1).max(1000).default(50).safeParse(c.req.query("limit"));
    if (!limit.success) throw new InputError("limit must be an integer from 1 to 1000");
    return c.json({ model, history: await fleet.history(model, limit.data) });
  });

  app.get("/v1/nodes", async (c) => c.json({ nodes: await fleet.listNodes() }));

  app.post("/v1/models/:model/activate", requireToken, async (c) => {
    const model = assertModelName(c.req.param("model"));
    const body = await parseJsonBody(c.req.raw, activateBody);
    const {
      canary,
      linear,
      bakeMs,
      manual,
      shadowPercent,
      maxErrorRate,
      maxClientErrorRate,
      maxP50Ratio,
      maxP99Ratio,
      minP99DeltaMs,
      minRequests,
      maxDivergenceRate,
      checks,
      hooks,
      ...request
    } = body;
    const strategy = {
      canary,
      linear,
      bakeMs,
      manual,
      shadowPercent,
      maxErrorRate,
      maxClientErrorRate,
      maxP50Ratio,
      maxP99Ratio,
      minP99DeltaMs,
      minRequests,
      maxDivergenceRate,
      checks,
      hooks,
    };
    if (!isProgressive(strategy)) return c.json(await coordinator.activate({ model, by: c.get("by"), ...request }));
    // The baseline is filled in from the state when the rollout begins.
    const progressive = initialProgressive(dropUndefined(strategy), "");
    return c.json(await options.progressive.start({ model, by: c.get("by"), ...request, progressive }));
  });

  app.post("/v1/models/:model/promote", requireToken, async (c) => {
    const model = assertModelName(c.req.param("model"));
    const body = await parseJsonBody(c.req.raw, z.strictObject({ expectStep: z.number().int().min(0).optional() }));
    return c.json(await options.progressive.promote(model, body.expectStep));
  });

  app.post("/v1/models/:model/abort", requireToken, async (c) => {
    const model = assertModelName(c.req.param("model"));
    const body = await parseJsonBody(c.req.raw, z.strictObject({ expectRolloutId: z.string().max(200).optional() }));
    return c.json(await options.progressive.abort(model, c.get("by"), body.expectRolloutId));
  });

  app.post("/v1/models/:model/rollback", requireToken, async (c) => {
    const model = assertModelName(c.req.param("model"));
    const body = await parseJsonBody(c.req.raw, rollbackBody);
    return c.json(await coordinator.rollback({ model, by: c.get("by"), ...body }));
  });

  if (options.dashboard !== undefined) app.route("/", dashboardRoutes(options.dashboard));

  return app;
}
