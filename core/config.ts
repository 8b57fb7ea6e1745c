/**
 * Configuration from the environment, parsed once at the edge (CLI, server entry) with a schema and
 * passed in; nothing deeper reads `process.env`. Each variable is described here, and the README's
 * configuration table is checked against this list.
 */
import { z } from "zod";
import { DEFAULT_RANGED, type RangedSettings } from "./download/index.js";
import { ConfigError, errorMessage } from "./errors.js";
import { EXECUTION_LIMITS, instancesSchema } from "./execution-settings.js";
import type { HttpServerLimits } from "./http-listen.js";
import { parseRedisUrl } from "./redis/redis-url.js";

const MIB = 1024 * 1024;

export interface ConfigVariable {
  readonly name: string;
  readonly description: string;
  readonly default?: string;
}

/** The variables this version of cutover reads. */
export const CONFIG_VARIABLES: readonly ConfigVariable[] = [
  { name: "CUTOVER_S3_BUCKET", description: "S3 bucket holding the artifacts; when unset, the folder store is used" },
  { name: "CUTOVER_S3_ENDPOINT", description: "S3-compatible endpoint URL (MinIO, s3rver); AWS when unset" },
  { name: "CUTOVER_S3_PREFIX", description: "key prefix for all artifacts inside the bucket or folder", default: "" },
  {
    name: "CUTOVER_S3_FORCE_PATH_STYLE",
    description: "path-style S3 URLs (MinIO and most S3-compatible servers)",
    default: "false",
  },
  { name: "CUTOVER_S3_REGION", description: "S3 region (falls back to AWS_REGION)", default: "us-east-1" },
  {
    name: "CUTOVER_STORE_DIR",
    description: "folder used as the object store when no bucket is set",
    default: ".cutover/store",
  },
  { name: "CUTOVER_TRUSTED_KEYS", description: "comma-separated PEM public key files or folders of them" },
  {
    name: "CUTOVER_CACHE_DIR",
    description: "local content-addressed cache for fetched versions",
    default: ".cutover/cache",
  },
  {
    name: "CUTOVER_REDIS_URL",
    description:
      "Redis for state, locks, heartbeats and the bus: redis[s]://[user:pass@]host:port, redis[s]+sentinel://[user:pass@]host:port,host:port/<master-name>, or redis[s]+cluster://[user:pass@]host:port,host:port",
    default: "redis://127.0.0.1:6379",
  },
  { name: "CUTOVER_REDIS_PREFIX", description: "prefix of every Redis key and channel", default: "cutover:" },
  {
    name: "CUTOVER_STATE_TIMEOUT_MS",
    description:
      "longest wait for one Redis command or one SSM call (retries included); past it the call fails with STATE_UNREACHABLE",
    default: "2000",
  },
  {
    name: "CUTOVER_STATE",
    description:
      "where the active pointer lives: redis, or ssm (Redis still carries the lock, bus, heartbeats, history)",
    default: "redis",
  },
  {
    name: "CUTOVER_SSM_PATH",
    description: "SSM parameter path of the pointers, one per model",
    default: "/cutover/models",
  },
  { name: "CUTOVER_SSM_ENDPOINT", description: "custom SSM endpoint (LocalStack); AWS when unset" },
  { name: "CUTOVER_TOKENS", description: "controller bearer tokens for changes, as name:token,name:token" },
  {
    name: "CUTOVER_PORT",
    description: "HTTP port of `cutover controller` (8700) or `cutover node` (8080)",
    default: "8700 / 8080",
  },
  { name: "CUTOVER_NODE_ID", description: "this node's id in heartbeats and reports", default: "the host name" },
  {
    name: "CUTOVER_NODE_URL",
    description: "the URL other machines reach this node at",
    default: "http://<host name>:<port>",
  },
  { name: "CUTOVER_MODELS", description: "comma-separated models this node serves; every model when unset" },
  {
    name: "CUTOVER_EXECUTION_PROVIDERS",
    description:
      "onnxruntime execution providers in order of preference, e.g. cuda,cpu: each version loads on the first that works",
    default: "cpu",
  },
  {
    name: "CUTOVER_INTRA_OP_THREADS",
    description: "onnxruntime intra-op threads per session; onnxruntime's choice when unset",
  },
  {
    name: "CUTOVER_INSTANCES",
    description:
      "worker threads per model version, each with its own session (0: run on the main thread); auto: the cores over the intra-op threads, and the main thread for a model whose median warm-up run is under 1 ms; a version pushed with --instances runs with its own",
    default: "auto",
  },
  {
    name: "CUTOVER_WORKER_NICE",
    description:
      "added to each session worker thread's nice value (Linux), so that the main thread (HTTP, health, the swap) gets the CPU first when runs keep every core busy; 0: off",
    default: "10",
  },
  {
    name: "CUTOVER_MAX_BATCH",
    description:
      "largest dynamic batch (rows) of queued requests for a model whose first dimension is symbolic everywhere; 0 or 1: off; a version pushed with --max-batch runs with its own",
    default: "8",
  },
  {
    name: "CUTOVER_BATCH_DELAY_US",
    description:
      "how long a queued batch that is not full waits for more requests (µs); a request that finds an idle worker never waits; a version pushed with --batch-delay-us runs with its own",
    default: "0",
  },
  {
    name: "CUTOVER_WARMUP_SYMBOLIC_DIM",
    description:
      "length of symbolic dimensions (after the first) in synthetic warm-up inputs, for versions without golden vectors",
    default: "32",
  },
  { name: "CUTOVER_KEEP_WARM", description: "previous versions kept loaded for an instant rollback", default: "1" },
  {
    name: "CUTOVER_REPLAY_REQUESTS",
    description:
      "recent real requests kept per model (in memory only) and replayed on a staged candidate before traffic moves; 0: off",
    default: "32",
  },
  {
    name: "CUTOVER_REPLAY_MAX_BYTES",
    description: "bytes of request bodies kept for replay per model (a larger request is not kept)",
    default: "4194304",
  },
  {
    name: "CUTOVER_CACHE_SPARE",
    description: "versions per model kept in a node's disk cache beyond those loaded (most recent first)",
    default: "2",
  },
  {
    name: "CUTOVER_FETCH_PART_MB",
    description:
      "size of one ranged GET (MiB) when a node reads a large file as parallel parts; each part resumes from its last byte after a cut",
    default: "64",
  },
  {
    name: "CUTOVER_FETCH_PARTS",
    description:
      "parts of one large file a node downloads at once (connections per file); hashing follows in byte order, so memory stays a few MiB whatever this is",
    default: "4",
  },
  {
    name: "CUTOVER_FETCH_RANGED_MB",
    description:
      "files of at least this many MiB (and more than one part) are downloaded as parallel ranged GETs; smaller ones as one GET",
    default: "2 parts",
  },
  {
    name: "CUTOVER_FETCH_FANIN",
    description:
      "nodes of the fleet that download one version at once (a lease per node in the state store, freed after the heartbeat TTL if the node dies); the others wait, staging state waiting; nodes with every file cached take none; 0: no limit",
    default: "8",
  },
  { name: "CUTOVER_RESYNC_MS", description: "how often a node re-reads state (jittered ±20 %)", default: "5000" },
  {
    name: "CUTOVER_HEARTBEAT_TTL_MS",
    description: "a node counts as live this long after its last heartbeat",
    default: "15000",
  },
  {
    name: "CUTOVER_MAX_REQUEST_BYTES",
    description: "largest inference request body a node accepts",
    default: "16777216",
  },
  {
    name: "CUTOVER_NODE_REQUEST_TIMEOUT_MS",
    description: "time a client has to send a whole inference request, headers and body, before the node answers 408",
    default: "30000",
  },
  {
    name: "CUTOVER_NODE_HEADERS_TIMEOUT_MS",
    description:
      "time a connection has to send a request's headers before the node answers 408 and closes it; at most the request timeout",
    default: "10000",
  },
  {
    name: "CUTOVER_NODE_KEEP_ALIVE_TIMEOUT_MS",
    description:
      "how long a node keeps an idle keep-alive connection open between requests; above the 60 s idle timeout of AWS ALB and nginx, so a proxy in front closes idle connections first",
    default: "65000",
  },
  {
    name: "CUTOVER_NODE_MAX_CONNECTIONS",
    description: "open connections a node accepts; a connection beyond them is closed at once",
    default: "1024",
  },
  {
    name: "CUTOVER_ROLLOUT_LOCK_TTL_MS",
    description: "rollout lock TTL, renewed while a rollout runs: how soon a dead controller's lock frees",
    default: "30000",
  },
  {
    name: "CUTOVER_RECONCILE_MS",
    description:
      "how often the controller server ticks progressive rollouts (bake over → analysis → next step or rollback) and ends rollouts whose controller died",
    default: "2000",
  },
  {
    name: "CUTOVER_NOTIFY_URL",
    description:
      "http(s) URL the controller POSTs every history entry to (event history), for chat and paging tools; none when unset",
  },
  {
    name: "CUTOVER_HOOK_SECRET",
    description:
      "HMAC-SHA256 key (at least 16 bytes) signing every webhook delivery, x-cutover-signature; deliveries go unsigned when unset",
  },
  {
    name: "CUTOVER_PROMETHEUS_URL",
    description:
      "Prometheus the controller asks for a rollout's own analysis checks (activate --check); a rollout with checks is refused when unset",
  },
  {
    name: "CUTOVER_PROMETHEUS_TIMEOUT_MS",
    description:
      "how long the controller waits for one Prometheus query; a slower answer holds the step (inconclusive), never passes it",
    default: "5000",
  },
  { name: "CUTOVER_URL", description: "the controller the CLI talks to", default: "http://127.0.0.1:8700" },
  { name: "CUTOVER_TOKEN", description: "the CLI's bearer token for changes" },
  {
    name: "CUTOVER_CLIENT_TIMEOUT_MS",
    description:
      "how long the CLI waits for the controller's answer: a read this long, activate and rollback their rollout timeout plus this long (the promote and confirm phase)",
    default: "60000",
  },
];

