import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { AppliedStore } from "../../inference/applied-record.js";
import { tempDir } from "../support/temp-dir.js";

describe("applied.json is read back like anything from outside", () => {
  it("an entry whose model or version name breaks the naming rules is dropped with a log line; the rest count", async () => {
    const { path } = await tempDir();
    await writeFile(
      join(path, "applied.json"),
      JSON.stringify({
        models: {
          demo: { version: "../../etc", revision: 3 },
          "../../etc": { version: "v1", revision: 1 },
          other: { version: "/etc/passwd", revision: 2 },
          broken: 5,
          kept: { version: "v2", revision: 4 },
        },
      }),
    );
    const lines: string[] = [];
    const store = new AppliedStore(path, (line) => lines.push(line));
    expect(await store.read()).toEqual({ models: { kept: { version: "v2", revision: 4 } } });
    expect(lines).toHaveLength(4);
    expect(lines.join("\n")).toMatch(/version name "\.\.\/\.\.\/etc" of demo breaks the rule/);
    expect(lines.join("\n")).toMatch(/model name "\.\.\/\.\.\/etc" breaks the rule/);
    expect(lines.join("\n")).toMatch(/version name "\/etc\/passwd" of other/);
    expect(lines.join("\n")).toMatch(/entry of broken is not \{version, revision\}/);

    // The next record writes back only what passed.
    await store.record("demo", "v3", 5);
    expect(JSON.parse(await readFile(join(path, "applied.json"), "utf8"))).toEqual({
      models: { kept: { version: "v2", revision: 4 }, demo: { version: "v3", revision: 5 } },
    });
  });

  it("no file is a fresh node (nothing logged); a file that is not a record is logged and ignored", async () => {
    const { path } = await tempDir();
    const lines: string[] = [];
    const store = new AppliedStore(path, (line) => lines.push(line));
    expect(await store.read()).toEqual({ models: {} });
    expect(lines).toEqual([]);
    await writeFile(join(path, "applied.json"), "{ not json");
    expect(await store.read()).toEqual({ models: {} });
    await writeFile(join(path, "applied.json"), JSON.stringify({ models: [] }));
    expect(await store.read()).toEqual({ models: {} });
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/applied\.json is unreadable, ignored/);
  });
});
