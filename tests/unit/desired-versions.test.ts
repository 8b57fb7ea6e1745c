import { describe, expect, it } from "vitest";
import { DesiredVersions } from "../../inference/desired-versions.js";

const serving =
  (versions: Record<string, string>) =>
  (model: string): string | undefined =>
    versions[model];

describe("DesiredVersions: readiness from what the node last learnt", () => {
  it("a node that knows of nothing to serve is not ready", () => {
    expect(new DesiredVersions().ready(serving({}))).toBe(false);
    const desired = new DesiredVersions();
    desired.learn("fresh", null, 0);
    expect(desired.ready(serving({}))).toBe(false);
  });

  it("is ready when every model with an active version is served at that version; models without one do not count", () => {
    const desired = new DesiredVersions();
    desired.learn("demo", "v1", 1);
    desired.learn("fresh", null, 0);
    expect(desired.ready(serving({ demo: "v1" }))).toBe(true);
    expect(desired.ready(serving({}))).toBe(false);
    desired.learn("second", "v3", 4);
    expect(desired.ready(serving({ demo: "v1" }))).toBe(false);
    expect(desired.ready(serving({ demo: "v1", second: "v2" }))).toBe(false);
    expect(desired.ready(serving({ demo: "v1", second: "v3" }))).toBe(true);
  });

  it("ignores what it learns at an older revision than it knows (a state read overtaken by a promote)", () => {
    const desired = new DesiredVersions();
    desired.learn("demo", "v2", 2);
    desired.learn("demo", "v1", 1);
    expect(desired.get("demo")).toEqual({ version: "v2", revision: 2 });
    desired.learn("demo", "v1", 3);
    expect(desired.get("demo")).toEqual({ version: "v1", revision: 3 });
  });
});