/** What a node keeps for replay per model by default (CUTOVER_REPLAY_REQUESTS, CUTOVER_REPLAY_MAX_BYTES). */
export const DEFAULT_REPLAY = { maxRequests: 32, maxBytes: 4 * 1024 * 1024 } as const;

function positiveInt(min: number, max: number) {
  return z.preprocess(
    (value) => (value === "" || value === undefined ? undefined : Number(value)),
    z.number().int().min(min).max(max).optional(),
  );
}

const optionalText = z.preprocess((value) => (value === "" ? undefined : value), z.string().optional());

const booleanText = z.preprocess(
  (value) => (value === "" || value === undefined ? undefined : String(value).toLowerCase()),
  z.enum(["true", "false", "1", "0", "yes", "no"]).optional(),
);

const envSchema = z.object({
  CUTOVER_S3_BUCKET: optionalText,
  CUTOVER_S3_ENDPOINT: z.preprocess((value) => (value === "" ? undefined : value), z.url().optional()),
  CUTOVER_S3_PREFIX: optionalText,
  CUTOVER_S3_FORCE_PATH_STYLE: booleanText,
  CUTOVER_S3_REGION: optionalText,
  AWS_REGION: optionalText,
  CUTOVER_STORE_DIR: optionalText,
  CUTOVER_TRUSTED_KEYS: optionalText,
  CUTOVER_CACHE_DIR: optionalText,
  CUTOVER_REDIS_URL: z.preprocess(
    (value) => (value === "" ? undefined : value),
    z
      .string()
      .superRefine((url, context) => {
        try {
          parseRedisUrl(url);
        } catch (error) {
          context.addIssue({ code: "custom", message: errorMessage(error) });
        }
      })
      .optional(),
  ),
  CUTOVER_REDIS_PREFIX: optionalText,
  CUTOVER_STATE_TIMEOUT_MS: positiveInt(100, 120_000),
  CUTOVER_STATE: z.preprocess((value) => (value === "" ? undefined : value), z.enum(["redis", "ssm"]).optional()),
  CUTOVER_SSM_PATH: optionalText,
  CUTOVER_SSM_ENDPOINT: z.preprocess((value) => (value === "" ? undefined : value), z.url().optional()),
  CUTOVER_TOKENS: optionalText,
  CUTOVER_PORT: z.preprocess(
    (value) => (value === "" || value === undefined ? undefined : Number(value)),
    z.number().int().min(1).max(65535).optional(),
  ),
  CUTOVER_NODE_ID: z.preprocess(
    (value) => (value === "" ? undefined : value),
    z
      .string()
      .regex(/^[A-Za-z0-9._:-]{1,128}$/)
      .optional(),
  ),
  CUTOVER_NODE_URL: z.preprocess(
    (value) => (value === "" ? undefined : value),
    z.url({ protocol: /^https?$/ }).optional(),
  ),
  CUTOVER_MODELS: optionalText,
  CUTOVER_EXECUTION_PROVIDERS: optionalText,
  CUTOVER_INTRA_OP_THREADS: positiveInt(1, 1024),
  CUTOVER_KEEP_WARM: positiveInt(0, 16),
  CUTOVER_REPLAY_REQUESTS: positiveInt(0, 1024),
  CUTOVER_REPLAY_MAX_BYTES: positiveInt(0, 2 ** 31),
  CUTOVER_INSTANCES: z.preprocess(
    (value) => (value === "" || value === undefined ? undefined : value === "auto" ? value : Number(value)),
    instancesSchema.optional(),
  ),
  CUTOVER_WORKER_NICE: positiveInt(0, 19),
  // The same bounds as a model card's `execution` (core/execution-settings.ts).
  CUTOVER_MAX_BATCH: positiveInt(0, EXECUTION_LIMITS.maxBatch),
  CUTOVER_BATCH_DELAY_US: positiveInt(0, EXECUTION_LIMITS.batchDelayUs),
  CUTOVER_WARMUP_SYMBOLIC_DIM: positiveInt(1, 1_000_000),
  CUTOVER_CACHE_SPARE: positiveInt(0, 1000),
  CUTOVER_FETCH_PART_MB: positiveInt(1, 4096),
  CUTOVER_FETCH_PARTS: positiveInt(1, 64),
  CUTOVER_FETCH_RANGED_MB: positiveInt(0, 16 * 1024 * 1024),
  CUTOVER_FETCH_FANIN: positiveInt(0, 100_000),
  CUTOVER_RESYNC_MS: positiveInt(100, 3_600_000),
  CUTOVER_HEARTBEAT_TTL_MS: positiveInt(500, 3_600_000),
  CUTOVER_MAX_REQUEST_BYTES: positiveInt(1024, 2 ** 31),
  CUTOVER_NODE_REQUEST_TIMEOUT_MS: positiveInt(1_000, 3_600_000),
  CUTOVER_NODE_HEADERS_TIMEOUT_MS: positiveInt(1_000, 3_600_000),
  CUTOVER_NODE_KEEP_ALIVE_TIMEOUT_MS: positiveInt(100, 600_000),
  CUTOVER_NODE_MAX_CONNECTIONS: positiveInt(1, 1_000_000),
  CUTOVER_ROLLOUT_LOCK_TTL_MS: z.preprocess(
    (value) => (value === "" || value === undefined ? undefined : Number(value)),
    z.number().int().min(1_000).max(600_000).optional(),
  ),
  CUTOVER_RECONCILE_MS: positiveInt(100, 3_600_000),
  CUTOVER_NOTIFY_URL: z.preprocess(
    (value) => (value === "" ? undefined : value),
    z.url({ protocol: /^https?$/ }).optional(),
  ),
  CUTOVER_PROMETHEUS_URL: z.preprocess(
    (value) => (value === "" ? undefined : value),
    z.url({ protocol: /^https?$/ }).optional(),
  ),
  CUTOVER_PROMETHEUS_TIMEOUT_MS: positiveInt(100, 120_000),
  // Its length is checked where the key is made (controller/hooks/webhook-signature.ts), by bytes.
  CUTOVER_HOOK_SECRET: optionalText,
  CUTOVER_URL: z.preprocess((value) => (value === "" ? undefined : value), z.url({ protocol: /^https?$/ }).optional()),
  CUTOVER_TOKEN: optionalText,
  CUTOVER_CLIENT_TIMEOUT_MS: positiveInt(100, 3_600_000),
});

