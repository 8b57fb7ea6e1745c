/**
 * The OMS v1.0 signature bundle: a Sigstore bundle v0.3 holding a DSSE envelope whose payload is an
 * in-toto Statement v1 with the model_signing v1.0 predicate. This module only parses and builds
 * the shapes; {@link ./verifier.ts} decides whether to trust them.
 */
import { z } from "zod";
import { ErrorCode, VerificationError } from "../errors.js";

export const BUNDLE_MEDIA_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json";
export const PAYLOAD_TYPE = "application/vnd.in-toto+json";
export const PREDICATE_TYPE = "https://model_signing/signature/v1.0";
export const STATEMENT_TYPE = "https://in-toto.io/Statement/v1";
const LEGACY_STATEMENT_TYPE = "https://in-toto.io/Statement/v0.1";

/** Standard base64 with padding, nothing else (Buffer.from would silently skip bad characters). */
const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

const base64 = z.string().regex(BASE64_RE, "not valid base64");

const bundleSchema = z.object({
  mediaType: z.string(),
  verificationMaterial: z.object({
    publicKey: z
      .object({
        hint: z.string().optional(),
        rawBytes: base64.optional(),
      })
      .optional(),
    tlogEntries: z.array(z.unknown()).optional(),
  }),
  dsseEnvelope: z.object({
    payload: base64,
    payloadType: z.string(),
    signatures: z.array(z.object({ sig: base64.min(1), keyid: z.string().nullish() })).min(1, "no signatures"),
  }),
});

const resourceSchema = z.object({
  name: z.string(),
  algorithm: z.string(),
  digest: z.string(),
});

const statementSchema = z.object({
  _type: z.string(),
  subject: z
    .array(z.object({ name: z.string(), digest: z.object({ sha256: z.string() }) }))
    .length(1, "exactly one subject expected"),
  predicateType: z.string(),
  predicate: z.object({
    serialization: z.object({
      method: z.string(),
      hash_type: z.string().optional(),
      allow_symlinks: z.boolean().optional(),
      ignore_paths: z.array(z.string()).optional(),
    }),
    resources: z.array(resourceSchema),
  }),
});

export type Bundle = z.infer<typeof bundleSchema>;
export type Statement = z.infer<typeof statementSchema>;
export type StatementResource = z.infer<typeof resourceSchema>;

function invalid(message: string, cause?: unknown): VerificationError {
  return new VerificationError(ErrorCode.BundleInvalid, message, { cause });
}

function unsupported(message: string): VerificationError {
  return new VerificationError(ErrorCode.BundleUnsupported, message);
}

function describeIssues(error: z.ZodError): string {
  return error.issues.map((issue) => `${issue.path.join(".") || "(root)"}: ${issue.message}`).join("; ");
}

/** Parses bundle bytes; the media type and payload type must be the ones OMS v1.0 uses. */
export function parseBundle(bytes: string | Uint8Array): Bundle {
  const text = typeof bytes === "string" ? bytes : Buffer.from(bytes).toString("utf8");
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw invalid(`signature bundle is not JSON: ${(error as Error).message}`, error);
  }
  const parsed = bundleSchema.safeParse(json);
  if (!parsed.success) throw invalid(`signature bundle is malformed: ${describeIssues(parsed.error)}`);
  const bundle = parsed.data;
  if (bundle.mediaType !== BUNDLE_MEDIA_TYPE) {
    throw unsupported(
      `unsupported bundle mediaType ${JSON.stringify(bundle.mediaType)} (expected ${BUNDLE_MEDIA_TYPE})`,
    );
  }
  if (bundle.dsseEnvelope.payloadType !== PAYLOAD_TYPE) {
    throw unsupported(
      `unsupported DSSE payloadType ${JSON.stringify(bundle.dsseEnvelope.payloadType)} (expected ${PAYLOAD_TYPE})`,
    );
  }
  return bundle;
}

/** Parses the (already signature-checked) payload as an in-toto Statement with the OMS predicate. */
export function parseStatement(payload: Buffer): Statement {
  let json: unknown;
  try {
    json = JSON.parse(payload.toString("utf8"));
  } catch (error) {
    throw invalid(`DSSE payload is not JSON: ${(error as Error).message}`, error);
  }
  const parsed = statementSchema.safeParse(json);
  if (!parsed.success) throw invalid(`in-toto statement is malformed: ${describeIssues(parsed.error)}`);
  const statement = parsed.data;
  if (statement._type !== STATEMENT_TYPE && statement._type !== LEGACY_STATEMENT_TYPE) {
    throw unsupported(`unsupported statement _type ${JSON.stringify(statement._type)}`);
  }
  if (statement.predicateType !== PREDICATE_TYPE) {
    throw unsupported(
      `unsupported predicateType ${JSON.stringify(statement.predicateType)} (expected ${PREDICATE_TYPE})`,
    );
  }
  const { method, hash_type: hashType } = statement.predicate.serialization;
  if (method !== "files")
    throw unsupported(`unsupported serialization method ${JSON.stringify(method)} (expected "files")`);
  if (hashType !== undefined && hashType !== "sha256") {
    throw unsupported(`unsupported serialization hash_type ${JSON.stringify(hashType)} (expected "sha256")`);
  }
  return statement;
}

/** DSSE v1 pre-authentication encoding: what the signature actually covers. */
export function preAuthEncoding(payloadType: string, payload: Buffer): Buffer {
  const header = `DSSEv1 ${Buffer.byteLength(payloadType)} ${payloadType} ${payload.length} `;
  return Buffer.concat([Buffer.from(header, "utf8"), payload]);
}

/** Serializes a bundle the way cutover writes `model.sig`. */
export function buildBundle(options: { payload: Buffer; signature: Buffer; hint: string }): Bundle {
  return {
    mediaType: BUNDLE_MEDIA_TYPE,
    verificationMaterial: { publicKey: { hint: options.hint }, tlogEntries: [] },
    dsseEnvelope: {
      payload: options.payload.toString("base64"),
      payloadType: PAYLOAD_TYPE,
      signatures: [{ sig: options.signature.toString("base64"), keyid: "" }],
    },
  };
}
