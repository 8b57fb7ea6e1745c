import { spawn } from "node:child_process";
import { cp, lstat, mkdir, readdir, readFile, rm, stat, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli, TSX_IMPORT } from "../support/cli.js";
import { freePort } from "../support/free-port.js";
import { DEMO } from "../support/registry-contract.js";
import { type S3TestServer, startS3Server } from "../support/s3-server.js";
import { tempDir } from "../support/temp-dir.js";

const ROOT = join(import.meta.dirname, "../..");
const OMS = join(import.meta.dirname, "../fixtures/oms");
const OMS_KEY = join(OMS, "keys/signing-key-pub.pem");

let work: Awaited<ReturnType<typeof tempDir>>;
beforeAll(async () => {
  work = await tempDir();
});
afterAll(() => work.cleanup());

describe("cutover verify on bundles made by another OMS tool", () => {
  it.each([
    ["v1.1.0-elliptic-key", []],
    ["v1.0.1-elliptic-key", ["--ignore-paths", "ignore-me"]],
    ["v1.0.0-elliptic-key/signme-1", []],
    [
      "v1.1.0-elliptic-key",
      ["--signature", join(OMS, "spec-test-vector/key.bundle.json"), "--ignore-paths", "model.sig"],
    ],
  ])("accepts %s %j", async (path, extra) => {
    const run = await runCli(["verify", join(OMS, path), "--key", OMS_KEY, ...extra]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^verified .*signed by e8450dec4eb99dae/);
  });

  it("rejects a tampered copy with one line and exit code 1", async () => {
    const copy = join(work.path, "tampered");
    await cp(join(OMS, "v1.1.0-elliptic-key"), copy, { recursive: true });
    await writeFile(join(copy, "signme-2"), "signme-2 changed");
    const run = await runCli(["verify", copy, "--key", OMS_KEY]);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe("");
    expect(run.stderr).toMatch(
      /^cutover: DIGEST_MISMATCH: signme-2: sha256 [0-9a-f]{64} does not match the signed [0-9a-f]{64}\n$/,
    );
  });

  it("a usage error exits 2; a missing key is a clear configuration error", async () => {
    expect((await runCli(["verify", "--no-such-flag"])).code).toBe(2);
    const run = await runCli(["verify", join(OMS, "v1.1.0-elliptic-key")]);
    expect(run.code).toBe(1);
    expect(run.stderr).toBe("cutover: INVALID_CONFIG: no trusted key: pass --key PUB or set CUTOVER_TRUSTED_KEYS\n");
  });
});

describe("keygen → sign → verify", () => {
  it("makes a key pair, signs a folder and verifies it; --json gives machine output", async () => {
    const keys = join(work.path, "keys");
    const keygen = await runCli(["keygen", "--out", keys, "--json"]);
    expect(keygen.code).toBe(0);
    const pair = JSON.parse(keygen.stdout) as { privateKey: string; publicKey: string; hint: string };
    expect(pair.hint).toMatch(/^[0-9a-f]{64}$/);
    expect((await stat(pair.privateKey)).mode & 0o777).toBe(0o600);
    expect((await runCli(["keygen", "--out", keys])).stderr).toMatch(
      /cutover\.key and \S+cutover\.pub exist; pass --force to replace the key pair/,
    );

    const model = join(work.path, "signed");
    await cp(join(DEMO, "v1"), model, { recursive: true });
    const sign = await runCli(["sign", model, "--key", pair.privateKey]);
    expect(sign.code).toBe(0);
    const verify = await runCli(["verify", model, "--json"], { CUTOVER_TRUSTED_KEYS: pair.publicKey });
    expect(JSON.parse(verify.stdout)).toMatchObject({
      verified: true,
      files: ["golden.json", "labels.txt", "model.onnx"],
      signer: pair.hint,
    });
  });
});