type ParsedEnv = z.infer<typeof envSchema>;

/** The CUTOVER_* variables the schema parses (kept equal to CONFIG_VARIABLES by a test). */
export const PARSED_VARIABLES: readonly string[] = Object.keys(envSchema.shape).filter((name) =>
  name.startsWith("CUTOVER_"),
);

export type StoreConfig =
  | {
      readonly kind: "s3";
      readonly bucket: string;
      readonly endpoint?: string;
      readonly region: string;
      readonly forcePathStyle: boolean;
    }
  | { readonly kind: "folder"; readonly dir: string };

export interface ArtifactConfig {
  readonly store: StoreConfig;
  readonly prefix: string;
  readonly trustedKeyPaths: readonly string[];
  readonly cacheDir: string;
  /** CUTOVER_FETCH_PART_MB, _PARTS and _RANGED_MB in bytes; unset: {@link DEFAULT_RANGED}. */
  readonly ranged?: RangedSettings;
}

function parseEnv(env: Readonly<Record<string, string | undefined>>): ParsedEnv {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ConfigError(`${issue?.path.join(".")}: ${issue?.message}`);
  }
  return parsed.data;
}

/** Parses the artifact-related variables; errors name the variable. */
export function parseArtifactConfig(env: Readonly<Record<string, string | undefined>>): ArtifactConfig {
  const e = parseEnv(env);
  const store: StoreConfig = e.CUTOVER_S3_BUCKET
    ? {
        kind: "s3",
        bucket: e.CUTOVER_S3_BUCKET,
        ...(e.CUTOVER_S3_ENDPOINT ? { endpoint: e.CUTOVER_S3_ENDPOINT } : {}),
        region: e.CUTOVER_S3_REGION ?? e.AWS_REGION ?? "us-east-1",
        forcePathStyle: ["true", "1", "yes"].includes(e.CUTOVER_S3_FORCE_PATH_STYLE ?? "false"),
      }
    : { kind: "folder", dir: e.CUTOVER_STORE_DIR ?? ".cutover/store" };
  return {
    store,
    prefix: e.CUTOVER_S3_PREFIX ?? "",
    trustedKeyPaths: (e.CUTOVER_TRUSTED_KEYS ?? "")
      .split(",")
      .map((path) => path.trim())
      .filter(Boolean),
    cacheDir: e.CUTOVER_CACHE_DIR ?? ".cutover/cache",
    ranged: parseRanged(e),
  };
}

