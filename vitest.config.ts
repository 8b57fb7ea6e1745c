import { defineConfig } from "vitest/config";

/** With VITEST_JSON_REPORT set (CI), each run also writes a JSON report under .tmp/. */
const jsonReport = process.env.VITEST_JSON_REPORT
  ? {
      reporters: ["default", "json"],
      outputFile: { json: `.tmp/vitest-${process.argv.includes("tests/e2e") ? "processes" : "unit"}.json` },
    }
  : { reporters: ["default"] };

export default defineConfig({
  test: {
    include: ["tests/**/*.test.ts"],
    exclude: ["tests/bench/**", "node_modules/**"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // expect.poll waits for an event (a version staged, a report sent): on a busy box that can take
    // seconds, and the default 1 s bound made tests fail for being slow, not wrong.
    expect: { poll: { timeout: 20_000 } },
    pool: "forks",
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" },
    ...jsonReport,
  },
});
