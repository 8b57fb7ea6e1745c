import { describe, expect, it } from "vitest";
import { parseTokens } from "../../controller/http/tokens.js";
import { redactUrl } from "../../core/redact.js";

describe("credentials never reach a message", () => {
  it("a URL is printed with its password replaced by ***", () => {
    expect(redactUrl("redis://:hunter2-secret@redis.internal:6379")).toBe("redis://:***@redis.internal:6379");
    expect(redactUrl("rediss://ops:hunter2%40x@redis.internal:6380/2")).toBe("rediss://ops:***@redis.internal:6380/2");
    expect(redactUrl("redis://redis.internal:6379/0?password=hunter2&db=1")).toBe(
      "redis://redis.internal:6379/0?password=***&db=1",
    );
    expect(redactUrl("redis://127.0.0.1:6379")).toBe("redis://127.0.0.1:6379");
    expect(redactUrl("not a url hunter2")).toBe("<unparsable URL>");
  });

  it("a malformed CUTOVER_TOKENS entry is named by its position, never by its text", () => {
    // Base64 characters: not a valid name, so a token in the name's place is caught as malformed.
    const secret = "Sup3r+Secret/Token=Value";
    const cases: [string, RegExp][] = [
      [`ops:0123456789abcdef,${secret}`, /entry 2 of 2 is not name:token/],
      [`${secret}:0123456789abcdef`, /entry 1 of 1 is not name:token/],
      [`:${secret}`, /entry 1 of 1 is not name:token/],
      [`${secret}:${secret}`, /entry 1 of 1 is not name:token/],
      ["ops:0123456789abcdef,ci:Sup3r+Secr", /the token of entry 2 of 2 is shorter than 16 characters/],
      [`ops:${secret},ops:${secret}x`, /entries 1 and 2 have the same name/],
    ];
    for (const [spec, message] of cases) {
      let error: unknown;
      try {
        parseTokens(spec);
      } catch (caught) {
        error = caught;
      }
      expect(error, spec).toMatchObject({ code: "INVALID_CONFIG", message: expect.stringMatching(message) });
      const text = String((error as Error).message);
      // Not the entry, nor any piece of it long enough to matter.
      for (let start = 0; start + 6 <= secret.length; start++) {
        expect(text, spec).not.toContain(secret.slice(start, start + 6));
      }
      expect(text, spec).not.toContain("0123456789");
    }
    expect(parseTokens(`ops:${secret}, ci:0123456789abcdef`).map((token) => token.name)).toEqual(["ops", "ci"]);
  });
});