/** The ranged-download settings; the threshold defaults to two parts. */
function parseRanged(e: ParsedEnv): RangedSettings {
  const partMiB = e.CUTOVER_FETCH_PART_MB ?? DEFAULT_RANGED.partBytes / MIB;
  return {
    partBytes: partMiB * MIB,
    partsInFlight: e.CUTOVER_FETCH_PARTS ?? DEFAULT_RANGED.partsInFlight,
    rangedFromBytes: (e.CUTOVER_FETCH_RANGED_MB ?? 2 * partMiB) * MIB,
  };
}

/** How long one Redis command or SSM call may take before it fails with STATE_UNREACHABLE. */
export const DEFAULT_STATE_TIMEOUT_MS = 2_000;

export interface StateConfig {
  readonly redisUrl: string;
  readonly redisPrefix: string;
  /** CUTOVER_STATE_TIMEOUT_MS; DEFAULT_STATE_TIMEOUT_MS when absent (embedded configurations). */
  readonly stateTimeoutMs?: number;
}

export type PointerConfig =
  | { readonly kind: "redis" }
  | { readonly kind: "ssm"; readonly path: string; readonly endpoint?: string; readonly region: string };

export interface ControllerConfig extends ArtifactConfig, StateConfig {
  readonly pointers: PointerConfig;
  /** Raw `name:token,…`; parsed and checked by the controller. */
  readonly tokens: string;
  readonly port: number;
  readonly lockTtlMs: number;
  /** How often the server ticks rollouts (progressive steps, dead controllers' rollouts). */
  readonly reconcileMs: number;
  /** CUTOVER_NOTIFY_URL: where every history entry is POSTed; none when absent. */
  readonly notifyUrl?: string;
  /** CUTOVER_HOOK_SECRET, raw: checked (16 bytes at least) and turned into a key by the controller. */
  readonly hookSecret?: string;
  /** CUTOVER_PROMETHEUS_URL and its query timeout: where a rollout's own checks are asked; none when absent. */
  readonly prometheus?: { readonly url: string; readonly timeoutMs: number };
}

