/** `cutover keygen`, `cutover sign`, `cutover verify`: keys and OMS signatures. */
import { lstat, mkdir, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { Command } from "commander";
import { writeFileAtomic } from "../../core/atomic-file.js";
import { InputError } from "../../core/errors.js";
import { generateSigningKeyPair, loadSigningKey } from "../../core/oms/keys.js";
import { SIGNATURE_FILE, serializeBundle, signFolder } from "../../core/oms/signer.js";
import { verifyFolder } from "../../core/oms/verifier.js";
import { VersionFetcher } from "../../core/version-fetcher.js";
import { type CliContext, collectList, openRegistry, resolveTrustedKeys } from "./context.js";
import { printResult, progressLine } from "./output.js";

export function registerSigningCommands(program: Command, context: CliContext): void {
  program
    .command("keygen")
    .description("make an ECDSA P-256 signing key pair: DIR/cutover.key (private, mode 0600) and DIR/cutover.pub")
    .requiredOption("--out <dir>", "folder to write the key pair into")
    .option("--force", "replace an existing key pair (both files)")
    .option("--json", "print the result as JSON")
    .action(async (options: { out: string; force?: boolean; json?: boolean }) => {
      await mkdir(options.out, { recursive: true });
      const privatePath = join(options.out, "cutover.key");
      const publicPath = join(options.out, "cutover.pub");
      const existing = await existingKeyFiles([privatePath, publicPath]);
      if (existing.length > 0 && !options.force) {
        throw new InputError(
          `${existing.join(" and ")} ${existing.length > 1 ? "exist" : "exists"}; pass --force to replace the key pair`,
        );
      }
      const pair = generateSigningKeyPair();
      await writeFileAtomic(privatePath, pair.privatePem, { mode: 0o600 });
      await writeFileAtomic(publicPath, pair.publicPem, { mode: 0o644 });
      const replaced = existing.length > 0;
      printResult(options, { privateKey: privatePath, publicKey: publicPath, hint: pair.hint, replaced }, () => [
        ...(replaced
          ? [
              `replaced the existing key pair in ${options.out} (versions signed with the old key verify only where its public key is still trusted)`,
            ]
          : []),
        `private key  ${privatePath}  (keep it secret; sign with --key ${privatePath})`,
        `public key   ${publicPath}  (trust it with CUTOVER_TRUSTED_KEYS=${publicPath})`,
        `key hint     ${pair.hint}`,
      ]);
    });

  program
    .command("sign <dir>")
    .description(`sign every file of a model folder; writes DIR/${SIGNATURE_FILE} (OMS v1.0)`)
    .requiredOption("--key <file>", "private key (PEM, ECDSA P-256/P-384/P-521)")
    .option("--ignore-paths <paths>", "comma-separated paths to leave out of the manifest", collectList)
    .option("--signature <file>", `where to write the bundle (default DIR/${SIGNATURE_FILE})`)
    .option("--json", "print the result as JSON")
    .action(
      async (dir: string, options: { key: string; ignorePaths?: string[]; signature?: string; json?: boolean }) => {
        const key = await loadSigningKey(options.key);
        const { bundle, manifest } = await signFolder(dir, key, {
          subjectName: resolve(dir).split("/").pop() ?? "model",
          ...(options.ignorePaths ? { ignorePaths: options.ignorePaths } : {}),
        });
        const output = options.signature ?? join(dir, SIGNATURE_FILE);
        await writeFile(output, serializeBundle(bundle));
        printResult(options, { signature: output, files: manifest.length, hint: key.hint }, () => [
          `signed ${manifest.length} file(s) of ${dir} → ${output} (key ${key.hint})`,
        ]);
      },
    );

  program
    .command("verify [path]")
    .description("verify a local model folder (or one file) against its OMS signature, or a version in the store")
    .option(
      "--key <file>",
      "trusted public key or folder of keys (repeatable; default CUTOVER_TRUSTED_KEYS)",
      collectList,
    )
    .option("--signature <file>", `the bundle (default PATH/${SIGNATURE_FILE})`)
    .option("--ignore-paths <paths>", "comma-separated paths to skip, on top of those the bundle records", collectList)
    .option("--model <model>", "verify a version in the store instead of a local path (with --version)")
    .option("--version <version>", "the version to verify in the store")
    .option("--json", "print the result as JSON")
    .action(async (path: string | undefined, options: VerifyOptions) => {
      const keys = await resolveTrustedKeys(context, options.key);
      if (options.model !== undefined || options.version !== undefined) {
        await verifyStoredVersion(context, keys, options);
        return;
      }
      if (path === undefined) throw new InputError("verify: give a PATH, or --model M --version V");
      const manifest = await verifyFolder(path, keys, {
        ...(options.signature ? { signaturePath: options.signature } : {}),
        ...(options.ignorePaths ? { ignorePaths: options.ignorePaths } : {}),
      });
      printResult(
        options,
        { verified: true, path, files: manifest.resources.map((r) => r.name), signer: manifest.signer.hint },
        () => [
          `verified ${path}: ${manifest.resources.length} file(s), signed by ${manifest.signer.hint} (${manifest.signer.source})`,
        ],
      );
    });
}

/**
 * Which of the key files exist already. A symlink or anything but a regular file is refused even
 * with --force: a key is never written through a link to somewhere else.
 */
async function existingKeyFiles(paths: readonly string[]): Promise<string[]> {
  const existing: string[] = [];
  for (const path of paths) {
    const info = await lstat(path).catch((error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT") return undefined;
      throw error;
    });
    if (info === undefined) continue;
    if (info.isSymbolicLink())
      throw new InputError(`${path} is a symbolic link; keygen does not write keys through one`);
    if (!info.isFile()) throw new InputError(`${path} exists and is not a regular file`);
    existing.push(path);
  }
  return existing;
}

interface VerifyOptions {
  key?: string[];
  signature?: string;
  ignorePaths?: string[];
  model?: string;
  version?: string;
  json?: boolean;
}

async function verifyStoredVersion(
  context: CliContext,
  trustedKeys: Awaited<ReturnType<typeof resolveTrustedKeys>>,
  options: VerifyOptions,
): Promise<void> {
  if (options.model === undefined || options.version === undefined) {
    throw new InputError("verify: --model and --version go together");
  }
  const registry = openRegistry(context);
  const progress = progressLine(`fetching ${options.model}/${options.version}`, options);
  try {
    const fetcher = new VersionFetcher({
      registry,
      cacheDir: context.config.cacheDir,
      trustedKeys,
      ...(context.config.ranged ? { ranged: context.config.ranged } : {}),
    });
    const fetched = await fetcher.fetch(options.model, options.version, {
      onProgress: (p) => progress.update(p.doneBytes, p.totalBytes, p.file),
    });
    progress.done();
    printResult(
      options,
      {
        verified: true,
        model: fetched.model,
        version: fetched.version,
        dir: fetched.dir,
        files: fetched.files.map(({ name, digest, size }) => ({ name, digest, size })),
        signer: fetched.manifest.signer.hint,
        downloadedBytes: fetched.downloadedBytes,
        reusedBytes: fetched.reusedBytes,
      },
      () => [
        `verified ${fetched.model}/${fetched.version} from ${registry.store.location}: ${fetched.files.length} file(s), signed by ${fetched.manifest.signer.hint}`,
        `cached at ${fetched.dir} (${fetched.downloadedBytes} bytes downloaded, ${fetched.reusedBytes} reused)`,
      ],
    );
  } finally {
    progress.done();
    registry.store.close();
  }
}
