/** `cutover push`, `cutover models`, `cutover versions`: publishing to and reading the store. */
import { type Command, InvalidArgumentError } from "commander";
import { EXECUTION_LIMITS, type ExecutionSettings } from "../../core/execution-settings.js";
import type { Tolerance } from "../../core/golden-recording.js";
import { loadSigningKey } from "../../core/oms/keys.js";
import { sourceFromCiEnvironment } from "../ci-source.js";
import { pushVersion } from "../publisher.js";
import { type CliContext, collectList, openRegistry } from "./context.js";
import { instancesFlag, integerFlag } from "./flag-parsers.js";
import { formatBytes, formatTable, printResult, progressLine } from "./output.js";

interface PushFlags {
  model: string;
  version: string;
  key: string;
  golden?: string;
  sample?: string[];
  toleranceAbsolute?: number;
  toleranceRelative?: number;
  instances?: number | "auto";
  maxBatch?: number;
  batchDelayUs?: number;
  commit?: string;
  pipeline?: string;
  repository?: string;
  ignorePaths?: string[];
  json?: boolean;
}

function toleranceValue(flag: string): (value: string) => number {
  return (value) => {
    const parsed = Number(value);
    if (value.trim() === "" || !Number.isFinite(parsed) || parsed < 0)
      throw new InvalidArgumentError(`${flag} must be a number ≥ 0`);
    return parsed;
  };
}

/** The parts of the tolerance the flags give (the other keeps its default). */
function tolerance(flags: PushFlags): { tolerance?: Partial<Tolerance> } {
  if (flags.toleranceAbsolute === undefined && flags.toleranceRelative === undefined) return {};
  return {
    tolerance: {
      ...(flags.toleranceAbsolute !== undefined ? { absolute: flags.toleranceAbsolute } : {}),
      ...(flags.toleranceRelative !== undefined ? { relative: flags.toleranceRelative } : {}),
    },
  };
}

/** The execution settings the flags give, for cutover.json; none given: the card has none. */
function execution(flags: PushFlags): { execution?: ExecutionSettings } {
  const settings: ExecutionSettings = {
    ...(flags.instances !== undefined ? { instances: flags.instances } : {}),
    ...(flags.maxBatch !== undefined ? { maxBatch: flags.maxBatch } : {}),
    ...(flags.batchDelayUs !== undefined ? { batchDelayUs: flags.batchDelayUs } : {}),
  };
  return Object.keys(settings).length > 0 ? { execution: settings } : {};
}