export interface ClientConfig {
  readonly url: string;
  readonly token?: string;
  /** CUTOVER_CLIENT_TIMEOUT_MS: a read's deadline, and what a rollout's deadline adds to its timeout. */
  readonly timeoutMs: number;
}

export const DEFAULT_CLIENT_TIMEOUT_MS = 60_000;

export function parseStateConfig(env: Readonly<Record<string, string | undefined>>): StateConfig {
  const e = parseEnv(env);
  return {
    redisUrl: e.CUTOVER_REDIS_URL ?? "redis://127.0.0.1:6379",
    redisPrefix: e.CUTOVER_REDIS_PREFIX ?? "cutover:",
    stateTimeoutMs: e.CUTOVER_STATE_TIMEOUT_MS ?? DEFAULT_STATE_TIMEOUT_MS,
  };
}

export function parseControllerConfig(env: Readonly<Record<string, string | undefined>>): ControllerConfig {
  const e = parseEnv(env);
  return {
    ...parseArtifactConfig(env),
    ...parseStateConfig(env),
    pointers:
      e.CUTOVER_STATE === "ssm"
        ? {
            kind: "ssm",
            path: e.CUTOVER_SSM_PATH ?? "/cutover/models",
            region: e.AWS_REGION ?? "us-east-1",
            ...(e.CUTOVER_SSM_ENDPOINT ? { endpoint: e.CUTOVER_SSM_ENDPOINT } : {}),
          }
        : { kind: "redis" },
    tokens: e.CUTOVER_TOKENS ?? "",
    port: e.CUTOVER_PORT ?? 8700,
    lockTtlMs: e.CUTOVER_ROLLOUT_LOCK_TTL_MS ?? 30_000,
    reconcileMs: e.CUTOVER_RECONCILE_MS ?? 2_000,
    ...parseIntegrationConfig(env),
  };
}

