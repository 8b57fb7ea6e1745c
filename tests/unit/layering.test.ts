import { readdir, readFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "../..");

async function sourceFiles(dir: string): Promise<string[]> {
  const entries = await readdir(join(ROOT, dir), { recursive: true, withFileTypes: true }).catch(() => []);
  return entries
    .filter((e) => e.isFile() && e.name.endsWith(".ts"))
    .map((e) => relative(ROOT, join(e.parentPath, e.name)));
}

async function importsOf(file: string): Promise<string[]> {
  const text = await readFile(join(ROOT, file), "utf8");
  const specifiers = [...text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+"([^"]+)"/g)].map((m) => m[1] ?? "");
  const dynamic = [...text.matchAll(/import\(\s*"([^"]+)"\s*\)/g)].map((m) => m[1] ?? "");
  return [...specifiers, ...dynamic]
    .filter((s) => s.startsWith("."))
    .map((s) => relative(ROOT, join(ROOT, file, "..", s)));
}

describe("the dependency rule (docs/ARCHITECTURE.md): core imports neither plane, the planes never import each other", () => {
  it.each([
    ["core", ["controller/", "inference/", "bin/"]],
    ["controller", ["inference/", "bin/"]],
    ["inference", ["controller/", "bin/"]],
  ])("%s imports none of %j", async (dir, forbidden) => {
    const files = await sourceFiles(dir);
    if (dir !== "inference") expect(files.length).toBeGreaterThan(0);
    const violations: string[] = [];
    for (const file of files) {
      for (const target of await importsOf(file)) {
        if (forbidden.some((prefix) => target.startsWith(prefix))) violations.push(`${file} → ${target}`);
      }
    }
    expect(violations).toEqual([]);
  });

  it("the import scanner sees relative imports (so the rule above can fail)", async () => {
    expect(await importsOf("controller/publisher.ts")).toContain("core/names.js");
  });
});
