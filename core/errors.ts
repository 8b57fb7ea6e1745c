/**
 * The typed errors of cutover. Every failure that crosses a module boundary is one of these
 * classes, each with a readonly `code` from {@link ErrorCode}, so callers (CLI exit lines, HTTP
 * responses, node `failed` reports) branch on the code, never on a message.
 */

export const ErrorCode = {
  /** A model or version name, a path or an option that breaks its rule. */
  InvalidInput: "INVALID_INPUT",
  /** A request body over the size the server accepts (HTTP 413). */
  BodyTooLarge: "BODY_TOO_LARGE",
  /** Configuration (flags, environment) that cannot be used. */
  InvalidConfig: "INVALID_CONFIG",
  /** A signature bundle that is not a well-formed OMS v1.0 bundle. */
  BundleInvalid: "BUNDLE_INVALID",
  /** A well-formed bundle of a kind cutover does not accept (mediaType, payloadType, predicateType). */
  BundleUnsupported: "BUNDLE_UNSUPPORTED",
  /** The DSSE signature does not verify with the trusted key. */
  SignatureInvalid: "SIGNATURE_INVALID",
  /** No trusted key matches the bundle's hint, or none verifies it. */
  UntrustedKey: "UNTRUSTED_KEY",
  /** A file's SHA-256 differs from the manifest. */
  DigestMismatch: "DIGEST_MISMATCH",
  /** The subject digest is not the hash of the listed resource digests. */
  SubjectMismatch: "SUBJECT_MISMATCH",
  /** A file listed in the manifest is not there. */
  MissingFile: "MISSING_FILE",
  /** A file is there that the manifest does not list. */
  UnexpectedFile: "UNEXPECTED_FILE",
  /** A resource name that escapes the model folder, or a symlink where none is allowed. */
  UnsafePath: "UNSAFE_PATH",
  /**
   * A correctly signed version whose signed cutover.json names another model or version than the one
   * asked for: a signed version copied under another name (a substitution).
   */
  IdentityMismatch: "IDENTITY_MISMATCH",
  /** A model card (cutover.json) or ONNX file that cannot be read. */
  ModelInvalid: "MODEL_INVALID",
  /** The object or version does not exist in the store. */
  NotFound: "NOT_FOUND",
  /** The version exists already; versions are immutable. */
  AlreadyExists: "ALREADY_EXISTS",
  /** The object store cannot be reached or keeps failing. */
  StoreUnreachable: "STORE_UNREACHABLE",
  /** Another rollout of the model holds the lock. */
  RolloutInProgress: "ROLLOUT_IN_PROGRESS",
  /** The model's revision is not the one the caller expected. */
  RevisionMismatch: "REVISION_MISMATCH",
  /** The rollout lock expired or was taken over while a rollout ran. */
  LockLost: "LOCK_LOST",
  /** State read back from Redis or SSM does not parse. */
  StateCorrupt: "STATE_CORRUPT",
  /** Redis (or SSM) cannot be reached. */
  StateUnreachable: "STATE_UNREACHABLE",
  /** The target's inputs or outputs do not fit the active version's. */
  IncompatibleSchema: "INCOMPATIBLE_SCHEMA",
  /** A node failed to stage the target, or not every node staged it in time: nothing changed. */
  RolloutAborted: "ROLLOUT_ABORTED",
  /**
   * Fewer live nodes serve the model than the rollout requires (one, unless allowNoNodes; or
   * minNodes): refused before anything changed.
   */
  NotEnoughNodes: "NOT_ENOUGH_NODES",
  /**
   * The pointer moved, but not every node that staged the target confirmed serving it. Never an
   * HTTP error (the answer is a 200 with `fullyConfirmed: false`); the CLI exits 3 with it.
   */
  PromoteUnconfirmed: "PROMOTE_UNCONFIRMED",
  /**
   * A progressive rollout that `activate` followed stopped at a step and holds (its analysis was
   * inconclusive): neither promoted nor rolled back; `promote` or `abort` decides. The CLI exits 4.
   */
  RolloutHolding: "ROLLOUT_HOLDING",
  /** The controller opens no more live-feed streams: as many as it allows are open, or it is shutting down (503). */
  StreamRefused: "STREAM_REFUSED",
  /** A missing or wrong bearer token. */
  Unauthorized: "UNAUTHORIZED",
  /** onnxruntime could not create a session from the model. */
  LoadFailed: "LOAD_FAILED",
  /** The warm-up run failed. */
  WarmupFailed: "WARMUP_FAILED",
  /** The model's answers to its golden vectors are outside their tolerance. */
  GoldenMismatch: "GOLDEN_MISMATCH",
  /**
   * Recent real requests that the active version answered with a 2xx, replayed on the staged
   * candidate, were rejected (4xx) or failed (5xx) by it.
   */
  ReplayFailed: "REPLAY_FAILED",
  /**
   * More of the recent real requests replayed on a staged candidate answered outside the candidate's
   * golden tolerance of the active version's outputs than the rollout allowed (maxReplayDivergence).
   */
  ReplayDiverged: "REPLAY_DIVERGED",
  /** Prometheus (CUTOVER_PROMETHEUS_URL) did not answer, or answered what is not its query API's JSON. */
  PrometheusUnreachable: "PROMETHEUS_UNREACHABLE",
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

const verificationCodes = new Set<ErrorCode>([
  ErrorCode.BundleInvalid,
  ErrorCode.BundleUnsupported,
  ErrorCode.SignatureInvalid,
  ErrorCode.UntrustedKey,
  ErrorCode.DigestMismatch,
  ErrorCode.SubjectMismatch,
  ErrorCode.MissingFile,
  ErrorCode.UnexpectedFile,
  ErrorCode.UnsafePath,
  ErrorCode.IdentityMismatch,
]);

/** The base class: a code, a one-line message, and the cause kept. */
export class CutoverError extends Error {
  override readonly name: string = "CutoverError";
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }

  /** True when the failure is about the artifact's integrity or provenance. */
  get isVerificationFailure(): boolean {
    return verificationCodes.has(this.code);
  }
}

