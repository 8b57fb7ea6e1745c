#!/usr/bin/env node
// Launcher for the compiled CLI (npm ci builds it through the `prepare` script).
import { existsSync } from "node:fs";

const entry = new URL("../dist/bin/main.js", import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write("cutover: not built yet; run `npm run build` (npm ci runs it for you)\n");
  process.exit(1);
}
await import(entry.href);
