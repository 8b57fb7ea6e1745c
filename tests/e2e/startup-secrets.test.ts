/**
 * What `cutover controller` and `cutover node` print when they start, and when their configuration
 * is refused, holds no credential: the Redis URL's password is ***, a bad CUTOVER_TOKENS entry is
 * named by its position.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../support/cli.js";
import { freePort } from "../support/free-port.js";
import { testKeyPair } from "../support/signing.js";
import { tempDir } from "../support/temp-dir.js";

const ROOT = join(import.meta.dirname, "../..");
const PASSWORD = "hunter2-redis-password";

let work: Awaited<ReturnType<typeof tempDir>>;
let env: Record<string, string>;

beforeAll(async () => {
  work = await tempDir("cutover-secrets-");
  const publicKey = join(work.path, "trusted.pub");
  await writeFile(publicKey, testKeyPair().publicPem);
  // Nothing listens there: both processes start anyway, and say where their Redis is.
  env = {
    CUTOVER_REDIS_URL: `redis://:${PASSWORD}@127.0.0.1:${await freePort()}`,
    CUTOVER_TRUSTED_KEYS: publicKey,
    CUTOVER_STORE_DIR: join(work.path, "store"),
    CUTOVER_CACHE_DIR: join(work.path, "cache"),
  };
});
afterAll(() => work.cleanup());

/** Starts `cutover <command>` and resolves with its stderr once a line matches `ready`; then stops it. */
async function startupOutput(command: string, extra: Record<string, string>, ready: RegExp): Promise<string> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith("CUTOVER_")));
  const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", join(ROOT, "bin/main.ts"), command], {
    cwd: ROOT,
    env: { ...base, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true", ...env, ...extra },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  try {
    return await new Promise<string>((resolve, reject) => {
      child.stderr?.on("data", (chunk: Buffer) => {
        stderr += chunk.toString();
        if (ready.test(stderr)) resolve(stderr);
      });
      child.once("exit", (code) =>
        reject(new Error(`cutover ${command} exited (${code}) before starting:\n${stderr}`)),
      );
    });
  } finally {
    child.kill("SIGKILL");
  }
}

describe("startup output holds no credential", () => {
  it("cutover controller prints its Redis URL with the password as ***", async () => {
    const port = await freePort();
    const output = await startupOutput(
      "controller",
      { CUTOVER_PORT: String(port), CUTOVER_TOKENS: "ops:0123456789abcdef0123" },
      /listening on/,
    );
    expect(output).toContain(`listening on :${port} (Redis redis://:***@127.0.0.1:`);
    expect(output).not.toContain(PASSWORD);
  });

  it("cutover node prints its Redis URL with the password as ***", async () => {
    const port = await freePort();
    const output = await startupOutput("node", { CUTOVER_PORT: String(port), CUTOVER_NODE_ID: "s1" }, /listening on/);
    expect(output).toMatch(/cutover node s1 listening on :\d+ .*Redis redis:\/\/:\*\*\*@127\.0\.0\.1:\d+\)/);
    expect(output).not.toContain(PASSWORD);
  });

  it("a CUTOVER_TOKENS entry without a name is refused by position, its text not echoed", async () => {
    const run = await runCli(["controller"], {
      ...env,
      CUTOVER_PORT: String(await freePort()),
      CUTOVER_TOKENS: "ops:0123456789abcdef0123,Sup3r+Secret/Token=Value",
    });
    expect([run.code, run.stderr]).toEqual([
      1,
      "cutover: INVALID_CONFIG: CUTOVER_TOKENS: entry 2 of 2 is not name:token (a name of 1-64 letters, digits, . _ - @, a colon, then the token)\n",
    ]);
  });
});