export function registerRegistryCommands(program: Command, context: CliContext): void {
  program
    .command("push <path>")
    .description("publish a model version: PATH is a folder holding model.onnx (and side files) or one .onnx file")
    .requiredOption("--model <model>", "model name")
    .requiredOption("--version <version>", "version name (immutable once pushed)")
    .requiredOption("--key <file>", "private signing key (PEM)")
    .option("--golden <file>", "golden vectors (OIP v2 requests and expected responses) to embed in cutover.json")
    .option(
      "--sample <file>",
      "an OIP v2 infer request body: run through the model now, recorded with its outputs as golden vectors that every node checks (repeatable)",
      (value: string, previous: string[] = []) => [...previous, value],
    )
    .option(
      "--tolerance-absolute <x>",
      "golden tolerance: |actual − expected| ≤ absolute + relative×|expected| (default for samples: 1e-4, FP16 outputs 1e-2)",
      toleranceValue("--tolerance-absolute"),
    )
    .option(
      "--tolerance-relative <x>",
      "golden tolerance, relative part (default for samples: 1e-3, FP16 outputs 1e-2)",
      toleranceValue("--tolerance-relative"),
    )
    .option(
      "--instances <auto|N>",
      "worker threads per version on each node, instead of the node's CUTOVER_INSTANCES (0: the node's main thread; auto: the warm-up decides)",
      instancesFlag("--instances", EXECUTION_LIMITS.instances),
    )
    .option(
      "--max-batch <N>",
      "largest dynamic batch in rows, instead of the node's CUTOVER_MAX_BATCH (0 or 1: off; only a model whose first dimension is symbolic on every input and output batches)",
      integerFlag("--max-batch", 0, EXECUTION_LIMITS.maxBatch),
    )
    .option(
      "--batch-delay-us <N>",
      "how long a queued batch that is not full waits for more requests (µs), instead of the node's CUTOVER_BATCH_DELAY_US",
      integerFlag("--batch-delay-us", 0, EXECUTION_LIMITS.batchDelayUs),
    )
    .option("--commit <sha>", "source commit (default: from the CI environment)")
    .option("--pipeline <url>", "CI pipeline or run URL (default: from the CI environment)")
    .option("--repository <name>", "source repository (default: from the CI environment)")
    .option("--ignore-paths <paths>", "comma-separated paths inside PATH not to publish", collectList)
    .option("--json", "print the result as JSON")
    .action(async (path: string, flags: PushFlags) => {
      const signingKey = await loadSigningKey(flags.key);
      const ci = sourceFromCiEnvironment(context.env);
      const source = {
        ...ci,
        ...(flags.commit ? { commit: flags.commit } : {}),
        ...(flags.pipeline ? { pipeline: flags.pipeline } : {}),
        ...(flags.repository ? { repository: flags.repository } : {}),
      };
      const registry = openRegistry(context);
      const progress = progressLine(`pushing ${flags.model}/${flags.version}`, flags);
      try {
        const result = await pushVersion(registry, {
          path,
          model: flags.model,
          version: flags.version,
          signingKey,
          source,
          ...(flags.golden ? { goldenPath: flags.golden } : {}),
          ...(flags.sample ? { samplePaths: flags.sample } : {}),
          ...tolerance(flags),
          ...execution(flags),
          ...(flags.ignorePaths ? { ignorePaths: flags.ignorePaths } : {}),
          onProgress: (p) => progress.update(p.doneBytes, p.totalBytes, `${p.phase} ${p.file}`),
        });
        progress.done();
        printResult(flags, result, () => [
          `pushed ${result.model}/${result.version}: ${result.files} file(s), ${formatBytes(result.bytes)} → ${result.location}`,
          `signed by ${result.signerHint}; manifest digest ${result.digest}`,
          result.goldenCases > 0
            ? `golden vectors: ${result.goldenCases} case(s)${result.recordedSamples > 0 ? ` (${result.recordedSamples} recorded from --sample)` : ""}; every node checks them before serving`
            : "no golden vectors: nodes warm up on recent requests they served for this model, else on synthetic inputs (best effort; a model that rejects them is served cold). --sample FILE (an infer request) records outputs every node checks",
        ]);
      } finally {
        progress.done();
        registry.store.close();
      }
    });

  program
    .command("models")
    .description("list the models in the store")
    .option("--json", "print the result as JSON")
    .action(async (flags: { json?: boolean }) => {
      const registry = openRegistry(context);
      try {
        const models = await registry.listModels();
        printResult(flags, { models }, () =>
          models.length > 0 ? models : [`no models in ${registry.store.location}`],
        );
      } finally {
        registry.store.close();
      }
    });

  program
    .command("versions <model>")
    .description("list the published versions of a model (size, created, signer)")
    .option("--json", "print the result as JSON")
    .action(async (model: string, flags: { json?: boolean }) => {
      const registry = openRegistry(context);
      try {
        const versions = await registry.listVersions(model);
        printResult(flags, { model, versions }, () =>
          versions.length === 0
            ? [`no published versions of ${model} in ${registry.store.location}`]
            : formatTable([
                ["VERSION", "SIZE", "FILES", "CREATED", "SIGNER"],
                ...versions.map((v) => [
                  v.version,
                  formatBytes(v.size),
                  String(v.files),
                  v.created ?? "-",
                  v.signerHint?.slice(0, 16) ?? "-",
                ]),
              ]),
        );
      } finally {
        registry.store.close();
      }
    });
}
