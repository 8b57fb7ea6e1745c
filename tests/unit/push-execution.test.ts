/**
 * `cutover push --instances/--max-batch/--batch-delay-us` and `PushOptions.execution` write the
 * model card's `execution` (docs/NODE.md, Instances); a bad value is refused, naming the flag or the
 * field, before anything reaches the store. The push command runs in this process on a folder store.
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Command, CommanderError } from "commander";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { registerRegistryCommands } from "../../controller/cli/registry-commands.js";
import { pushVersion } from "../../controller/publisher.js";
import { ArtifactLayout } from "../../core/artifact-layout.js";
import { parseArtifactConfig } from "../../core/config.js";
import { ErrorCode } from "../../core/errors.js";
import type { ExecutionSettings } from "../../core/execution-settings.js";
import { ModelRegistry } from "../../core/registry.js";
import { FolderStore } from "../../core/store/index.js";
import { testKeyPair } from "../support/signing.js";
import { tempDir } from "../support/temp-dir.js";

const FRAMER = join(import.meta.dirname, "../../models/framer/v1/model.onnx");

let work: Awaited<ReturnType<typeof tempDir>>;
let keyFile: string;
let storeDir: string;
let stderr: string;
let stdout: string;

beforeAll(async () => {
  work = await tempDir("cutover-push-execution-");
  keyFile = join(work.path, "cutover.key");
  await writeFile(keyFile, testKeyPair().signer.key.export({ type: "pkcs8", format: "pem" }));
});
afterAll(() => work.cleanup());

let storeNumber = 0;
beforeEach(() => {
  storeDir = join(work.path, `store-${storeNumber++}`);
  stderr = "";
  stdout = "";
  // printResult writes the result to process.stdout.
  vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
    stdout += chunk.toString();
    return true;
  });
});
afterEach(() => {
  vi.restoreAllMocks();
});

/** Runs `cutover <args>` as bin/main.ts builds it: commander throws instead of exiting. */
async function cli(args: readonly string[]): Promise<void> {
  const program = new Command("cutover").exitOverride().configureOutput({
    writeErr: (text) => {
      stderr += text;
    },
    writeOut: (text) => {
      stdout += text;
    },
  });
  registerRegistryCommands(program, { config: parseArtifactConfig({ CUTOVER_STORE_DIR: storeDir }), env: {} });
  await program.parseAsync(["node", "cutover", ...args]);
}

function registry(): ModelRegistry {
  return new ModelRegistry(new FolderStore(storeDir), new ArtifactLayout());
}

async function storedKeys(): Promise<string[]> {
  const keys: string[] = [];
  for await (const object of registry().store.list("")) keys.push(object.key);
  return keys;
}

const push = (version: string, ...flags: string[]) =>
  cli(["push", FRAMER, "--model", "framer", "--version", version, "--key", keyFile, "--json", ...flags]);

describe("push execution flags", () => {
  it("--help lists them", async () => {
    await expect(cli(["push", "--help"])).rejects.toMatchObject({ code: "commander.helpDisplayed" });
    const help = stdout.replace(/\s+/g, " ");
    expect(help).toContain("--instances <auto|N> worker threads per version on each node, instead of the node's");
    expect(help).toContain("--max-batch <N> largest dynamic batch in rows, instead of the node's CUTOVER_MAX_BATCH");
    expect(help).toContain("--batch-delay-us <N> how long a queued batch that is not full waits");
  });

  it("write cutover.json's execution: only the flags given; none given, no execution", async () => {
    await push("all", "--instances", "auto", "--max-batch", "4", "--batch-delay-us", "250");
    await push("inline", "--instances", "0");
    await push("plain");
    const read = registry();
    expect((await read.readModelCard("framer", "all")).execution).toEqual({
      instances: "auto",
      maxBatch: 4,
      batchDelayUs: 250,
    });
    expect((await read.readModelCard("framer", "inline")).execution).toEqual({ instances: 0 });
    expect((await read.readModelCard("framer", "plain")).execution).toBeUndefined();
  });

  it.each([
    [["--instances", "many"], "--instances must be auto or an integer from 0 to 256"],
    [["--instances", "-1"], "--instances must be auto or an integer from 0 to 256"],
    [["--instances", "2.5"], "--instances must be auto or an integer from 0 to 256"],
    [["--instances", "257"], "--instances must be auto or an integer from 0 to 256"],
    [["--max-batch", "1.5"], "--max-batch must be an integer from 0 to 1024"],
    [["--max-batch", "auto"], "--max-batch must be an integer from 0 to 1024"],
    [["--max-batch", ""], "--max-batch must be an integer from 0 to 1024"],
    [["--batch-delay-us", "-3"], "--batch-delay-us must be an integer from 0 to 1000000"],
    [["--batch-delay-us", "2000000"], "--batch-delay-us must be an integer from 0 to 1000000"],
  ])("%j is refused in one line naming the flag; nothing is uploaded", async (flags, message) => {
    const refused = await push("v1", ...flags).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(CommanderError);
    expect(stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(stderr).toContain(message);
    expect(await storedKeys()).toEqual([]);
  });
});

describe("PushOptions.execution (the publisher's API)", () => {
  const signingKey = testKeyPair().signer;
  const pushWith = (execution: unknown) =>
    pushVersion(registry(), {
      path: FRAMER,
      model: "framer",
      version: "v1",
      signingKey,
      // Callers outside TypeScript (or with a cast) can pass anything: the publisher checks it.
      execution: execution as ExecutionSettings,
    });

  it.each([
    [{ instances: -1 }, /^push: execution\.instances: /],
    [{ maxBatch: 2, batch: 4 }, /^push: execution: unknown key\(s\) batch: execution takes instances, maxBatch/],
    [{ batchDelayUs: "fast" }, /^push: execution\.batchDelayUs: /],
  ])("%j is refused with INVALID_INPUT before anything is written", async (execution, message) => {
    await expect(pushWith(execution)).rejects.toMatchObject({
      code: ErrorCode.InvalidInput,
      message: expect.stringMatching(message),
    });
    expect(await storedKeys()).toEqual([]);
  });

  it("an empty object writes no execution", async () => {
    await pushWith({});
    expect((await registry().readModelCard("framer", "v1")).execution).toBeUndefined();
  });
});