/** Bad names, paths, flags, request bodies. */
export class InputError extends CutoverError {
  override readonly name = "InputError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.InvalidInput, message, options);
  }
}

/** Configuration that cannot be used; the message names the option. */
export class ConfigError extends CutoverError {
  override readonly name = "ConfigError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.InvalidConfig, message, options);
  }
}

export type VerificationCode =
  | typeof ErrorCode.BundleInvalid
  | typeof ErrorCode.BundleUnsupported
  | typeof ErrorCode.SignatureInvalid
  | typeof ErrorCode.UntrustedKey
  | typeof ErrorCode.DigestMismatch
  | typeof ErrorCode.SubjectMismatch
  | typeof ErrorCode.MissingFile
  | typeof ErrorCode.UnexpectedFile
  | typeof ErrorCode.UnsafePath
  | typeof ErrorCode.IdentityMismatch;

/** The artifact is not what its signature says, or the signature is not trusted. */
export class VerificationError extends CutoverError {
  override readonly name = "VerificationError";
  declare readonly code: VerificationCode;
  constructor(code: VerificationCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

export type StoreCode = typeof ErrorCode.NotFound | typeof ErrorCode.AlreadyExists | typeof ErrorCode.StoreUnreachable;

/** The object store said no, or could not be reached. */
export class StoreError extends CutoverError {
  override readonly name = "StoreError";
  declare readonly code: StoreCode;
  constructor(code: StoreCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }

  /** A passing failure worth retrying (the server may answer next time). */
  get retryable(): boolean {
    return this.code === ErrorCode.StoreUnreachable;
  }
}

export type StateCode =
  | typeof ErrorCode.RolloutInProgress
  | typeof ErrorCode.RevisionMismatch
  | typeof ErrorCode.LockLost
  | typeof ErrorCode.StateCorrupt
  | typeof ErrorCode.StateUnreachable;

/** A state transition was refused (conflict, stale revision, lost lock) or the state store failed. */
export class StateError extends CutoverError {
  override readonly name = "StateError";
  declare readonly code: StateCode;
  constructor(code: StateCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** What one node said (or did not say) during a rollout, as carried by a {@link RolloutError}. */
export interface NodeReason {
  readonly nodeId: string;
  readonly outcome: string;
  readonly code?: string;
  readonly reason?: string;
}

export type RolloutCode =
  | typeof ErrorCode.RolloutAborted
  | typeof ErrorCode.IncompatibleSchema
  | typeof ErrorCode.NotEnoughNodes
  | typeof ErrorCode.PromoteUnconfirmed
  | typeof ErrorCode.RolloutHolding;

/**
 * A rollout that could not go ahead, or (PROMOTE_UNCONFIRMED) went ahead without every node's
 * confirmation; `nodes` holds every node's reason when nodes were involved.
 */
export class RolloutError extends CutoverError {
  override readonly name = "RolloutError";
  declare readonly code: RolloutCode;
  readonly nodes: readonly NodeReason[];
  readonly rolloutId: string | undefined;
  constructor(
    code: RolloutCode,
    message: string,
    options: { nodes?: readonly NodeReason[]; rolloutId?: string; cause?: unknown } = {},
  ) {
    super(code, message, options);
    this.nodes = options.nodes ?? [];
    this.rolloutId = options.rolloutId;
  }
}

/** A change without a valid bearer token. */
export class AuthError extends CutoverError {
  override readonly name = "AuthError";
  constructor(message: string) {
    super(ErrorCode.Unauthorized, message);
  }
}

export type StagingCode =
  | typeof ErrorCode.LoadFailed
  | typeof ErrorCode.WarmupFailed
  | typeof ErrorCode.GoldenMismatch
  | typeof ErrorCode.ReplayFailed
  | typeof ErrorCode.ReplayDiverged
  | typeof ErrorCode.IncompatibleSchema;

/**
 * A verified version that cannot serve: it does not load, warm up, answer its golden vectors or the
 * node's recent requests, or fit.
 */
export class StagingError extends CutoverError {
  override readonly name = "StagingError";
  declare readonly code: StagingCode;
  constructor(code: StagingCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** A model file or model card that cannot be used. */
export class ModelError extends CutoverError {
  override readonly name = "ModelError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.ModelInvalid, message, options);
  }
}

/** The message of any thrown value, for one-line reports. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
