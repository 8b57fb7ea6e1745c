/**
 * The ops dashboard on the controller's own port: the page at `/`, its files under `/ui/`, and the
 * live feed at `/v1/events`. Every dashboard answer carries a Content-Security-Policy that allows
 * only this origin's scripts, styles and connections (no inline script, no eval, no frames), so a
 * string from the fleet state that slipped into markup could still not run. The page reads the same
 * open routes as the CLI and sends changes with the bearer token the operator typed in.
 */
import { Hono } from "hono";
import { CutoverError, ErrorCode } from "../../core/errors.js";
import type { Asset } from "./dashboard-assets.js";
import { streamFleetEvents } from "./events-route.js";
import type { FleetFeed } from "./fleet-feed.js";

export const DASHBOARD_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "content-security-policy": DASHBOARD_CSP,
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
  "cache-control": "no-cache",
};

export interface DashboardOptions {
  readonly feed: FleetFeed;
  readonly assets: ReadonlyMap<string, Asset>;
}

/** The dashboard's routes, for the controller app to mount at `/`. */
export function dashboardRoutes(options: DashboardOptions): Hono {
  const app = new Hono();
  app.get("/v1/events", (c) => streamFleetEvents(c, options.feed));
  app.get("/", (c) => serve(c.req.path));
  app.get("/ui/*", (c) => serve(c.req.path));
  const serve = (path: string): Response => {
    const found = options.assets.get(path);
    if (found === undefined) throw new CutoverError(ErrorCode.NotFound, `no dashboard file ${path}`);
    return new Response(found.body, { headers: { "content-type": found.contentType, ...SECURITY_HEADERS } });
  };
  return app;
}