/**
 * What a controller talks to beside its state and store — webhooks and Prometheus — from the
 * environment: the server's and the Lambda's, and `cutover dev`'s (whose state and store are its own).
 */
export function parseIntegrationConfig(
  env: Readonly<Record<string, string | undefined>>,
): Pick<ControllerConfig, "notifyUrl" | "hookSecret" | "prometheus"> {
  const e = parseEnv(env);
  return {
    ...(e.CUTOVER_NOTIFY_URL ? { notifyUrl: e.CUTOVER_NOTIFY_URL } : {}),
    ...(e.CUTOVER_HOOK_SECRET ? { hookSecret: e.CUTOVER_HOOK_SECRET } : {}),
    ...(e.CUTOVER_PROMETHEUS_URL
      ? { prometheus: { url: e.CUTOVER_PROMETHEUS_URL, timeoutMs: e.CUTOVER_PROMETHEUS_TIMEOUT_MS ?? 5_000 } }
      : {}),
  };
}

/** What the CLI needs to talk to a controller. */
export function parseClientConfig(env: Readonly<Record<string, string | undefined>>): ClientConfig {
  const e = parseEnv(env);
  return {
    url: e.CUTOVER_URL ?? "http://127.0.0.1:8700",
    ...(e.CUTOVER_TOKEN ? { token: e.CUTOVER_TOKEN } : {}),
    timeoutMs: e.CUTOVER_CLIENT_TIMEOUT_MS ?? DEFAULT_CLIENT_TIMEOUT_MS,
  };
}

