/** cutover's own version, from its package.json: for `--version`, the node's server metadata and user agents. */
import { readFileSync } from "node:fs";

let cached: string | undefined;

/** The `version` of cutover's package.json, or "unknown" when it cannot be read (a bundle without it). */
export function packageVersion(): string {
  cached ??= readPackageVersion();
  return cached;
}

function readPackageVersion(): string {
  for (const relative of ["../package.json", "../../package.json"]) {
    try {
      const parsed: unknown = JSON.parse(readFileSync(new URL(relative, import.meta.url), "utf8"));
      if (
        typeof parsed === "object" &&
        parsed !== null &&
        "name" in parsed &&
        parsed.name === "cutover" &&
        "version" in parsed
      ) {
        return String(parsed.version);
      }
    } catch {
      // not at this depth: source (core/) and build (dist/core/) sit at different depths
    }
  }
  return "unknown";
}
