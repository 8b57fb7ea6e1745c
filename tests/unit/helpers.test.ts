import { describe, expect, it } from "vitest";
import { sourceFromCiEnvironment } from "../../controller/ci-source.js";
import { backoffDelay } from "../../core/backoff.js";
import { mapLimit } from "../../core/map-limit.js";

describe("mapLimit", () => {
  it("keeps order and never runs more than the limit at once", async () => {
    let running = 0;
    let peak = 0;
    const results = await mapLimit([5, 1, 4, 2, 3], 2, async (n) => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((resolve) => setTimeout(resolve, n));
      running--;
      return n * 10;
    });
    expect(results).toEqual([50, 10, 40, 20, 30]);
    expect(peak).toBe(2);
  });

  it("on a failure starts nothing new and rejects only after the running items settle", async () => {
    const finished: number[] = [];
    const started: number[] = [];
    const run = mapLimit([0, 1, 2, 3], 2, async (n) => {
      started.push(n);
      if (n === 0) throw new Error("first fails");
      await new Promise((resolve) => setTimeout(resolve, 20));
      finished.push(n);
    });
    await expect(run).rejects.toThrow("first fails");
    expect(started).toEqual([0, 1]);
    expect(finished).toEqual([1]);
  });
});

describe("backoff", () => {
  it("doubles its ceiling per attempt up to the cap, with full jitter", () => {
    const options = { baseMs: 100, maxMs: 1_000 };
    expect([1, 2, 3, 4, 5, 9].map((attempt) => backoffDelay(attempt, options, () => 1))).toEqual([
      100, 200, 400, 800, 1000, 1000,
    ]);
    expect(backoffDelay(3, options, () => 0)).toBe(0);
  });
});

describe("the source of a push, from CI variables", () => {
  it("reads GitHub Actions", () => {
    expect(
      sourceFromCiEnvironment({
        GITHUB_SHA: "abc",
        GITHUB_SERVER_URL: "https://github.com",
        GITHUB_REPOSITORY: "acme/models",
        GITHUB_RUN_ID: "42",
      }),
    ).toEqual({ commit: "abc", pipeline: "https://github.com/acme/models/actions/runs/42", repository: "acme/models" });
  });
  it("reads GitLab CI, and nothing outside CI", () => {
    expect(
      sourceFromCiEnvironment({ CI_COMMIT_SHA: "def", CI_PIPELINE_URL: "https://gitlab/p/1", CI_PROJECT_PATH: "g/p" }),
    ).toEqual({ commit: "def", pipeline: "https://gitlab/p/1", repository: "g/p" });
    expect(sourceFromCiEnvironment({ HOME: "/root" })).toEqual({});
  });
});
