/**
 * Publishing a model version: `cutover push`. Builds the model card from the ONNX file itself
 * (golden vectors from a file and/or recorded by running samples through the model; execution
 * settings when given), signs the manifest (OMS v1.0), uploads every file — hashing each again as it
 * streams, so a file that changed since it was signed is caught before anything is committed — and
 * writes `model.sig` last, conditionally: the version is published by that one write, and never
 * written again.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { Transform } from "node:stream";
import { MODEL_CARD_FILE, MODEL_FILE } from "../core/artifact-layout.js";
import { sha256File, sha256Hex } from "../core/digest.js";
import { ErrorCode, InputError, ModelError, StoreError, VerificationError } from "../core/errors.js";
import { type ExecutionSettings, executionSettingsSchema } from "../core/execution-settings.js";
import { recordedTolerance, recordGolden, type Tolerance } from "../core/golden-recording.js";
import { mapLimit } from "../core/map-limit.js";
import { type ModelCard, modelCardSchema, parseGolden } from "../core/model-card.js";
import { assertModelName, assertVersionName } from "../core/names.js";
import type { SigningKey } from "../core/oms/keys.js";
import { createIgnoreMatcher, listModelFiles, type ManifestEntry } from "../core/oms/manifest.js";
import { createStatement, SIGNATURE_FILE, serializeBundle, signStatement, subjectDigest } from "../core/oms/signer.js";
import { readOnnxSignature } from "../core/onnx-signature.js";
import type { ModelRegistry } from "../core/registry.js";

export interface PushSource {
  readonly commit?: string;
  readonly pipeline?: string;
  readonly repository?: string;
}

export interface PushOptions {
  /** A folder holding model.onnx (and side files), or one .onnx file. */
  readonly path: string;
  readonly model: string;
  readonly version: string;
  readonly signingKey: SigningKey;
  /** A golden-vectors file (OIP v2 requests and expected responses) to embed in cutover.json. */
  readonly goldenPath?: string;
  /**
   * OIP v2 infer request bodies: each is run through the model here and recorded, with the outputs it
   * gave, as a golden case (after any from `goldenPath`).
   */
  readonly samplePaths?: readonly string[];
  /**
   * Either part of the golden tolerance, overriding the default: the golden file's, or
   * {@link recordedTolerance} for samples, or the looser of both when there are both.
   */
  readonly tolerance?: Partial<Tolerance>;
  /**
   * How nodes run this version (cutover.json `execution`): each field given wins over the node's
   * CUTOVER_INSTANCES / CUTOVER_MAX_BATCH / CUTOVER_BATCH_DELAY_US. Checked before anything is read or sent.
   */
  readonly execution?: ExecutionSettings;
  readonly source?: PushSource;
  /** Paths inside the folder to leave out (not uploaded, not signed). */
  readonly ignorePaths?: readonly string[];
  /** Files uploaded in parallel (default 2; each large one is itself a parallel multipart upload). */
  readonly concurrency?: number;
  /**
   * Progress: first the local files are hashed (phase "hashing"), then uploaded ("uploading");
   * `doneBytes` of `totalBytes` within the phase.
   */
  readonly onProgress?: (progress: PushProgress) => void;
  readonly now?: () => Date;
}

export interface PushProgress {
  readonly phase: "hashing" | "uploading";
  readonly doneBytes: number;
  readonly totalBytes: number;
  readonly file: string;
}

export interface PushResult {
  readonly model: string;
  readonly version: string;
  readonly files: number;
  readonly bytes: number;
  readonly created: string;
  readonly signerHint: string;
  /** The statement subject: SHA-256 over the resource digests. */
  readonly digest: string;
  /** Golden cases nodes will check at warm-up (0: they warm up on synthetic inputs, best effort). */
  readonly goldenCases: number;
  /** Of those, recorded from samples. */
  readonly recordedSamples: number;
  readonly location: string;
}

/** A file to upload: where its bytes come from and what they must hash to. */
interface StagedFile extends ManifestEntry {
  readonly source: { readonly path: string } | { readonly bytes: Buffer };
  readonly size: number;
}

