import { describe, expect, it } from "vitest";
import { ArtifactLayout } from "../../core/artifact-layout.js";
import {
  assertModelName,
  assertResourcePath,
  assertVersionName,
  isModelName,
  isVersionName,
} from "../../core/names.js";

describe("model names", () => {
  it.each(["demo", "a", "resnet-50", "bert.base_v2", "0model", "a".repeat(63)])("accepts %j", (name) => {
    expect(isModelName(name)).toBe(true);
  });
  it.each(["", "Demo", "-x", ".x", "a..b", "a/b", "a b", "a".repeat(64), "é"])("rejects %j with the rule", (name) => {
    expect(isModelName(name)).toBe(false);
    expect(() => assertModelName(name)).toThrow(expect.objectContaining({ code: "INVALID_INPUT" }));
  });
});

describe("version names", () => {
  it.each(["v1", "2024-06-01", "V1.2.3-rc.1", "abc_DEF", "a".repeat(128)])("accepts %j", (name) => {
    expect(isVersionName(name)).toBe(true);
  });
  it.each(["", "-v1", "v1..2", "v/1", "a".repeat(129), "v1 "])("rejects %j", (name) => {
    expect(isVersionName(name)).toBe(false);
    expect(() => assertVersionName(name)).toThrow(/invalid version name/);
  });
});

describe("resource paths", () => {
  it.each(["model.onnx", "golden/case-1.json", "a/b/c"])("accepts %j", (path) => {
    expect(assertResourcePath(path)).toBe(path);
  });
  it.each(["", "/abs", "../x", "a/../b", "a/./b", "a//b", "a\\b", "a/", "x\0y"])("rejects %j", (path) => {
    expect(() => assertResourcePath(path)).toThrow(expect.objectContaining({ code: "UNSAFE_PATH" }));
  });
});

describe("the artifact layout", () => {
  it("builds every key of a version under the prefix", () => {
    const layout = new ArtifactLayout("/models/prod/");
    expect(layout.versionPrefix("demo", "v1")).toBe("models/prod/demo/v1/");
    expect(layout.fileKey("demo", "v1", "golden/a.json")).toBe("models/prod/demo/v1/golden/a.json");
    expect(layout.signatureKey("demo", "v1")).toBe("models/prod/demo/v1/model.sig");
    expect(new ArtifactLayout("").modelPrefix("demo")).toBe("demo/");
  });
  it("refuses names and prefixes that could leave their folder", () => {
    const layout = new ArtifactLayout();
    expect(() => layout.versionPrefix("../etc", "v1")).toThrow(/invalid model name/);
    expect(() => layout.fileKey("demo", "v1", "../v2/model.onnx")).toThrow(
      expect.objectContaining({ code: "UNSAFE_PATH" }),
    );
    expect(() => new ArtifactLayout("a/../b")).toThrow(expect.objectContaining({ code: "INVALID_CONFIG" }));
  });
});