export interface NodeConfig extends ArtifactConfig, StateConfig {
  readonly nodeId: string;
  readonly url: string;
  readonly port: number;
  /** Empty: every model. */
  readonly models: readonly string[];
  readonly executionProviders: readonly string[];
  readonly intraOpThreads?: number;
  /** Worker instances per version (0: main thread); unset: "auto". */
  readonly instances?: number | "auto";
  /** Added to worker threads' nice value (0: off); unset: 10. */
  readonly workerNice?: number;
  /** Largest dynamic batch in rows (0 or 1: off); unset: 8. */
  readonly maxBatch?: number;
  /** Batch delay in µs; unset: 0. */
  readonly batchDelayUs?: number;
  readonly keepWarm: number;
  /** Recent requests kept per model for replay on a staged candidate (0: off), and their bytes at most. */
  readonly replay: { readonly maxRequests: number; readonly maxBytes: number };
  /** Length of symbolic dimensions (after the first) in the first synthetic warm-up guess. */
  readonly warmupSymbolicDim?: number;
  /** Versions per model kept on disk beyond the loaded ones; older ones are pruned after each swap. */
  readonly cacheSpare: number;
  /** CUTOVER_FETCH_FANIN: nodes downloading one version at once, fleet-wide (0: no limit); unset: {@link DEFAULT_FETCH_FANIN}. */
  readonly fetchFanIn?: number;
  readonly resyncMs: number;
  readonly heartbeatTtlMs: number;
  readonly maxRequestBytes: number;
  /** Timeouts and the connection cap of the node's HTTP server; unset: {@link DEFAULT_NODE_HTTP_LIMITS}. */
  readonly http?: HttpServerLimits;
}

/**
 * The node's HTTP server limits by default. Request 30 s: the largest body a node takes by default
 * (16 MiB) arrives in under 20 s at 1 MB/s, so a client still sending after 30 s is stalled (the timer
 * stops once the request is read: a slow model is not cut off). Headers 10 s: headers are a few hundred
 * bytes, sent in one packet by any client; 10 s leaves room for a congested link. Keep-alive 5 s:
 * Node's own default (behind a proxy that pools connections, set it above the proxy's idle timeout).
 * 1024 connections: inference is bound by cores or the GPU, so a node serves tens of requests at once;
 * 1024 leaves room for many clients' keep-alive pools while a flood cannot take every file descriptor.
 */
export const DEFAULT_NODE_HTTP_LIMITS: HttpServerLimits = {
  requestTimeoutMs: 30_000,
  headersTimeoutMs: 10_000,
  // Above common proxies' idle timeouts (AWS ALB, nginx upstream keep-alive: 60 s): a proxy that reuses
  // a connection the node is closing gets a reset, and its caller a 502 (docs/OPERATIONS.md).
  keepAliveTimeoutMs: 65_000,
  maxConnections: 1024,
};

/**
 * Nodes downloading one version at once by default: enough that a fleet of tens stages in a few rounds,
 * few enough that 100 nodes pulling a 10 GB file do not all read the store (or one MinIO's links) at once.
 */
export const DEFAULT_FETCH_FANIN = 8;

const EXECUTION_PROVIDERS = new Set(["cpu", "cuda", "tensorrt", "dml", "coreml", "webgpu"]);