async function stageLocalFiles(options: PushOptions): Promise<StagedFile[]> {
  const info = await stat(options.path).catch(() => {
    throw new InputError(`push: ${options.path} does not exist`);
  });
  if (info.isFile()) {
    if (!options.path.endsWith(".onnx")) throw new InputError(`push: ${options.path} is a file but not an .onnx model`);
    const hashed = hashingProgress(options, info.size);
    const digest = await sha256File(options.path, (bytes) => hashed(bytes, MODEL_FILE));
    return [{ name: MODEL_FILE, digest, size: info.size, source: { path: options.path } }];
  }
  const reserved = [SIGNATURE_FILE, ...(options.ignorePaths ?? [])];
  const names = await listModelFiles(options.path, createIgnoreMatcher(reserved));
  if (!names.includes(MODEL_FILE)) throw new InputError(`push: ${options.path} has no ${MODEL_FILE}`);
  if (names.includes(MODEL_CARD_FILE)) {
    throw new InputError(`push: ${options.path} already holds ${MODEL_CARD_FILE}; cutover writes it, remove it first`);
  }
  const sized = await Promise.all(
    names.map(async (name) => {
      const path = join(options.path, ...name.split("/"));
      return { name, path, size: (await stat(path)).size };
    }),
  );
  const hashed = hashingProgress(
    options,
    sized.reduce((sum, file) => sum + file.size, 0),
  );
  return mapLimit(sized, 4, async ({ name, path, size }) => ({
    name,
    digest: await sha256File(path, (bytes) => hashed(bytes, name)),
    size,
    source: { path },
  }));
}

/** Reports hashing progress across all files of a push. */
function hashingProgress(options: PushOptions, totalBytes: number): (bytes: number, file: string) => void {
  let doneBytes = 0;
  return (bytes, file) => {
    doneBytes += bytes;
    options.onProgress?.({ phase: "hashing", doneBytes, totalBytes, file });
  };
}

/**
 * The execution settings to write, checked like the CLI's flags (an API caller has no flag parser in
 * front of it); undefined when none is set, so a card without them stays as cards were before.
 */
