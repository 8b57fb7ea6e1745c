/**
 * Verification of OMS v1.0 bundles against trusted keys, and of a model folder against a bundle.
 * The hash is the one the *trusted* key's curve implies, never a field of the bundle; the public
 * key a bundle carries (hint or legacy rawBytes) only chooses among the trusted keys.
 */
import { createPublicKey, verify } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import { basename, dirname, join, relative, resolve, sep } from "node:path";
import { SHA256_HEX_RE, sha256File } from "../digest.js";
import { ErrorCode, errorMessage, VerificationError } from "../errors.js";
import { assertResourcePath } from "../names.js";
import { type Bundle, parseBundle, parseStatement, preAuthEncoding, type Statement } from "./bundle.js";
import { keyHint, type TrustedKey } from "./keys.js";
import {
  compareDigests,
  compareNames,
  createIgnoreMatcher,
  hashModelFiles,
  listModelFiles,
  type ManifestEntry,
} from "./manifest.js";
import { SIGNATURE_FILE, subjectDigest } from "./signer.js";

/** What a verified bundle vouches for. */
export interface VerifiedManifest {
  readonly resources: readonly ManifestEntry[];
  readonly ignorePaths: readonly string[];
  readonly subjectName: string;
  readonly signer: TrustedKey;
}

/** The resource name legacy single-file bundles use for "the model file itself". */
const SINGLE_FILE_NAME = ".";

function signerHintOf(bundle: Bundle): string | undefined {
  const publicKey = bundle.verificationMaterial.publicKey;
  if (publicKey?.hint) return publicKey.hint.toLowerCase();
  if (publicKey?.rawBytes) {
    try {
      return keyHint(createPublicKey(Buffer.from(publicKey.rawBytes, "base64")));
    } catch (error) {
      throw new VerificationError(
        ErrorCode.BundleInvalid,
        `publicKey.rawBytes is not a public key: ${errorMessage(error)}`,
        {
          cause: error,
        },
      );
    }
  }
  return undefined;
}

function checkSignature(bundle: Bundle, payload: Buffer, trustedKeys: readonly TrustedKey[]): TrustedKey {
  const hint = signerHintOf(bundle);
  const candidates = hint === undefined ? trustedKeys : trustedKeys.filter((key) => key.hint === hint);
  if (candidates.length === 0) {
    throw new VerificationError(
      ErrorCode.UntrustedKey,
      `signed by key ${hint}, which is not among the ${trustedKeys.length} trusted key(s)`,
    );
  }
  const pae = preAuthEncoding(bundle.dsseEnvelope.payloadType, payload);
  for (const { sig } of bundle.dsseEnvelope.signatures) {
    const signature = Buffer.from(sig, "base64");
    for (const candidate of candidates) {
      if (verify(candidate.hash, pae, { key: candidate.key, dsaEncoding: "der" }, signature)) return candidate;
    }
  }
  if (hint === undefined) {
    throw new VerificationError(
      ErrorCode.UntrustedKey,
      `no trusted key (of ${trustedKeys.length}) verifies the signature`,
    );
  }
  throw new VerificationError(
    ErrorCode.SignatureInvalid,
    `signature does not verify with trusted key ${hint} (${candidates[0]?.source}) using ${candidates[0]?.hash}`,
  );
}

function checkResources(statement: Statement): ManifestEntry[] {
  const resources = statement.predicate.resources;
  const seen = new Set<string>();
  const entries = resources.map(({ name, algorithm, digest }) => {
    if (algorithm.toLowerCase() !== "sha256") {
      throw new VerificationError(ErrorCode.BundleUnsupported, `resource ${name}: unsupported algorithm ${algorithm}`);
    }
    if (!SHA256_HEX_RE.test(digest)) {
      throw new VerificationError(ErrorCode.BundleInvalid, `resource ${name}: digest is not 64 lowercase hex digits`);
    }
    if (!(name === SINGLE_FILE_NAME && resources.length === 1)) assertResourcePath(name);
    if (seen.has(name)) throw new VerificationError(ErrorCode.BundleInvalid, `resource ${name} is listed twice`);
    seen.add(name);
    return { name, digest };
  });
  const subject = statement.subject[0]?.digest.sha256.toLowerCase();
  const expected = subjectDigest(entries);
  if (subject !== expected) {
    throw new VerificationError(
      ErrorCode.SubjectMismatch,
      `subject digest ${subject} is not the digest of the listed resources (${expected})`,
    );
  }
  return entries;
}

/**
 * Verifies a bundle's signature with the trusted keys and returns the manifest it vouches for.
 * Checks nothing on disk; see {@link verifyFolder}.
 */
export function verifyBundle(bytes: string | Uint8Array, trustedKeys: readonly TrustedKey[]): VerifiedManifest {
  const bundle = parseBundle(bytes);
  const payload = Buffer.from(bundle.dsseEnvelope.payload, "base64");
  const signer = checkSignature(bundle, payload, trustedKeys);
  const statement = parseStatement(payload);
  return {
    resources: checkResources(statement),
    ignorePaths: statement.predicate.serialization.ignore_paths ?? [],
    subjectName: statement.subject[0]?.name ?? "",
    signer,
  };
}

export interface VerifyFolderOptions {
  /** The bundle file; default `model.sig` inside the folder (beside the file for a one-file model). */
  readonly signaturePath?: string;
  /** More paths to skip, on top of the bundle's recorded `ignore_paths` and the signature file. */
  readonly ignorePaths?: readonly string[];
}

async function readBundleFile(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (error) {
    throw new VerificationError(ErrorCode.MissingFile, `signature ${path}: ${errorMessage(error)}`, { cause: error });
  }
}

async function verifySingleFile(path: string, manifest: VerifiedManifest): Promise<void> {
  const [entry, ...rest] = manifest.resources;
  if (entry === undefined || rest.length > 0 || (entry.name !== SINGLE_FILE_NAME && entry.name !== basename(path))) {
    throw new VerificationError(
      ErrorCode.UnexpectedFile,
      `${path} is one file but the signature lists ${manifest.resources.map((r) => r.name).join(", ") || "nothing"}`,
    );
  }
  compareDigests([entry], [{ name: entry.name, digest: await sha256File(path) }]);
}

/**
 * Verifies a local model (a folder, or a single file for legacy one-file bundles): the signature,
 * then a full match — every file present is listed with the same SHA-256 and none is missing.
 */
export async function verifyFolder(
  path: string,
  trustedKeys: readonly TrustedKey[],
  options: VerifyFolderOptions = {},
): Promise<VerifiedManifest> {
  const info = await stat(path).catch((error: unknown) => {
    throw new VerificationError(ErrorCode.MissingFile, `${path}: ${errorMessage(error)}`, { cause: error });
  });
  const root = info.isDirectory() ? path : dirname(path);
  const signaturePath = options.signaturePath ?? join(root, SIGNATURE_FILE);
  const manifest = verifyBundle(await readBundleFile(signaturePath), trustedKeys);
  if (!info.isDirectory()) {
    await verifySingleFile(path, manifest);
    return manifest;
  }
  const ignore = [...manifest.ignorePaths, ...(options.ignorePaths ?? [])];
  const signatureRelative = relative(resolve(root), resolve(signaturePath));
  if (!signatureRelative.startsWith("..") && !signatureRelative.startsWith(sep)) {
    ignore.push(signatureRelative.split(sep).join("/"));
  }
  const present = await listModelFiles(root, createIgnoreMatcher(ignore));
  compareNames(manifest.resources, present);
  compareDigests(manifest.resources, await hashModelFiles(root, present));
  return manifest;
}
