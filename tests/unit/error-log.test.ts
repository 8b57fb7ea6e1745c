import { describe, expect, it } from "vitest";
import { throttledErrorLog } from "../../inference/http/error-log.js";

describe("the node's log of failed requests", () => {
  it("writes the first of a kind, counts the rest for the interval, then says how many it left out", () => {
    const lines: string[] = [];
    let now = 0;
    const log = throttledErrorLog(
      (message) => lines.push(message),
      10_000,
      () => now,
    );
    log("POST /v2/models/demo/infer failed", new Error("a"));
    for (let i = 0; i < 500; i++) log("POST /v2/models/demo/infer failed", new Error("b"));
    log("POST /v2/models/other/infer failed", new Error("c"));
    expect(lines).toEqual(["POST /v2/models/demo/infer failed", "POST /v2/models/other/infer failed"]);
    now = 10_000;
    log("POST /v2/models/demo/infer failed", new Error("d"));
    log("POST /v2/models/demo/infer failed", new Error("e"));
    now = 30_000;
    log("POST /v2/models/demo/infer failed", new Error("f"));
    expect(lines.slice(2)).toEqual([
      "POST /v2/models/demo/infer failed (and 500 more like it since the last such line)",
      "POST /v2/models/demo/infer failed (and 1 more like it since the last such line)",
    ]);
  });
});