/** The node's variables; `hostname` names it when CUTOVER_NODE_ID is unset. */
export function parseNodeConfig(env: Readonly<Record<string, string | undefined>>, hostname: string): NodeConfig {
  const e = parseEnv(env);
  const list = (value: string | undefined) =>
    (value ?? "")
      .split(",")
      .map((item) => item.trim())
      .filter(Boolean);
  const providers = list(e.CUTOVER_EXECUTION_PROVIDERS ?? "cpu");
  const unknown = providers.filter((provider) => !EXECUTION_PROVIDERS.has(provider));
  if (unknown.length > 0) {
    throw new ConfigError(
      `CUTOVER_EXECUTION_PROVIDERS: unknown provider(s) ${unknown.join(", ")} (use ${[...EXECUTION_PROVIDERS].join(", ")})`,
    );
  }
  const models = list(e.CUTOVER_MODELS);
  const badModel = models.find((model) => !/^[a-z0-9][a-z0-9._-]{0,62}$/.test(model) || model.includes(".."));
  if (badModel !== undefined) throw new ConfigError(`CUTOVER_MODELS: ${JSON.stringify(badModel)} is not a model name`);
  const port = e.CUTOVER_PORT ?? 8080;
  const http: HttpServerLimits = {
    requestTimeoutMs: e.CUTOVER_NODE_REQUEST_TIMEOUT_MS ?? DEFAULT_NODE_HTTP_LIMITS.requestTimeoutMs,
    headersTimeoutMs: e.CUTOVER_NODE_HEADERS_TIMEOUT_MS ?? DEFAULT_NODE_HTTP_LIMITS.headersTimeoutMs,
    keepAliveTimeoutMs: e.CUTOVER_NODE_KEEP_ALIVE_TIMEOUT_MS ?? DEFAULT_NODE_HTTP_LIMITS.keepAliveTimeoutMs,
    maxConnections: e.CUTOVER_NODE_MAX_CONNECTIONS ?? DEFAULT_NODE_HTTP_LIMITS.maxConnections,
  };
  // Node refuses a headers timeout longer than the request timeout when the server is made.
  if (http.headersTimeoutMs > http.requestTimeoutMs) {
    throw new ConfigError(
      `CUTOVER_NODE_HEADERS_TIMEOUT_MS (${http.headersTimeoutMs}) must not exceed CUTOVER_NODE_REQUEST_TIMEOUT_MS (${http.requestTimeoutMs})`,
    );
  }
  const nodeId = e.CUTOVER_NODE_ID ?? hostname.replace(/[^A-Za-z0-9._:-]/g, "-").slice(0, 128);
  return {
    ...parseArtifactConfig(env),
    ...parseStateConfig(env),
    nodeId,
    url: e.CUTOVER_NODE_URL ?? `http://${hostname}:${port}`,
    port,
    models,
    executionProviders: providers,
    ...(e.CUTOVER_INTRA_OP_THREADS ? { intraOpThreads: e.CUTOVER_INTRA_OP_THREADS } : {}),
    instances: e.CUTOVER_INSTANCES ?? "auto",
    workerNice: e.CUTOVER_WORKER_NICE ?? 10,
    maxBatch: e.CUTOVER_MAX_BATCH ?? 8,
    batchDelayUs: e.CUTOVER_BATCH_DELAY_US ?? 0,
    keepWarm: e.CUTOVER_KEEP_WARM ?? 1,
    replay: {
      maxRequests: e.CUTOVER_REPLAY_REQUESTS ?? DEFAULT_REPLAY.maxRequests,
      maxBytes: e.CUTOVER_REPLAY_MAX_BYTES ?? DEFAULT_REPLAY.maxBytes,
    },
    warmupSymbolicDim: e.CUTOVER_WARMUP_SYMBOLIC_DIM ?? 32,
    cacheSpare: e.CUTOVER_CACHE_SPARE ?? 2,
    fetchFanIn: e.CUTOVER_FETCH_FANIN ?? DEFAULT_FETCH_FANIN,
    resyncMs: e.CUTOVER_RESYNC_MS ?? 5_000,
    heartbeatTtlMs: e.CUTOVER_HEARTBEAT_TTL_MS ?? 15_000,
    maxRequestBytes: e.CUTOVER_MAX_REQUEST_BYTES ?? 16 * 1024 * 1024,
    http,
  };
}