describe("keygen never writes a key where it should not", () => {
  it("refuses a symlink at the key's path, even with --force, and leaves its target alone", async () => {
    const keys = join(work.path, "linked-keys");
    await mkdir(keys);
    const elsewhere = join(work.path, "precious.txt");
    await writeFile(elsewhere, "not a key\n");
    await symlink(elsewhere, join(keys, "cutover.key"));
    for (const force of [[], ["--force"]]) {
      const run = await runCli(["keygen", "--out", keys, ...force]);
      expect([run.code, run.stderr]).toEqual([
        1,
        `cutover: INVALID_INPUT: ${join(keys, "cutover.key")} is a symbolic link; keygen does not write keys through one\n`,
      ]);
    }
    await rm(join(keys, "cutover.key"));
    await symlink(elsewhere, join(keys, "cutover.pub"));
    expect((await runCli(["keygen", "--out", keys, "--force"])).stderr).toMatch(/cutover\.pub is a symbolic link/);
    expect(await readFile(elsewhere, "utf8")).toBe("not a key\n");
    expect((await lstat(join(keys, "cutover.pub"))).isSymbolicLink()).toBe(true);
  });

  it("an existing .pub alone is refused without --force; with it, the output says the pair was replaced", async () => {
    const keys = join(work.path, "pub-only");
    await mkdir(keys);
    await writeFile(join(keys, "cutover.pub"), "an old public key\n");
    const refused = await runCli(["keygen", "--out", keys]);
    expect([refused.code, refused.stderr]).toEqual([
      1,
      `cutover: INVALID_INPUT: ${join(keys, "cutover.pub")} exists; pass --force to replace the key pair\n`,
    ]);
    expect(await readFile(join(keys, "cutover.pub"), "utf8")).toBe("an old public key\n");

    const forced = await runCli(["keygen", "--out", keys, "--force"]);
    expect(forced.code).toBe(0);
    expect(forced.stdout.split("\n")[0]).toBe(
      `replaced the existing key pair in ${keys} (versions signed with the old key verify only where its public key is still trusted)`,
    );
    expect(await readFile(join(keys, "cutover.pub"), "utf8")).toMatch(/^-----BEGIN PUBLIC KEY-----/);
    expect((await stat(join(keys, "cutover.key"))).mode & 0o777).toBe(0o600);
    const json = JSON.parse((await runCli(["keygen", "--out", keys, "--force", "--json"])).stdout) as {
      replaced: boolean;
    };
    expect(json.replaced).toBe(true);
    expect((await readdir(keys)).sort()).toEqual(["cutover.key", "cutover.pub"]);
  });
});

describe("output piped into a reader that stops early (`| head -1`)", () => {
  it("ends quietly: no EPIPE stack trace, the command's own exit code", async () => {
    // `cutover models` of a store with thousands of models prints far more than a pipe holds.
    const store = join(work.path, "many-models");
    const names = Array.from({ length: 4000 }, (_, i) => `model-${String(i).padStart(5, "0")}-${"x".repeat(40)}`);
    await Promise.all(names.map((name) => mkdir(join(store, name), { recursive: true })));
    const script = `set -o pipefail; "${process.execPath}" --import "${TSX_IMPORT}" "${join(ROOT, "bin/main.ts")}" models | head -1`;
    const run = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const child = spawn("bash", ["-c", script], {
        env: { PATH: process.env.PATH ?? "", CUTOVER_STORE_DIR: store },
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (chunk: Buffer) => {
        stdout += chunk.toString();
      });
      child.stderr.on("data", (chunk: Buffer) => {
        stderr += chunk.toString();
      });
      child.on("error", reject);
      child.on("close", (code) => resolve({ code, stdout, stderr }));
    });
    expect(run).toEqual({ code: 0, stdout: `${names[0]}\n`, stderr: "" });
  });
});

