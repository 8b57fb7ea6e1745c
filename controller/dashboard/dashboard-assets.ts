/**
 * The dashboard's files, read from the package once and served from memory: `dashboard/index.html`
 * at `/`, everything else under `dashboard/` (CSS and the page's ES modules) at `/ui/<path>`, and
 * uPlot's module and stylesheet (from its npm package) at `/ui/vendor/`. Only files found at start
 * are served, by exact path, so no request can name anything else on disk.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { extname, join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";

export interface Asset {
  readonly body: Uint8Array;
  readonly contentType: string;
}

const TYPES: Readonly<Record<string, string>> = {
  ".html": "text/html; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".svg": "image/svg+xml",
};

/** dashboard/ beside the source tree (controller/dashboard/) or the build (dist/controller/dashboard/). */
export function dashboardDir(): string {
  for (const up of ["../../dashboard", "../../../dashboard"]) {
    const candidate = fileURLToPath(new URL(up, import.meta.url));
    if (existsSync(join(candidate, "index.html"))) return candidate;
  }
  throw new Error("dashboard/index.html is missing from this installation");
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return filesUnder(path);
    return entry.isFile() && TYPES[extname(entry.name)] !== undefined ? [path] : [];
  });
}

function asset(path: string): Asset {
  return { body: readFileSync(path), contentType: TYPES[extname(path)] ?? "application/octet-stream" };
}

/** URL path → asset, for every file the dashboard serves. */
export function loadDashboardAssets(dir = dashboardDir()): ReadonlyMap<string, Asset> {
  const assets = new Map<string, Asset>();
  for (const path of filesUnder(dir)) {
    const url = relative(dir, path).split(sep).join("/");
    // Only .html, .css, .js and .svg are taken (filesUnder): type declarations and the checker's config stay out.
    if (url === "index.html") assets.set("/", asset(path));
    else assets.set(`/ui/${url}`, asset(path));
  }
  const require = createRequire(import.meta.url);
  const uplot = join(require.resolve("uplot/package.json"), "..", "dist");
  assets.set("/ui/vendor/uplot.js", asset(join(uplot, "uPlot.esm.js")));
  assets.set("/ui/vendor/uplot.css", asset(join(uplot, "uPlot.min.css")));
  return assets;
}
