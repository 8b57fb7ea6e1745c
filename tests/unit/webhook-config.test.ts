import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createController } from "../../controller/controller.js";
import { parseControllerConfig } from "../../core/config.js";
import { freePort } from "../support/free-port.js";
import { testKeyPair } from "../support/signing.js";
import { tempDir } from "../support/temp-dir.js";

let work: Awaited<ReturnType<typeof tempDir>>;
let env: Record<string, string>;

beforeAll(async () => {
  work = await tempDir();
  const publicKey = join(work.path, "trusted.pub");
  await writeFile(publicKey, testKeyPair().publicPem);
  // Nothing listens there: a controller that gets as far as connecting keeps trying in the background.
  env = {
    CUTOVER_TOKENS: "ops:0123456789abcdef",
    CUTOVER_TRUSTED_KEYS: publicKey,
    CUTOVER_REDIS_URL: `redis://127.0.0.1:${await freePort()}`,
    CUTOVER_STORE_DIR: join(work.path, "store"),
  };
});
afterAll(() => work.cleanup());

describe("webhook configuration", () => {
  it("CUTOVER_NOTIFY_URL must be an http(s) URL, and is not echoed when refused; empty values count as unset", () => {
    const config = parseControllerConfig({
      CUTOVER_NOTIFY_URL: "https://hooks.example.com/cutover",
      CUTOVER_HOOK_SECRET: "0123456789abcdef0123",
    });
    expect(config).toMatchObject({
      notifyUrl: "https://hooks.example.com/cutover",
      hookSecret: "0123456789abcdef0123",
    });
    const unset = parseControllerConfig({ CUTOVER_NOTIFY_URL: "", CUTOVER_HOOK_SECRET: "" });
    expect([unset.notifyUrl, unset.hookSecret]).toEqual([undefined, undefined]);
    for (const bad of ["ftp://hunter2@example.com/x", "not a url hunter2"]) {
      let error: unknown;
      try {
        parseControllerConfig({ CUTOVER_NOTIFY_URL: bad });
      } catch (caught) {
        error = caught;
      }
      expect(error).toMatchObject({ code: "INVALID_CONFIG", message: expect.stringMatching(/^CUTOVER_NOTIFY_URL/) });
      expect(String((error as Error).message)).not.toContain("hunter2");
    }
  });

  it("a CUTOVER_HOOK_SECRET under 16 bytes stops the controller at start, by its length, never its text", async () => {
    const config = parseControllerConfig({ ...env, CUTOVER_HOOK_SECRET: "hunter2-short" });
    const lines: string[] = [];
    let error: unknown;
    try {
      await createController(config, { log: (line) => lines.push(line) });
    } catch (caught) {
      error = caught;
    }
    expect(error).toMatchObject({
      code: "INVALID_CONFIG",
      message: "CUTOVER_HOOK_SECRET is shorter than 16 bytes: use at least 16 random bytes (openssl rand -hex 32)",
    });
    expect(lines.join("\n")).not.toContain("hunter2");
  });

  it("without CUTOVER_HOOK_SECRET the controller starts and says once that deliveries go unsigned", async () => {
    const lines: string[] = [];
    const controller = await createController(parseControllerConfig(env), { log: (line) => lines.push(line) });
    await controller.close();
    expect(lines).toEqual(["CUTOVER_HOOK_SECRET is unset: webhook deliveries are not signed"]);
    const signed = await createController(parseControllerConfig({ ...env, CUTOVER_HOOK_SECRET: "x".repeat(16) }), {
      log: (line) => lines.push(line),
    });
    await signed.close();
    expect(lines).toHaveLength(1);
  });
});