describe("push, versions and verify against the store", () => {
  let server: S3TestServer;
  let env: Record<string, string>;
  let key: string;

  beforeAll(async () => {
    server = await startS3Server();
    key = join(work.path, "push-keys");
    await runCli(["keygen", "--out", key]);
    env = {
      CUTOVER_S3_ENDPOINT: server.endpoint,
      CUTOVER_S3_BUCKET: await server.createBucket("cli"),
      CUTOVER_S3_FORCE_PATH_STYLE: "true",
      CUTOVER_S3_PREFIX: "registry",
      CUTOVER_TRUSTED_KEYS: join(key, "cutover.pub"),
      CUTOVER_CACHE_DIR: join(work.path, "cli-cache"),
      AWS_ACCESS_KEY_ID: server.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: server.credentials.secretAccessKey,
    };
  });
  afterAll(() => server.stop());

  it("pushes with the CI's commit, lists, verifies from the store, and refuses a second push", async () => {
    const pushArgs = [
      "push",
      join(DEMO, "v1"),
      "--model",
      "demo",
      "--version",
      "v1",
      "--key",
      join(key, "cutover.key"),
    ];
    const push = await runCli([...pushArgs, "--golden", join(DEMO, "v1/golden.json"), "--json"], {
      ...env,
      GITHUB_SHA: "0123abc",
    });
    expect(push.stderr).toBe("");
    expect(JSON.parse(push.stdout)).toMatchObject({ model: "demo", version: "v1", files: 4 });

    const versions = await runCli(["versions", "demo", "--json"], env);
    const listed = JSON.parse(versions.stdout) as { versions: { version: string; signerHint: string }[] };
    expect(listed.versions.map((v) => v.version)).toEqual(["v1"]);
    expect((await runCli(["models"], env)).stdout).toBe("demo\n");

    const verify = await runCli(["verify", "--model", "demo", "--version", "v1", "--json"], env);
    const verified = JSON.parse(verify.stdout) as { dir: string; downloadedBytes: number };
    const card = JSON.parse(await readFile(join(verified.dir, "cutover.json"), "utf8")) as {
      source: { commit: string };
    };
    expect(card.source.commit).toBe("0123abc");

    const again = await runCli(pushArgs, env);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^cutover: ALREADY_EXISTS: version demo\/v1 is already published/);
  });

  it("push --sample records golden vectors from an infer request; without one it says what samples give", async () => {
    const framer = join(DEMO, "../framer");
    const base = ["push", join(framer, "v1"), "--model", "framer", "--key", join(key, "cutover.key")];
    const sampled = await runCli([...base, "--version", "s1", "--sample", join(framer, "sample.json")], env);
    expect(sampled.stderr).toBe("");
    expect(sampled.stdout).toMatch(
      /\ngolden vectors: 1 case\(s\) \(1 recorded from --sample\); every node checks them before serving\n$/,
    );
    const bare = await runCli([...base, "--version", "s2"], env);
    expect(bare.stdout).toMatch(
      /\nno golden vectors: nodes warm up on recent requests they served .*synthetic inputs .*--sample FILE/,
    );

    const short = join(work.path, "short-sample.json");
    await writeFile(
      short,
      JSON.stringify({
        inputs: [
          { name: "audio", shape: [1, 100], datatype: "FP32", data: Array(100).fill(0) },
          { name: "sr", shape: [], datatype: "INT64", data: [16000] },
        ],
      }),
    );
    const rejected = await runCli([...base, "--version", "s3", "--sample", short], env);
    expect(rejected.code).toBe(1);
    expect(rejected.stderr).toMatch(
      /^cutover: MODEL_INVALID: push: the model rejected sample .*short-sample\.json: .*reshaped/,
    );
    const versions = JSON.parse((await runCli(["versions", "framer", "--json"], env)).stdout) as {
      versions: { version: string }[];
    };
    expect(versions.versions.map((v) => v.version)).toEqual(["s1", "s2"]);
  });

  it("a bad model name is refused with the rule", async () => {
    const run = await runCli(["versions", "Bad/Name"], env);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/^cutover: INVALID_INPUT: invalid model name "Bad\/Name"/);
  });
});

describe("a password written in CUTOVER_S3_ENDPOINT", () => {
  it("is never printed: the store's errors show it replaced", async () => {
    const port = await freePort();
    const run = await runCli(["models"], {
      CUTOVER_S3_ENDPOINT: `http://minio:hunter2@127.0.0.1:${port}`,
      CUTOVER_S3_BUCKET: "models",
      CUTOVER_S3_FORCE_PATH_STYLE: "true",
      AWS_ACCESS_KEY_ID: "a",
      AWS_SECRET_ACCESS_KEY: "b",
    });
    expect(run.code).toBe(1);
    expect(run.stderr).not.toContain("hunter2");
    expect(run.stderr).toContain(`cutover: STORE_UNREACHABLE: list / in http://minio:***@127.0.0.1:${port}/models: `);
  });
});