function checkedExecution(execution: ExecutionSettings | undefined): ExecutionSettings | undefined {
  if (execution === undefined) return undefined;
  const parsed = executionSettingsSchema.safeParse(execution);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${["execution", ...issue.path].join(".")}: ${issue.message}`);
    throw new InputError(`push: ${problems.join("; ")}`);
  }
  return Object.keys(parsed.data).length > 0 ? parsed.data : undefined;
}

async function buildModelCard(
  options: PushOptions,
  modelPath: string,
  created: string,
  execution: ExecutionSettings | undefined,
): Promise<ModelCard> {
  const { inputs, outputs } = await readOnnxSignature(modelPath);
  const handMade = options.goldenPath
    ? parseGolden(
        await readFile(options.goldenPath).catch(() => {
          throw new InputError(`push: golden file ${options.goldenPath} cannot be read`);
        }),
        inputs,
        outputs,
      )
    : undefined;
  const samplePaths = options.samplePaths ?? [];
  const recorded =
    samplePaths.length > 0
      ? await recordGolden({ modelPath, samplePaths, inputs, tolerance: recordedTolerance(outputs) })
      : undefined;
  const cases = [...(handMade?.cases ?? []), ...(recorded?.cases ?? [])];
  if (cases.length === 0 && options.tolerance !== undefined) {
    throw new InputError("push: a golden tolerance was given, but there are no golden vectors (--golden or --sample)");
  }
  const tolerance = { ...goldenTolerance(handMade?.tolerance, recorded?.tolerance), ...options.tolerance };
  return modelCardSchema.parse({
    schemaVersion: 1,
    model: options.model,
    version: options.version,
    created,
    source: { ...options.source },
    inputs,
    outputs,
    ...(cases.length > 0 ? { golden: { tolerance, cases } } : {}),
    ...(execution !== undefined ? { execution } : {}),
  });
}

/**
 * One tolerance covers every case: the hand-written file's, the recorded default, or — when both
 * kinds of case are there — the looser of the two in each part, so that recorded outputs keep the
 * room another execution provider needs.
 */
function goldenTolerance(handMade: Tolerance | undefined, recorded: Tolerance | undefined): Tolerance | undefined {
  if (handMade === undefined || recorded === undefined) return handMade ?? recorded;
  return {
    absolute: Math.max(handMade.absolute, recorded.absolute),
    relative: Math.max(handMade.relative, recorded.relative),
  };
}

/** Publishes one version. Fails with ALREADY_EXISTS when the version is published already. */
export async function pushVersion(registry: ModelRegistry, options: PushOptions): Promise<PushResult> {
  const { model, version } = options;
  assertModelName(model);
  assertVersionName(version);
  const execution = checkedExecution(options.execution);
  const { store, layout } = registry;
  if (await registry.isPublished(model, version)) {
    throw new StoreError(
      ErrorCode.AlreadyExists,
      `version ${model}/${version} is already published in ${store.location}; versions are immutable`,
    );
  }

  const files = await stageLocalFiles(options);
  const modelFile = files.find((file) => file.name === MODEL_FILE);
  if (modelFile === undefined || !("path" in modelFile.source)) throw new ModelError(`push: no ${MODEL_FILE} to read`);
  const created = (options.now?.() ?? new Date()).toISOString();
  const card = await buildModelCard(options, modelFile.source.path, created, execution);
  const cardBytes = Buffer.from(`${JSON.stringify(card, null, 2)}\n`);
  files.push({
    name: MODEL_CARD_FILE,
    digest: sha256Hex(cardBytes),
    size: cardBytes.length,
    source: { bytes: cardBytes },
  });
  files.sort((a, b) => (a.name < b.name ? -1 : 1));

  const manifest = files.map(({ name, digest }) => ({ name, digest }));
  const bundle = signStatement(
    createStatement(manifest, { subjectName: model, ignorePaths: [SIGNATURE_FILE] }),
    options.signingKey,
  );

  // Objects left by an unfinished push of this version are not a version; they may be replaced.
  const leftovers = new Set<string>();
  for await (const object of store.list(layout.versionPrefix(model, version))) leftovers.add(object.key);

  const totalBytes = files.reduce((sum, file) => sum + file.size, 0);
  let sentBytes = 0;
  await mapLimit(files, options.concurrency ?? 2, async (file) => {
    const key = layout.fileKey(model, version, file.name);
    let fileSent = 0;
    const hash = createHash("sha256");
    const body =
      "bytes" in file.source
        ? file.source.bytes
        : createReadStream(file.source.path, { highWaterMark: 1024 * 1024 }).pipe(
            new Transform({
              transform(chunk: Buffer, _encoding, callback) {
                hash.update(chunk);
                callback(null, chunk);
              },
            }),
          );
    await store.put(key, body, {
      contentLength: file.size,
      ifNoneMatch: !leftovers.has(key),
      onProgress: (loaded) => {
        sentBytes += loaded - fileSent;
        fileSent = loaded;
        options.onProgress?.({ phase: "uploading", doneBytes: sentBytes, totalBytes, file: file.name });
      },
    });
    if ("path" in file.source && hash.digest("hex") !== file.digest) {
      throw new VerificationError(
        ErrorCode.DigestMismatch,
        `push: ${file.name} changed while it was being pushed; nothing was published`,
      );
    }
  });

  await store.put(layout.signatureKey(model, version), Buffer.from(serializeBundle(bundle)), { ifNoneMatch: true });
  return {
    model,
    version,
    files: files.length,
    bytes: totalBytes,
    created,
    signerHint: options.signingKey.hint,
    digest: subjectDigest(manifest),
    goldenCases: card.golden?.cases.length ?? 0,
    recordedSamples: options.samplePaths?.length ?? 0,
    location: `${store.location}/${layout.versionPrefix(model, version)}`,
  };
}
